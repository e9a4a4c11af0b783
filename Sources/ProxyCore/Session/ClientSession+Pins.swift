import PostgresWire
import SQLAnalysis

/// What keeps a client on its server under transaction pooling: session objects that live on
/// one server. Each is released by the statement that ends it (once that commits).
public struct SessionPins: Sendable, Equatable {
    /// Temporary tables by name (without the pg_temp schema).
    public var temporaryTables: Set<String> = []
    /// `DECLARE … WITH HOLD` cursors by name.
    public var holdCursors: Set<String> = []
    /// Session-level advisory locks taken (released by pg_advisory_unlock_all or DISCARD ALL).
    public var advisoryLocks = false
    /// State pgstash cannot see the end of (set_config(…, false), a DO block, LISTEN without
    /// the relay): held until the client disconnects or DISCARD ALL.
    public var untilDisconnect: Set<String> = []

    public init() {}

    public var isEmpty: Bool {
        temporaryTables.isEmpty && holdCursors.isEmpty && !advisoryLocks && untilDisconnect.isEmpty
    }

    /// What the statement creates that pins; nil when it creates nothing of the kind.
    static func additions(of s: StatementAnalysis, listenRelay: Bool) -> SessionPins? {
        var p = SessionPins()
        switch s.kind {
        case .listen where !listenRelay: p.untilDisconnect.insert("LISTEN")
        case .declareCursor where s.cursorWithHold: p.holdCursors.insert(s.cursorName ?? "")
        case .do where s.doBodyMayChangeSession: p.untilDisconnect.insert("DO")
        default: break
        }
        if s.createsTemporaryTable && !s.temporaryTableDroppedAtCommit {
            for t in s.temporaryTables { p.temporaryTables.insert(t.name) }
            if p.temporaryTables.isEmpty { p.untilDisconnect.insert("temporary table") }
        }
        if s.usesSessionAdvisoryLock && s.functions.contains(where: SessionTracker.takesSessionAdvisoryLock) {
            p.advisoryLocks = true
        }
        if s.setsSessionConfig { p.untilDisconnect.insert("set_config") }
        if let inner = s.preparedStatement, let q = additions(of: inner, listenRelay: listenRelay) { p.formUnion(q) }
        return p.isEmpty ? nil : p
    }

    /// What a transaction that did not commit takes back of what it added: its temporary
    /// tables, cursors and set_config are gone with it; session advisory locks are not
    /// (PostgreSQL keeps them across a rollback).
    mutating func subtractRolledBack(_ o: SessionPins) {
        temporaryTables.subtract(o.temporaryTables)
        holdCursors.subtract(o.holdCursors)
        untilDisconnect.subtract(o.untilDisconnect)
    }

    /// What `o` adds to these.
    func added(by o: SessionPins) -> SessionPins {
        var d = SessionPins()
        d.temporaryTables = o.temporaryTables.subtracting(temporaryTables)
        d.holdCursors = o.holdCursors.subtracting(holdCursors)
        d.advisoryLocks = o.advisoryLocks && !advisoryLocks
        d.untilDisconnect = o.untilDisconnect.subtracting(untilDisconnect)
        return d
    }

    mutating func formUnion(_ o: SessionPins) {
        temporaryTables.formUnion(o.temporaryTables)
        holdCursors.formUnion(o.holdCursors)
        advisoryLocks = advisoryLocks || o.advisoryLocks
        untilDisconnect.formUnion(o.untilDisconnect)
    }

    /// A committed statement released some of them.
    mutating func apply(_ change: SessionTracker.Change) {
        switch change {
        case .tablesDropped(let names): temporaryTables.subtract(names)
        case .cursorClosed(let name?): holdCursors.remove(name)
        case .cursorClosed(nil): holdCursors.removeAll()
        case .temporaryTablesDiscarded: temporaryTables.removeAll()
        case .advisoryLocksReleased: advisoryLocks = false
        case .discardedAll: self = SessionPins()
        default: break
        }
    }
}

/// A change of the channels a client listens on (relayed by the pool's listener connection).
public enum ListenChange: Equatable, Sendable {
    case listen(String)
    /// nil: `UNLISTEN *` (or DISCARD ALL).
    case unlisten(String?)
}

extension ClientSession {
    /// Statements that would leave session state behind: pin the client (it then keeps its
    /// server), or — pinning off, or the pool's `max_pinned` reached — refuse them with
    /// 0A000. Returns the refusal's feature name, or nil when the statements may run.
    mutating func admitSessionState(_ statements: [StatementAnalysis], server: inout ServerConnection,
                                    out: inout SessionOutput) -> String? {
        var adds = SessionPins()
        for s in statements {
            if s.kind == .listen || s.kind == .unlisten, configuration.listenRelay { server.listening = true }
            if let p = SessionPins.additions(of: s, listenRelay: configuration.listenRelay) { adds.formUnion(p) }
        }
        guard !adds.isEmpty else { return nil }
        let relay = configuration.listenRelay
        let feature = statements.lazy.compactMap { SessionTracker.sessionBoundFeature(of: $0, listenRelay: relay) }.first
            ?? "session state"
        guard configuration.pinOnSessionState else {
            out.events.append("refused \(feature) under transaction pooling")
            return feature
        }
        guard pinned || configuration.pinningAvailable else {
            out.events.append("refused \(feature): max_pinned reached")
            return "\(feature) (pool.max_pinned servers are pinned already)"
        }
        if !pinned {
            out.events.append("pinned to its server for \(feature)")
            out.pinChanged = true
        }
        provisionalPins.formUnion(pins.added(by: adds))
        pins.formUnion(adds)
        return nil
    }

    /// The transaction ended (ReadyForQuery 'I'): what it added stays if it committed.
    mutating func transactionEnded(committed: Bool, result: inout BackendResult) {
        guard !provisionalPins.isEmpty || !committed else { return }
        let wasPinned = pinned
        if !committed { pins.subtractRolledBack(provisionalPins) }
        provisionalPins = SessionPins()
        if wasPinned && !pinned { result.unpinned = true }
    }

    /// Applies what committed statements released or registered.
    mutating func committed(_ changes: [SessionTracker.Change], result: inout BackendResult) {
        guard !changes.isEmpty else { return }
        let wasPinned = pinned
        for c in changes {
            switch c {
            case .listened(let ch):
                if listening.insert(ch).inserted { result.listens.append(.listen(ch)) }
            case .unlistened(let ch?):
                if listening.remove(ch) != nil { result.listens.append(.unlisten(ch)) }
            case .unlistened(nil):
                if !listening.isEmpty { listening.removeAll(); result.listens.append(.unlisten(nil)) }
            case .discardedAll:
                pins.apply(c)
                if !listening.isEmpty { listening.removeAll(); result.listens.append(.unlisten(nil)) }
            default:
                pins.apply(c)
            }
        }
        if wasPinned && !pinned { result.unpinned = true }
    }
}
