import ArgumentParser
import ProxyConfig

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pgstash check`: loads the configuration exactly as the proxy would and reports every error.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate proxy.conf: prints file:line: message per error, exits 1 on any.")

    @Option(name: .long, help: "Path of proxy.conf.")
    var config: String

    @Option(name: .customShort("c"), help: "Override a setting: -c section.key=value (repeatable).")
    var set: [String] = []

    @Option(name: .long, help: "Listen address HOST:PORT, overriding [listen] host and port.")
    var listen: String?

    func run() throws {
        do {
            let loaded = try ConfigLoader.load(path: config, overrides: set, listen: listen)
            print("\(config): OK (\(loaded.summary))")
        } catch {
            Self.writeToStandardError(error.description + "\n")
            throw ExitCode(1)
        }
    }

    private static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
