import ArgumentParser

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze", abstract: "Print pgstash's analysis of SQL (argument or stdin).")

    @Flag(name: .long, help: "Print a JSON array, one object per statement.")
    var json = false

    @Argument(help: "The SQL; read from standard input when omitted.")
    var sql: String?

    func run() throws {
        throw ValidationError("analyze is not wired yet")
    }
}
