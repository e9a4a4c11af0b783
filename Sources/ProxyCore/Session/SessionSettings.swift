import Synchronization

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
    public private(set) var values: [String: SettingValue] = [:] {
        didSet {
            // The interned copy, as at startup: a change that ends where another client's
            // settings are (a SET and its RESET, a reported parameter) shares their storage.
            identity = Self.identity(of: values)
            values = identity.values
        }
    }
    /// Shared by every `SessionSettings` whose values are equal (while the intern table has
    /// room): comparing a client's settings with its new server's, once per lease, is then
    /// one pointer comparison instead of a dictionary comparison.
    private var identity = Self.emptyIdentity
    /// What RESET returns to: the startup packet's values ("the value the parameter would
    /// have had if no SET had been executed in the current session").
    public private(set) var defaults: [String: SettingValue] = [:]

    /// Settings RESET ALL leaves alone (GUC_NO_RESET_ALL): the role and the session user.
    public static let keptByResetAll: Set<String> = ["role", "session_authorization"]
    /// Replayed first, in this order: changing the session user resets what depends on it.
    static let replayFirst = ["session_authorization", "role"]

    public init() {}

    /// Two sessions are alike when their settings are: the defaults only say where RESET goes.
    public static func == (a: SessionSettings, b: SessionSettings) -> Bool {
        a.identity === b.identity || a.values == b.values
    }

    /// The same storage, reference for reference: copying `other` over `self` would change
    /// nothing. Cheaper than the copy it saves (three retains and three releases), which the
    /// end of every pooled transaction would otherwise pay. Compares the three references'
    /// bits: neither value is copied, so nothing is retained either.
    public func isIdentical(to other: SessionSettings) -> Bool {
        identity === other.identity && Self.storage(values) == Self.storage(other.values)
            && Self.storage(defaults) == Self.storage(other.defaults)
    }

    /// A dictionary's storage reference as an integer (a dictionary is one reference wide).
    @inline(__always)
    private static func storage(_ d: [String: SettingValue]) -> UInt {
        unsafeBitCast(d, to: UInt.self)
    }

    /// `self = other`, skipped when they are already identical.
    public mutating func adopt(_ other: SessionSettings) {
        if !isIdentical(to: other) { self = other }
    }

    /// What `identity` points to; compared by reference. It keeps the first copy of its
    /// values, which clients that start with the same parameters share (see `adopt`).
    final class Identity: Sendable {
        let values: [String: SettingValue]
        init(values: [String: SettingValue]) { self.values = values }
    }

    private static let emptyIdentity = identity(of: [:])
    /// Values seen so far → their identity. Bounded: beyond `internLimit` distinct value
    /// sets (clients that SET many different values), new ones get an identity of their own,
    /// and `==` falls back to comparing values.
    static let interned = Mutex<[[String: SettingValue]: Identity]>([:])
    static let internLimit = 4096

    private static func identity(of values: [String: SettingValue]) -> Identity {
        interned.withLock { table in
            if let known = table[values] { return known }
            let fresh = Identity(values: values)
            if table.count < internLimit { table[values] = fresh }
            return fresh
        }
    }

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
        identity = Self.identity(of: values)
        // The interned copy: clients that start alike share storage, so a server handed from
        // one to the next adopts their settings without copying (`isIdentical`).
        values = identity.values
        defaults = values
    }

    public subscript(name: String) -> SettingValue? {
        get { values[name.lowercased()] }
        set { values[name.lowercased()] = newValue }
    }

    /// `RESET name`: back to the session's default.
    public mutating func reset(_ name: String) {
        let k = name.lowercased()
        values[k] = defaults[k]
    }

    /// `RESET ALL`: every setting back to its session default but the role and session user.
    public mutating func resetAll() {
        var v = defaults
        for k in Self.keptByResetAll { v[k] = values[k] }
        values = v
    }

    /// `DISCARD ALL` (`SET SESSION AUTHORIZATION DEFAULT; RESET ALL`): everything back.
    public mutating func discardAll() { values = defaults }

    /// SQL that turns a server with `applied` settings into one with these, or nil when
    /// nothing differs. Settings the client never set are RESET to the server's default.
    public func statements(from applied: SessionSettings) -> String? {
        var parts: [String] = []
        func replay(_ k: String, _ v: SettingValue) {
            switch v {
            case .literal(let text):
                // set_config parses the string as PostgreSQL parses a startup value, so a
                // list setting (search_path=app,public) stays a list.
                parts.append("SELECT pg_catalog.set_config(\(SettingValue.literal(k).sqlText), \(SettingValue.literal(text).sqlText), false)")
            case .sql(let text):
                // The value is the client's text up to its statement's end: a trailing
                // `-- comment` must not swallow what follows, hence the line break.
                parts.append("SET \(Self.quoteName(k)) TO \(text)\n")
            }
        }
        for k in Self.replayFirst {
            if let v = values[k] {
                if applied.values[k] != v { replay(k, v) }
            } else if applied.values[k] != nil {
                parts.append("RESET \(Self.quoteName(k))")
            }
        }
        for (k, v) in values.sorted(by: { $0.key < $1.key }) where applied.values[k] != v && !Self.replayFirst.contains(k) {
            replay(k, v)
        }
        for k in applied.values.keys.sorted() where values[k] == nil && !Self.replayFirst.contains(k) {
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
