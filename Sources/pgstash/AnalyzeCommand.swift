import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CachePolicy
import Proxy
import ProxyConfig
import SQLAnalysis

/// `pgstash analyze [--json] [--config proxy.conf [--database NAME] [-c k=v]] "SQL"`: prints
/// the analysis the proxy would make of the SQL; with a configuration, also what the result
/// cache would do with it (the rule, tier, TTL and tags, or why it is not cached; for a write,
/// what it invalidates), against the database's catalog read from PostgreSQL.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze", abstract: "Print pgstash's analysis of SQL (argument or stdin).")

    @Flag(name: .long, help: "Print a JSON array, one object per statement.")
    var json = false

    @Option(name: .long, help: "A proxy.conf: also say how the result cache treats the SQL (reads the database's catalog).")
    var config: String?

    @Option(name: .long, help: "The database of the configuration (default: the first one).")
    var database: String?

    @Option(name: [.customShort("c"), .long], help: "Override a configuration key (key=value), as for the proxy.")
    var set: [String] = []

    /// `.allUnrecognized` so that SQL starting with a `--` comment is taken as SQL, not as an option.
    @Argument(parsing: .allUnrecognized, help: "The SQL; read from standard input when omitted.")
    var sql: [String] = []

    func run() throws {
        let words = sql.first == "--" ? Array(sql.dropFirst()) : sql
        let text = words.isEmpty ? readStandardInput() : words.joined(separator: " ")
        let analysis = SQLAnalyzer.analyze(text)
        if case .error = analysis {
            // The parser's message and position go to stderr; --json also gets the error object.
            if json { print(renderJSON(analysis)) }
            FileHandleOutput.standardError(renderText(analysis))
            throw ExitCode(1)
        }
        print(json ? renderJSON(analysis) : renderText(analysis))
        if let config { try explainCache(analysis, configPath: config) }
    }

    /// The cache's verdict, against the catalog of the configured database.
    private func explainCache(_ analysis: Analysis, configPath: String) throws {
        let cfg: ProxyConfiguration
        do { cfg = try ConfigLoader.load(path: configPath, overrides: set) } catch {
            FileHandleOutput.standardError("\(error)")
            throw ExitCode(2)
        }
        guard let name = database ?? cfg.databases.keys.sorted().first, let db = cfg.databases[name] else {
            FileHandleOutput.standardError("pgstash analyze: no database \(database ?? "") in \(configPath)")
            throw ExitCode(2)
        }
        let user = db.user ?? cfg.auth.users.keys.sorted().first ?? "postgres"
        guard let params = CatalogConnectionParameters(database: name, in: cfg, clientUser: user) else { throw ExitCode(2) }
        let catalog: CatalogSnapshot
        switch CatalogLoader.loadBlocking(params) {
        case .success(let c): catalog = c
        case .failure(let e):
            FileHandleOutput.standardError("pgstash analyze: cannot read the catalog of \(name): \(e)")
            throw ExitCode(1)
        }
        let policy = CachePolicy(config: cfg.cache)
        let session = SessionContext(database: name, role: user)
        print("")
        print("cache (database \(name), role \(user), default settings):")
        switch policy.decide(analysis, session: session, catalog: catalog) {
        case .cache(let plan):
            print("  cached by rule \"\(plan.rule)\", tier \(plan.tier), TTL \(Int(plan.ttl)) s\(plan.shared ? ", shared across roles" : "")")
            print("  depends on: epoch, " + plan.tags.map { describe($0, catalog) }.joined(separator: ", "))
        case .bypass(let reason):
            print("  not cached: \(reason)")
        }
        let writes = policy.writeSet(analysis, session: session, catalog: catalog)
        if let reason = writes.epochReason {
            print("  when it commits, invalidates every entry of the database: \(reason)")
        } else if !writes.isEmpty {
            print("  when it commits, invalidates: " + writes.sortedTags.map { describe($0, catalog) }.joined(separator: ", "))
        }
    }

    private func describe(_ tag: InvalidationTag, _ catalog: CatalogSnapshot) -> String {
        let table = catalog.relation(tag.relation)?.qualifiedName ?? "relation \(tag.relation)"
        switch tag.scope {
        case .rows: return "\(table) (rows)"
        case .allColumns: return "\(table) (any column)"
        case .column(let c): return "\(table).\(c)"
        }
    }

    private func readStandardInput() -> String {
        var lines: [String] = []
        while let line = readLine(strippingNewline: false) { lines.append(line) }
        return lines.joined()
    }
}

/// Writes a line to standard error without Foundation.
private enum FileHandleOutput {
    static func standardError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
