import ArgumentParser

/// The `pgstash` command: runs the proxy by default; `check` and `analyze` are tools.
@main
struct PgStash: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "pgstash",
        abstract: "A PostgreSQL wire-protocol caching proxy with transaction pooling.",
        version: "pgstash \(version)",
        subcommands: [RunCommand.self, CheckCommand.self, AnalyzeCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
