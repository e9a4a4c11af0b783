/// A session setting's value as pgstash replays it with SET.
public enum SettingValue: Hashable, Sendable {
    /// A plain string (from a startup parameter or a ParameterStatus report): quoted on replay.
    case literal(String)
    /// SQL text as the client wrote it after `SET name TO` (e.g. `app, public`): replayed as is.
    case sql(String)

    public var sqlText: String {
        switch self {
        case .literal(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .sql(let s): return s
        }
    }
}

/// The session settings a client expects on whatever server it runs on (under transaction
/// pooling a client's next transaction may run on another server), and the statements that
/// bring a server from what it has to what the client wants.
public struct SessionSettings: Equatable, Sendable {
    /// Lower-cased setting name → value. Absent: the server's default.
    public private(set) var values: [String: SettingValue] = [:]

    public init() {}

    /// Startup parameters that are settings (everything but user, database, options and
    /// replication); `options` may carry `-c name=value` pairs too.
    public init(startupParameters: [(String, String)]) {
        for (k, v) in startupParameters {
            switch k {
            case "user", "database", "replication": continue
            case "options":
                for (name, value) in Self.parseOptions(v) { values[name.lowercased()] = .literal(value) }
            default:
                values[k.lowercased()] = .literal(v)
            }
        }
    }

    public subscript(name: String) -> SettingValue? {
        get { values[name.lowercased()] }
        set { values[name.lowercased()] = newValue }
    }

    public mutating func reset(_ name: String) { values[name.lowercased()] = nil }
    public mutating func resetAll() { values.removeAll() }

    /// SQL that turns a server with `applied` settings into one with these, or nil when
    /// nothing differs. Settings the client never set are RESET to the server's default.
    public func statements(from applied: SessionSettings) -> String? {
        var parts: [String] = []
        for (k, v) in values.sorted(by: { $0.key < $1.key }) where applied.values[k] != v {
            switch v {
            case .literal(let text):
                // set_config parses the string as PostgreSQL parses a startup value, so a
                // list setting (search_path=app,public) stays a list.
                parts.append("SELECT pg_catalog.set_config(\(SettingValue.literal(k).sqlText), \(SettingValue.literal(text).sqlText), false)")
            case .sql(let text):
                parts.append("SET \(Self.quoteName(k)) TO \(text)")
            }
        }
        for k in applied.values.keys.sorted() where values[k] == nil {
            parts.append("RESET \(Self.quoteName(k))")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Setting names are identifiers, possibly dotted (custom settings such as `app.user`):
    /// every part is quoted, since a part may be a reserved word (`user`, `order`).
    static func quoteName(_ name: String) -> String {
        name.split(separator: ".", omittingEmptySubsequences: false).map { part in
            "\"" + part.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ".")
    }

    /// `-c name=value` / `--name=value` pairs of the `options` startup parameter.
    static func parseOptions(_ options: String) -> [(String, String)] {
        var words: [String] = []
        var cur = ""
        var escaped = false
        for ch in options {
            if escaped { cur.append(ch); escaped = false }
            else if ch == "\\" { escaped = true }
            else if ch.isWhitespace { if !cur.isEmpty { words.append(cur); cur = "" } }
            else { cur.append(ch) }
        }
        if !cur.isEmpty { words.append(cur) }
        var out: [(String, String)] = []
        var i = 0
        while i < words.count {
            var w = words[i]
            if w == "-c", i + 1 < words.count { i += 1; w = words[i] }
            else if w.hasPrefix("-c") { w = String(w.dropFirst(2)) }
            else if w.hasPrefix("--") { w = String(w.dropFirst(2)) }
            if let eq = w.firstIndex(of: "=") {
                out.append((String(w[..<eq]).replacingOccurrences(of: "-", with: "_"), String(w[w.index(after: eq)...])))
            }
            i += 1
        }
        return out
    }
}
