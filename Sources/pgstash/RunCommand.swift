import ArgumentParser

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the proxy in the foreground (the default).")

    @Option(name: .long, help: "Path of proxy.conf.")
    var config: String?

    @Option(name: .customShort("c"), help: "Override a setting: -c section.key=value (repeatable).")
    var set: [String] = []

    @Option(name: .long, help: "Listen address HOST:PORT (with --upstream, no config file needed).")
    var listen: String?

    @Option(name: .long, help: "Upstream postgresql://USER:PASSWORD@HOST:PORT/DB.")
    var upstream: String?

    func run() throws {
        throw ValidationError("the proxy is not wired yet")
    }
}
