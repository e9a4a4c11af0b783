import PostgresWire
import SQLAnalysis

/// Effect of one statement on its session, applied when its CommandComplete arrives.
public enum SessionEffect: Sendable, Equatable {
    case none
    case setting(name: String, value: SettingValue?)
    /// Several settings at once (`SET SESSION CHARACTERISTICS AS TRANSACTION …`).
    case settings([String: SettingValue])
    case resetAll
    case discardAll
    case savepoint(String)
    case rollbackToSavepoint(String)
    case releaseSavepoint(String)
    case prepare(name: String, text: String)
    case deallocate(name: String?)
    /// LISTEN / UNLISTEN (nil: `UNLISTEN *`): transactional, like settings.
    case listen(String)
    case unlisten(String?)
    /// Statements that release what pins a client to its server, when they commit.
    case dropTables([String])
    case closeCursor(String?)
    case discardTemp
    case advisoryUnlockAll
    /// Not a client statement: pgstash's own error raised through the server (the
    /// ErrorResponse is shown without the raising block's context).
    case raisedError
    /// Not a client statement: the settings replayed on a newly leased server. The client's
    /// messages wait for its ReadyForQuery; a failure ends the client (it must not run with
    /// another session's settings or role).
    case settingsReplay
}

/// Follows what a client's statements do to its session, so that the session can follow the
/// client from server to server under transaction pooling. Settings are transactional in
/// PostgreSQL: a SET takes effect at once but is kept only if its transaction — explicit or
/// implicit — commits, and a ROLLBACK TO SAVEPOINT undoes the SETs made after the savepoint.
/// SQL-level prepared statements are not transactional.
public struct SessionTracker: Sendable {
    /// Settings the client has once its open transaction, if any, ends: what it expects on
    /// any server at its next transaction.
    public private(set) var settings: SessionSettings
    /// SQL-level prepared statements of the client: name → its PREPARE statement.
    public private(set) var preparedStatements: [String: String] = [:]
    /// Changes made in the current transaction: kept only if it commits. A savepoint is a
    /// marker (name, nil change).
    private var uncommitted: [(savepoint: String?, change: SessionEffect)] = []
    /// An error aborted the current transaction (or the open block until ROLLBACK [TO]).
    private var failed = false
    /// The current transaction was rolled back (ROLLBACK, or COMMIT of a failed block).
    private var rolledBack = false
    /// Whether the transaction that ended at the last ReadyForQuery 'I' committed.
    public private(set) var lastTransactionCommitted = true

    public init(settings: SessionSettings) { self.settings = settings }

    /// Session state a statement would leave on its server that pgstash cannot carry to
    /// another server; nil when there is none.
    public static func sessionBoundFeature(of s: StatementAnalysis, listenRelay: Bool = false) -> String? {
        switch s.kind {
        case .listen where !listenRelay: return "LISTEN"
        case .declareCursor where s.cursorWithHold: return "DECLARE … WITH HOLD"
        case .do where s.doBodyMayChangeSession: return "a DO block that may LISTEN, create temporary tables or take session locks"
        default: break
        }
        if s.createsTemporaryTable { return "temporary tables" }
        // Taking a session-level lock leaves state behind; releasing one does not.
        if s.usesSessionAdvisoryLock && s.functions.contains(where: takesSessionAdvisoryLock) {
            return "session-level advisory locks"
        }
        if s.setsSessionConfig {
            return "set_config(…, false)"
        }
        if let p = s.preparedStatement, let f = sessionBoundFeature(of: p, listenRelay: listenRelay) { return f }
        return nil
    }

    static func takesSessionAdvisoryLock(_ function: String) -> Bool {
        let bare = function.hasPrefix("pg_catalog.") ? function.dropFirst("pg_catalog.".count) : Substring(function)
        return (bare.hasPrefix("pg_advisory_lock") || bare.hasPrefix("pg_try_advisory_lock")) && !bare.contains("_xact_")
    }

    /// The effect of a statement when executed (for a Parse text: a single statement).
    public static func effect(_ s: StatementAnalysis) -> SessionEffect {
        switch s.kind {
        case .savepoint: return s.transactionName.map { .savepoint($0) } ?? .none
        case .rollbackToSavepoint: return s.transactionName.map { .rollbackToSavepoint($0) } ?? .none
        case .release: return s.transactionName.map { .releaseSavepoint($0) } ?? .none
        case .set, .reset:
            guard let st = s.setting, !st.isLocal else { return .none }
            switch st.target {
            case .transaction: return .none
            case .sessionCharacteristics:
                // pgjdbc's setTransactionIsolation: the session's transaction defaults.
                guard let o = st.transactionOptions else { return .none }
                var v: [String: SettingValue] = [:]
                if let l = o.isolationLevel { v["default_transaction_isolation"] = .literal(l.rawValue) }
                if let r = o.readOnly { v["default_transaction_read_only"] = .literal(r ? "on" : "off") }
                if let d = o.deferrable { v["default_transaction_deferrable"] = .literal(d ? "on" : "off") }
                return v.isEmpty ? .none : .settings(v)
            case .variable:
                if st.isResetAll { return .resetAll }
                guard let name = st.name else { return .none }
                if st.isReset || st.value?.uppercased() == "DEFAULT" { return .setting(name: name, value: nil) }
                guard let v = st.value else { return .none }
                return .setting(name: name, value: .sql(v))
            }
        case .discard:
            switch s.discardTarget {
            case .all?: return .discardAll
            case .temp?: return .discardTemp
            default: return .none
            }
        case .listen: return s.channel.map { .listen($0) } ?? .none
        case .unlisten: return .unlisten(s.channel)
        case .closeCursor: return .closeCursor(s.cursorName)
        case .ddl where s.nodeType == "DropStmt" && !s.tablesWritten.isEmpty:
            return .dropTables(s.tablesWritten.map(\.name))
        case .select where s.functions.contains("pg_advisory_unlock_all") || s.functions.contains("pg_catalog.pg_advisory_unlock_all"):
            return .advisoryUnlockAll
        case .prepare:
            guard let name = s.preparedName else { return .none }
            return .prepare(name: name, text: s.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .deallocate:
            return .deallocate(name: s.preparedName)
        default:
            return .none
        }
    }

    /// What changed, for the driver to mirror: on the server (prepared statements), and what
    /// the client's committed statements did (LISTEN, releases of what pins it).
    public enum Change: Equatable, Sendable {
        case prepared(name: String, text: String)
        case deallocated(name: String?)
        case listened(String)
        case unlistened(String?)
        case tablesDropped([String])
        case cursorClosed(String?)
        case temporaryTablesDiscarded
        case advisoryLocksReleased
        /// DISCARD ALL: every temporary table, cursor, lock and LISTEN is gone.
        case discardedAll
    }

    /// A statement completed with this tag; `effect` is what the statement does.
    public mutating func commandCompleted(tag: String, effect: SessionEffect) -> [Change] {
        switch tag {
        case "COMMIT", "PREPARE TRANSACTION":
            return commit()
        case "ROLLBACK" where effect == .none:
            // ROLLBACK / ABORT (ROLLBACK TO SAVEPOINT carries its effect).
            uncommitted.removeAll()
            failed = false
            rolledBack = true
            return []
        default: break
        }
        switch effect {
        case .none: return []
        case .setting, .settings, .resetAll, .listen, .unlisten, .dropTables, .closeCursor, .discardTemp, .advisoryUnlockAll:
            uncommitted.append((nil, effect))
            return []
        case .discardAll:
            settings.discardAll()
            uncommitted.removeAll()
            preparedStatements.removeAll()
            return [.deallocated(name: nil), .discardedAll]
        case .savepoint(let name):
            uncommitted.append((name, .none))
            return []
        case .rollbackToSavepoint(let name):
            if let i = uncommitted.lastIndex(where: { $0.savepoint == name }) {
                uncommitted.removeSubrange((i + 1)...)
            }
            failed = false
            return []
        case .releaseSavepoint, .raisedError, .settingsReplay:
            return []
        case let .prepare(name, text):
            preparedStatements[name] = text
            return [.prepared(name: name, text: text)]
        case .deallocate(let name):
            if let name { preparedStatements[name] = nil } else { preparedStatements.removeAll() }
            return [.deallocated(name: name)]
        }
    }

    /// An error aborted the current statement, and with it the transaction.
    public mutating func errorReceived() { failed = true }

    /// ReadyForQuery: at 'I' the transaction is over, committed unless it failed.
    public mutating func readyForQuery(_ status: TransactionStatus) -> [Change] {
        guard status == .idle else { return [] }
        lastTransactionCommitted = !failed && !rolledBack
        defer { failed = false; rolledBack = false }
        // Most transactions change nothing of the session: nothing to apply or to empty.
        if uncommitted.isEmpty { return [] }
        if failed {
            uncommitted.removeAll()
            return []
        }
        return commit()
    }

    private mutating func commit() -> [Change] {
        var changes: [Change] = []
        for (_, change) in uncommitted {
            switch change {
            case let .setting(name, value):
                if let value { settings[name] = value } else { settings.reset(name) }
            case .settings(let all):
                for (name, value) in all { settings[name] = value }
            case .resetAll: settings.resetAll()
            case .listen(let c): changes.append(.listened(c))
            case .unlisten(let c): changes.append(.unlistened(c))
            case .dropTables(let t): changes.append(.tablesDropped(t))
            case .closeCursor(let c): changes.append(.cursorClosed(c))
            case .discardTemp: changes.append(.temporaryTablesDiscarded)
            case .advisoryUnlockAll: changes.append(.advisoryLocksReleased)
            default: break
            }
        }
        uncommitted.removeAll()
        return changes
    }

    /// A SQL-level statement was closed through the protocol (Close 'S').
    public mutating func forgetPrepared(_ name: String) { preparedStatements[name] = nil }

    /// A ParameterStatus report: the server's value now.
    public mutating func parameterReported(name: String, value: String) {
        settings[name] = .literal(value)
    }
}
