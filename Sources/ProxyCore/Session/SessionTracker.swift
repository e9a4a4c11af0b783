import SQLAnalysis

/// Follows what a client's queries do to its session, so that the session can follow the
/// client from server to server under transaction pooling: settings changed by SET/RESET
/// (kept on COMMIT, dropped on ROLLBACK, as PostgreSQL does), SQL-level prepared statements,
/// and statements whose effect cannot move between servers at all.
public struct SessionTracker: Sendable {
    /// Effect of one statement, applied when its CommandComplete arrives.
    public enum Effect: Sendable {
        case none
        case begin
        case commit
        case rollback
        case setting(name: String, value: SettingValue?)
        case resetAll
        case discardAll
        case prepare(name: String, text: String)
        case deallocate(name: String?)
    }

    /// Settings the client expects on any server.
    public var settings: SessionSettings
    /// SQL-level prepared statements of the client: name → its PREPARE statement.
    public private(set) var preparedStatements: [String: String] = [:]
    private var effects: [Effect] = []
    private var nextEffect = 0
    /// Setting changes made inside the open transaction block: kept only if it commits.
    private var uncommitted: [(String, SettingValue?)] = []
    private var blockOpen = false

    public init(settings: SessionSettings) { self.settings = settings }

    /// Session state a statement would leave on its server that pgstash cannot carry to
    /// another server; nil when there is none.
    public static func sessionBoundFeature(of s: StatementAnalysis) -> String? {
        switch s.kind {
        case .listen: return "LISTEN"
        case .declareCursor where s.cursorWithHold: return "DECLARE … WITH HOLD"
        default: break
        }
        if s.createsTemporaryTable { return "temporary tables" }
        // Taking a session-level lock leaves state behind; releasing one does not.
        if s.usesSessionAdvisoryLock && s.functions.contains(where: takesSessionAdvisoryLock) {
            return "session-level advisory locks"
        }
        if let p = s.preparedStatement, let f = sessionBoundFeature(of: p) { return f }
        return nil
    }

    static func takesSessionAdvisoryLock(_ function: String) -> Bool {
        let bare = function.hasPrefix("pg_catalog.") ? function.dropFirst("pg_catalog.".count) : Substring(function)
        return (bare.hasPrefix("pg_advisory_lock") || bare.hasPrefix("pg_try_advisory_lock")) && !bare.contains("_xact_")
    }

    /// A query is on its way to the server: note the effects of its statements, in order.
    public mutating func queryForwarded(_ statements: [StatementAnalysis]) {
        effects.append(contentsOf: statements.map(Self.effect))
    }

    /// An Execute is on its way: its portal's statement has this effect.
    public mutating func executeForwarded(_ effect: Effect) {
        effects.append(effect)
    }

    /// The effect of a statement when executed (for a Parse text: a single statement).
    public static func effect(_ s: StatementAnalysis) -> Effect {
        switch s.kind {
        case .begin: return .begin
        case .commit, .commitPrepared: return .commit
        case .rollback: return .rollback
        case .set, .reset:
            guard let st = s.setting, st.target == .variable, !st.isLocal else { return .none }
            if st.isResetAll { return .resetAll }
            guard let name = st.name else { return .none }
            if st.isReset || st.value?.uppercased() == "DEFAULT" { return .setting(name: name, value: nil) }
            guard let v = st.value else { return .none }
            return .setting(name: name, value: .sql(v))
        case .discard:
            return s.discardTarget == .all ? .discardAll : .none
        case .prepare:
            guard let name = s.preparedName else { return .none }
            return .prepare(name: name, text: s.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .deallocate:
            return .deallocate(name: s.preparedName)
        default:
            return .none
        }
    }

    /// What changed on the server, for the driver to mirror.
    public enum Change: Equatable, Sendable {
        case settings
        case prepared(name: String, text: String)
        case deallocated(name: String?)
    }

    /// The next statement of the current query completed with this tag.
    public mutating func commandCompleted(tag: String) -> [Change] {
        var e = Effect.none
        if nextEffect < effects.count {
            e = effects[nextEffect]
            nextEffect += 1
        }
        // The tag tells how a transaction ended even for queries that were not analysed.
        if case .none = e {
            if tag == "COMMIT" { return endBlock(committed: true) }
            if tag == "ROLLBACK" { return endBlock(committed: false) }
        }
        switch e {
        case .none: return []
        case .begin:
            blockOpen = true
            return []
        case .commit:
            // COMMIT of a failed transaction answers ROLLBACK.
            let committed = tag == "COMMIT"
            return endBlock(committed: committed)
        case .rollback:
            return endBlock(committed: false)
        case let .setting(name, value):
            if blockOpen { uncommitted.append((name, value)); return [] }
            apply(name, value)
            return [.settings]
        case .resetAll:
            if blockOpen { uncommitted.append(("", nil)); return [] }
            settings.resetAll()
            return [.settings]
        case .discardAll:
            settings.resetAll()
            preparedStatements.removeAll()
            return [.settings, .deallocated(name: nil)]
        case let .prepare(name, text):
            preparedStatements[name] = text
            return [.prepared(name: name, text: text)]
        case .deallocate(let name):
            if let name { preparedStatements[name] = nil } else { preparedStatements.removeAll() }
            return [.deallocated(name: name)]
        }
    }

    /// An error ended the current query: its remaining statements never ran.
    public mutating func errorReceived() {
        effects.removeAll(keepingCapacity: true)
        nextEffect = 0
    }

    /// ReadyForQuery ended the query; `status` says whether a transaction block is open.
    public mutating func readyForQuery(_ inTransaction: Bool) -> [Change] {
        effects.removeAll(keepingCapacity: true)
        nextEffect = 0
        if !inTransaction && blockOpen {
            // The block ended without a COMMIT we saw (e.g. an implicit rollback).
            blockOpen = false
            uncommitted.removeAll()
        }
        blockOpen = inTransaction
        return []
    }

    private mutating func endBlock(committed: Bool) -> [Change] {
        blockOpen = false
        defer { uncommitted.removeAll() }
        guard committed, !uncommitted.isEmpty else { return [] }
        for (name, value) in uncommitted {
            if name.isEmpty { settings.resetAll() } else { apply(name, value) }
        }
        return [.settings]
    }

    private mutating func apply(_ name: String, _ value: SettingValue?) {
        if let value { settings[name] = value } else { settings.reset(name) }
    }
}
