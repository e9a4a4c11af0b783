import ArgumentParser

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate proxy.conf: prints file:line: message per error, exits 1 on any.")

    @Option(name: .long, help: "Path of proxy.conf.")
    var config: String

    @Option(name: .customShort("c"), help: "Override a setting: -c section.key=value (repeatable).")
    var set: [String] = []

    func run() throws {
        throw ValidationError("check is not wired yet")
    }
}
