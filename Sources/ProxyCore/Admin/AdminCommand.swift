import SQLAnalysis

/// What a console command shows (`SHOW …`).
public enum AdminShowTarget: String, CaseIterable, Sendable, Equatable {
    case pools, stats, clients, servers, databases, config, version, lists, rules, queries, help
    /// The result cache per rule (`SHOW CACHE`) and its state and reasons (`SHOW CACHE STATUS`).
    case cache, cacheStatus = "cache status"
    /// The statements not served from the cache that cost PostgreSQL the most time, each with
    /// a `[[cache.rules]]` block to paste or the reason it cannot be cached (`SHOW CACHE ADVICE`).
    case cacheAdvice = "cache advice"
}

/// What `INVALIDATE` invalidates.
public enum AdminInvalidation: Sendable, Equatable {
    /// One relation, as written (`orders`, `app.orders`, `"Order Items"`).
    case table(TableName)
    /// Every entry: the database's epoch.
    case all
}

/// One admin console command, parsed from the text a client sent to the virtual database
/// `pgstash` (PgBouncer's console grammar: a keyword, an optional argument, an optional `;`).
public enum AdminCommand: Sendable, Equatable, CustomStringConvertible {
    case show(AdminShowTarget)
    /// Re-read `proxy.conf`, as SIGHUP does.
    case reload
    /// Hold new transactions of one database (nil: all) once the running ones finish.
    case pause(database: String?)
    /// Release what `pause` (or `kill`) held.
    case resume(database: String?)
    /// Stop accepting; exit once open transactions finish (as SIGTERM).
    case shutdown
    /// Drop every client and server of a database, and hold new ones until `resume`.
    case kill(database: String)
    /// What the result cache does with `sql` on `database` (nil: the first configured one).
    case explainCache(database: String?, sql: String)
    /// Bumps a relation's tags, or the epoch, of `database` (nil: the first database for a
    /// table, every database for ALL) in Redis: every instance sharing it sees the bump.
    case invalidate(AdminInvalidation, database: String?)

    /// The command as it is written (for logs).
    public var description: String {
        switch self {
        case .show(let t): return "SHOW \(t.rawValue.uppercased())"
        case .pause(let db): return db.map { "PAUSE \($0)" } ?? "PAUSE"
        case .resume(let db): return db.map { "RESUME \($0)" } ?? "RESUME"
        case .kill(let db): return "KILL \(db)"
        case .explainCache(let db, let sql): return "EXPLAIN CACHE " + (db.map { "ON \($0) " } ?? "") + sql
        case .invalidate(let target, let db):
            let what: String
            switch target {
            case .table(let t): what = t.description
            case .all: what = "ALL"
            }
            return "INVALIDATE \(what)" + (db.map { " ON \($0)" } ?? "")
        default: return tag
        }
    }

    /// The CommandComplete tag (PgBouncer's: `SHOW`, `PAUSE`…).
    public var tag: String {
        switch self {
        case .show: return "SHOW"
        case .reload: return "RELOAD"
        case .pause: return "PAUSE"
        case .resume: return "RESUME"
        case .shutdown: return "SHUTDOWN"
        case .kill: return "KILL"
        case .explainCache: return "EXPLAIN"
        case .invalidate: return "INVALIDATE"
        }
    }
}

/// An error the console reports as an ErrorResponse (severity ERROR: the session goes on).
public struct AdminError: Error, Sendable, Equatable {
    public var sqlState: String
    public var message: String
    public var hint: String?
    public init(_ sqlState: String, _ message: String, hint: String? = nil) {
        self.sqlState = sqlState; self.message = message; self.hint = hint
    }
}

/// SQLSTATEs the console uses.
public enum AdminSQLState {
    /// An unknown command or a malformed argument.
    public static let syntaxError = "42601"
    public static let featureNotSupported = "0A000"
    /// `PAUSE`/`KILL`/`RESUME` of a database pgstash does not serve.
    public static let invalidCatalogName = "3D000"
    /// `RESUME` while nothing is paused, `PAUSE` while already paused, `RELOAD` without a file.
    public static let objectNotInPrerequisiteState = "55000"
    /// `RELOAD` of an invalid file (the running configuration stays).
    public static let configFileError = "F0000"
    /// Parameters given to a console statement (none take any).
    public static let protocolViolation = "08P01"
    public static let invalidStatementName = "26000"
    public static let invalidCursorName = "34000"
    /// `INVALIDATE` of a relation the catalog snapshot does not have.
    public static let undefinedTable = "42P01"
    /// A non-admin user connecting to `pgstash`.
    public static let invalidAuthorization = "28000"
}

extension AdminCommand {
    /// Every command, one line each: the help text of unknown-command errors and `SHOW HELP`.
    public static let usage: [(command: String, description: String)] = [
        ("SHOW POOLS", "clients and servers of each pool, by state"),
        ("SHOW STATS", "transactions, queries, bytes and times per database"),
        ("SHOW CLIENTS", "one row per client connection"),
        ("SHOW SERVERS", "one row per upstream server connection"),
        ("SHOW DATABASES", "the configured databases and their pool settings"),
        ("SHOW CONFIG", "every setting, its value and default"),
        ("SHOW VERSION", "the pgstash version"),
        ("SHOW LISTS", "counts of databases, users, pools, clients, servers"),
        ("SHOW RULES", "the [[cache.rules]] of proxy.conf"),
        ("SHOW QUERIES", "per normalized statement: calls, total and p50/p99 time, rows, errors"),
        ("SHOW CACHE", "the result cache per rule: hits, misses, hit ratio, fills, bytes stored"),
        ("SHOW CACHE STATUS", "Redis, membership, publications, bypasses by reason, fill refusals"),
        ("SHOW CACHE ADVICE", "uncached statements by time spent in PostgreSQL: the rule to add, or why they cannot be cached"),
        ("EXPLAIN CACHE [ON db] sql[; sql…]", "the rule, TTL, key parts and tags of sql, or why it is not cached (the last of a script)"),
        ("INVALIDATE table | ALL [ON db]", "invalidate a table's cached results (ALL: every result) on every instance"),
        ("SHOW HELP", "this list"),
        ("RELOAD", "re-read proxy.conf (as SIGHUP)"),
        ("PAUSE [db]", "hold new transactions once running ones finish"),
        ("RESUME [db]", "release held transactions"),
        ("KILL db", "drop every client and server of db; hold new ones until RESUME"),
        ("SHUTDOWN", "stop accepting; exit once open transactions finish"),
    ]

    /// The command list as one line, for error hints.
    static var usageLine: String { usage.map(\.command).joined(separator: ", ") }

    /// Parses one command. Keywords are matched without regard to case; a database name is
    /// taken as written (double quotes removed, `""` inside is one quote).
    public static func parse(_ text: String) -> Result<AdminCommand, AdminError> {
        var s = Substring(text).trimmingWhitespace()
        while s.hasSuffix(";") { s = s.dropLast().trimmingWhitespace() }
        let words = s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        let unknown = AdminError(AdminSQLState.syntaxError, "invalid command '\(s)'",
                                 hint: "The admin console knows: \(usageLine).")
        guard let first = words.first?.uppercased() else { return .failure(unknown) }
        let rest = words.dropFirst()
        let argument: String? = rest.isEmpty ? nil : rest.joined(separator: " ")
        switch first {
        case "SHOW":
            guard let what = argument?.uppercased() else { return .failure(unknown) }
            if what == "CACHE ADVICE" { return .success(.show(.cacheAdvice)) }
            if what == "CACHE STATUS" { return .success(.show(.cacheStatus)) }
            guard rest.count == 1, let target = AdminShowTarget(rawValue: what.lowercased()) else {
                return .failure(unknown)
            }
            return .success(.show(target))
        case "EXPLAIN" where rest.first?.uppercased() == "CACHE":
            return parseExplainCache(s)
        case "INVALIDATE":
            return parseInvalidate(Array(rest.map(String.init)))
        case "RELOAD", "SHUTDOWN":
            guard argument == nil else { return .failure(unknown) }
            return .success(first == "RELOAD" ? .reload : .shutdown)
        case "PAUSE", "RESUME", "KILL":
            var name: String?
            if let argument {
                guard rest.count == 1 || argument.hasPrefix("\"") else { return .failure(unknown) }
                guard let n = identifier(argument) else {
                    return .failure(AdminError(AdminSQLState.syntaxError, "invalid database name \(argument)"))
                }
                name = n
            }
            if first == "PAUSE" { return .success(.pause(database: name)) }
            if first == "RESUME" { return .success(.resume(database: name)) }
            guard let name else {
                return .failure(AdminError(AdminSQLState.syntaxError, "KILL needs a database name",
                                           hint: "KILL db drops every client and server of db."))
            }
            return .success(.kill(database: name))
        default:
            return .failure(unknown)
        }
    }

    /// `EXPLAIN CACHE [ON db] sql`: the SQL is kept exactly as written (it is keyed as text).
    static func parseExplainCache(_ s: Substring) -> Result<AdminCommand, AdminError> {
        var rest = s.dropFirst("EXPLAIN".count).trimmingWhitespace().dropFirst("CACHE".count)
        let usage = "EXPLAIN CACHE [ON db] SELECT … explains what the result cache does with the SQL."
        guard rest.first.map(isSpace) ?? false else {
            return .failure(AdminError(AdminSQLState.syntaxError, "EXPLAIN CACHE needs a statement", hint: usage))
        }
        rest = rest.trimmingWhitespace()
        var database: String?
        if rest.prefix(3).uppercased() == "ON ", let (name, after) = leadingIdentifier(rest.dropFirst(3).trimmingWhitespace()) {
            database = name
            rest = after.trimmingWhitespace()
        }
        guard !rest.isEmpty else {
            return .failure(AdminError(AdminSQLState.syntaxError, "EXPLAIN CACHE needs a statement", hint: usage))
        }
        return .success(.explainCache(database: database, sql: String(rest)))
    }

    /// `INVALIDATE table | ALL [ON db]`.
    static func parseInvalidate(_ words: [String]) -> Result<AdminCommand, AdminError> {
        let usage = AdminError(AdminSQLState.syntaxError, "INVALIDATE needs a table name or ALL",
                               hint: "INVALIDATE orders, INVALIDATE app.orders ON db, INVALIDATE ALL [ON db].")
        var words = words
        var database: String?
        if words.count >= 3, words[words.count - 2].uppercased() == "ON" {
            guard let name = identifier(words.last!) else { return .failure(usage) }
            database = name
            words.removeLast(2)
        }
        guard !words.isEmpty else { return .failure(usage) }
        let target = words.joined(separator: " ")
        if target.uppercased() == "ALL" { return .success(.invalidate(.all, database: database)) }
        guard let table = tableName(target) else { return .failure(usage) }
        return .success(.invalidate(.table(table), database: database))
    }

    /// `name`, `schema.name`, either part double-quoted (kept as written) or bare (folded to
    /// lower case, as PostgreSQL reads an identifier).
    static func tableName(_ text: String) -> TableName? {
        var parts: [String] = []
        var rest = Substring(text)
        while true {
            guard let (part, after) = leadingIdentifier(rest, fold: true) else { return nil }
            parts.append(part)
            if after.isEmpty { break }
            guard after.first == ".", parts.count < 2 else { return nil }
            rest = after.dropFirst()
        }
        return parts.count == 2 ? TableName(schema: parts[0], name: parts[1]) : TableName(name: parts[0])
    }

    /// The identifier at the start of `s` (double-quoted, or up to a space or `.`) and what follows it.
    static func leadingIdentifier(_ s: Substring, fold: Bool = false) -> (String, Substring)? {
        if s.first == "\"" {
            var i = s.index(after: s.startIndex)
            var out = ""
            while i < s.endIndex {
                if s[i] == "\"" {
                    let next = s.index(after: i)
                    if next < s.endIndex, s[next] == "\"" { out.append("\""); i = s.index(after: next); continue }
                    return out.isEmpty ? nil : (out, s[next...])
                }
                out.append(s[i])
                i = s.index(after: i)
            }
            return nil
        }
        let end = s.firstIndex { isSpace($0) || $0 == "." || $0 == "\"" } ?? s.endIndex
        guard end > s.startIndex else { return nil }
        let word = String(s[..<end])
        return (fold ? word.lowercased() : word, s[end...])
    }

    static func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }

    /// Splits a simple Query's text at `;` outside double and single quotes (an `EXPLAIN
    /// CACHE` statement may hold string literals); empty pieces are dropped.
    public static func statements(in text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        var literal = false
        for c in text {
            if c == "\"" && !literal { quoted.toggle() }
            if c == "'" && !quoted { literal.toggle() }
            if c == ";" && !quoted && !literal {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        out.append(current)
        return out.filter { !Substring($0).trimmingWhitespace().isEmpty }
    }

    /// The commands of a simple Query's text: `statements(in:)`, except that `EXPLAIN CACHE`
    /// takes the rest of the text as its script (`EXPLAIN CACHE BEGIN; UPDATE t …; SELECT …
    /// FROM t`), so it is the last command of a query string.
    public static func commands(in text: String) -> [String] {
        let pieces = statements(in: text)
        guard let i = pieces.firstIndex(where: isExplainCache) else { return pieces }
        return Array(pieces[..<i]) + [pieces[i...].joined(separator: ";")]
    }

    private static func isExplainCache(_ piece: String) -> Bool {
        let words = piece.split(whereSeparator: { isSpace($0) }).prefix(2).map { $0.uppercased() }
        return words == ["EXPLAIN", "CACHE"]
    }

    /// A bare name, or a double-quoted one with `""` for a quote.
    static func identifier(_ s: String) -> String? {
        guard s.hasPrefix("\"") else { return s.isEmpty ? nil : s }
        guard s.count >= 2, s.hasSuffix("\"") else { return nil }
        let inner = s.dropFirst().dropLast()
        var out = ""
        var i = inner.startIndex
        while i < inner.endIndex {
            let c = inner[i]
            if c == "\"" {
                let next = inner.index(after: i)
                guard next < inner.endIndex, inner[next] == "\"" else { return nil }
                i = inner.index(after: next)
            } else {
                i = inner.index(after: i)
            }
            out.append(c)
        }
        return out.isEmpty ? nil : out
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !ws($0) }) else { return self[endIndex...] }
        let end = lastIndex(where: { !ws($0) })!
        return self[start...end]
    }
}
