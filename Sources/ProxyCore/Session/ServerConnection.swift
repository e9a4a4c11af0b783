import PostgresWire

/// Which client statement the server's unnamed statement holds: its owner and that client's
/// Parse "" generation.
public struct UnnamedTag: Sendable, Equatable {
    public var client: Int
    public var generation: UInt64
}

/// One upstream server connection's protocol state: the requests in flight and what the
/// server holds (transaction status, prepared statements, settings). The client that leases
/// it drives it through `ClientSession`; with no client, `ServerConnection` decides alone
/// (draining a departed client's last statement, a reset, an idle server's messages).
public struct ServerConnection: Sendable {
    public var tracker = ResponseTracker()
    /// pgstash-named statements prepared on this server.
    public var statements: ServerStatementCache
    /// Session settings in force on this server (what pgstash or its clients SET).
    public var settings = SessionSettings()
    /// SQL-level prepared statements on this server: name → PREPARE text.
    public var sqlPrepared: [String: String] = [:]
    /// The status of the last ReadyForQuery.
    public var transactionStatus = TransactionStatus.idle
    /// Extended-protocol messages were sent since the last Sync: an implicit transaction may
    /// be open although the last ReadyForQuery said 'I' (a client using Flush).
    public var unsynced = false
    /// A client ran LISTEN here (its notifications come through the pool's listener): the
    /// next lease starts with UNLISTEN *.
    public var listening = false
    /// Whose statement the server's unnamed statement is, if known.
    public var unnamedOwner: UnnamedTag?
    /// CancelRequests sent for this server's backend whose connection has not closed yet: a
    /// late cancel must not hit the next client's query, so the server is not released.
    public var cancelsInFlight = 0
    /// The departed client's last statement runs to completion; its answers are dropped.
    public private(set) var draining = false

    public init(maxPreparedStatements: Int) {
        statements = ServerStatementCache(capacity: maxPreparedStatements)
    }

    /// No transaction, nothing in flight, no cancel that could still land.
    public var isQuiescent: Bool {
        transactionStatus == .idle && tracker.isIdle && !unsynced && cancelsInFlight == 0
    }

    /// Whether the server holds a prepared statement of this name (a client's SQL PREPARE or
    /// a shared `pgstash_N`), as far as pgstash knows.
    public func holds(_ name: String) -> Bool { sqlPrepared[name] != nil || statements.contains(name) }

    /// What to do with a server whose client left (or gave it back).
    public enum Disposition: Equatable, Sendable {
        /// Give it back to the pool as it is.
        case release
        /// Run the reset query (DISCARD ALL) first: it carries session state.
        case reset
        /// Keep it until its statement completes (call `drainingMessageReceived`).
        case drain
        /// Close it: an open transaction or unsynced work dies with the client, as in PostgreSQL.
        case close
        /// Cancel what runs there, then close it: its transaction is lost anyway, and its
        /// locks are freed now rather than when the statement ends.
        case cancelAndClose
    }

    /// The client disconnected. `carriesSessionState`: the client was pinned or session-mode.
    public mutating func clientLeft(carriesSessionState: Bool) -> Disposition {
        if isQuiescent { return carriesSessionState ? .reset : .release }
        if carriesSessionState || unsynced || transactionStatus != .idle {
            return tracker.isIdle ? .close : .cancelAndClose
        }
        draining = true
        return .drain
    }

    /// A message from a draining server: returns the disposition once its statement is done.
    public mutating func drainingMessageReceived(_ id: UInt8, body: ArraySlice<UInt8>) -> Disposition? {
        var sink = ByteBuffer()
        _ = tracker.responseReceived(id, into: &sink)
        _ = tracker.takeFailedStatements().map { if let n = $0.serverName, !n.isEmpty { statements.remove(n) } }
        _ = tracker.takeParsedStatements()
        guard id == BackendMessageID.readyForQuery.rawValue else { return nil }
        transactionStatus = body.first.flatMap(TransactionStatus.init(rawValue:)) ?? .idle
        guard tracker.isIdle else { return nil }
        return drainedDisposition()
    }

    /// Once a draining server's statement is done: release it, close it, or (a cancel still
    /// in flight) wait; call again when the cancel completes.
    public mutating func drainedDisposition() -> Disposition? {
        guard draining, tracker.isIdle else { return nil }
        if transactionStatus != .idle { draining = false; return .close }
        if cancelsInFlight > 0 { return nil }
        draining = false
        return .release
    }

    /// The server's state after a reset query (DISCARD ALL) was sent.
    public mutating func resetSent() {
        statements.removeAll()
        settings = SessionSettings()
        sqlPrepared.removeAll()
        unnamedOwner = nil
        listening = false
    }
}
