import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// Drives one `Pool` state machine: opens, hands out and closes real server connections as
/// its actions say, and keeps what the clients of this pool share (server parameters).
final class PoolDriver {
    let key: PoolKey
    private(set) var database: DatabaseConfig
    let upstreamPassword: String?
    /// For a user found by `[auth] auth_query`: what its last authenticated client left to
    /// log in upstream with (md5 hash or recovered SCRAM keys).
    var upstreamSecret: LookedUpSecret?
    private(set) var pool: Pool
    let server: ProxyServer     // pools live as long as the server (strong: used at +0)
    var servers = ServerTable<ServerHandler>()
    private var waiting = ClientTable<ClientHandler>()
    /// SHOW STATS counters, shared by the pools of one database.
    let traffic: TrafficBox
    /// ParameterStatus values of the first server that logged in: what a new client is told.
    var serverParameters: [String: String]?
    /// Who listens on which channel (LISTEN relayed under transaction pooling).
    var relay = NotificationRelay()
    /// The connection that LISTENs upstream for the relay, made when first needed.
    lazy var listener = ListenerConnection(pool: self)
    /// Clients pinned to a server (counted against `max_pinned`).
    var pinnedClients = 0
    /// `config.effectiveMaxPinned`, kept at hand for the relay loop.
    private(set) var maxPinned: Int
    let stats: PoolStats
    /// Pool saturation lines, at most one of each kind per 10 s (OperationalLog.swift).
    var saturationLog = SaturationThrottles()

    /// Takes its settings from `configuration` for `key` (`effectivePool` of the key's
    /// database and overriding client user), as `reconfigure` does after a reload.
    /// The login of a new upstream connection of this pool (servers and the listener).
    func newLogin() -> ServerLogin {
        ServerLogin(user: key.user, password: upstreamPassword ?? upstreamSecret?.password,
                    passThrough: upstreamSecret?.passThrough, database: database.dbname,
                    clientNonce: Crypto.base64(Crypto.randomBytes(18)))
    }

    init(key: PoolKey, database: DatabaseConfig, upstreamPassword: String?, configuration: ProxyConfiguration,
         server: ProxyServer, idBase: Int, idStride: Int) {
        self.key = key
        self.database = database
        self.upstreamPassword = upstreamPassword
        self.pool = Pool(config: Self.settings(for: key, in: configuration), idBase: idBase, idStride: idStride)
        self.maxPinned = pool.config.effectiveMaxPinned
        self.server = server
        self.stats = server.metrics.stats(for: key)
        self.traffic = server.admin.traffic(of: key.database, now: server.loop.now)
        server.log.info("pool \(key.database)/\(key.user) created (mode \(pool.config.mode.rawValue)"
            + (key.overridesOf.map { ", [pool.users.\($0)]" } ?? "") + ")")
    }

    var mode: PoolMode { pool.config.mode }
    var config: PoolConfig { pool.config }
    var now: Double { server.loop.now }

    func reconfigure(config: ProxyConfiguration) {
        if let db = config.databases[key.database] { database = db }
        pool.config = Self.settings(for: key, in: config)
        maxPinned = pool.config.effectiveMaxPinned
    }

    /// The same user decides the settings at creation and at every reload: the client user
    /// the key names for its overrides, never the upstream user.
    private static func settings(for key: PoolKey, in configuration: ProxyConfiguration) -> PoolConfig {
        configuration.effectivePool(database: key.database, user: key.overridesOf)
    }

    // MARK: Requests from clients and servers

    func acquire(for client: ClientHandler) {
        let t = now
        client.waitingSince = t
        // An idle server is handed over at once, without entering the waiting list.
        if let sid = pool.acquireIdle(by: client.id) {
            if let s = servers[sid] { return assign(s, to: client) }
            waiting[client.id] = client
            return run([.assign(sid, to: client.id)])
        }
        let actions = pool.acquireRequested(by: client.id, now: t)
        waiting[client.id] = client
        run(actions)
        if client.waitingForServer { noteSaturation(client) }
    }

    /// An idle server leased to `client` at once, or nil when none is idle: the caller attaches
    /// it and goes on relaying (no waiting list, no pause of its reading, no re-entry).
    func leaseIdle(for client: ClientHandler) -> ServerHandler? {
        guard let sid = pool.nextIdle, let s = servers[sid] else { return nil }
        _ = pool.acquireIdle(by: client.id)
        client.waitingSince = now
        recordLease(s, to: client)
        return s
    }

    func cancelWait(for client: ClientHandler) {
        guard waiting.removeValue(forKey: client.id) != nil else { return }
        stats.acquireEnded(since: client.waitingSince, now: now)
        client.waitingSince = nil
        pool.clientGaveUp(client.id)
    }

    func release(_ s: ServerHandler, reusable: Bool) {
        switch pool.release(s.id, reusable: reusable, now: now) {
        case .idled: break
        case let .assigned(sid, cid): run(assign: sid, to: cid)
        case .other(let actions): run(actions)
        }
    }

    func serverReady(_ s: ServerHandler) {
        if serverParameters == nil { serverParameters = s.parameters }
        run(pool.serverConnected(s.id, now: now))
    }

    func serverFailed(_ s: ServerHandler, sqlState: String, message: String) {
        servers[s.id] = nil
        stats.connectFailed()
        server.log.warning("upstream connection failed", ["database": key.database, "user": key.user, "sqlstate": sqlState, "error": message])
        run(pool.serverConnectFailed(s.id, sqlState: sqlState, error: message, now: now))
    }

    func serverClosed(_ s: ServerHandler) {
        servers[s.id] = nil
        run(pool.serverClosed(s.id, now: now))
    }

    func tick(now: Double) {
        enforceClientTimeouts(now: now)
        run(pool.tick(now: now))
    }

    /// `query_timeout` and `idle_transaction_timeout` (PgBouncer's), checked at each janitor
    /// tick against the servers' times: a request running too long is cancelled as the
    /// client's own CancelRequest would be (it gets 57014 from PostgreSQL and stays); a client
    /// idle too long inside a transaction is disconnected as PostgreSQL's
    /// `idle_in_transaction_session_timeout` would (25P03) and its server closed.
    private func enforceClientTimeouts(now: Double) {
        let queryLimit = config.queryTimeout, idleLimit = config.idleTransactionTimeout
        guard queryLimit > 0 || idleLimit > 0 else { return }
        for s in servers.values {
            guard let c = s.client else { continue }
            let times = s.times
            if queryLimit > 0, let started = times.queryStart, times.cancelledQuery != started,
               now - started >= queryLimit, c.hasSession && c.machine.shouldCancel(s.state) {
                s.times.cancelledQuery = started
                server.log.info("client \(c.id): query_timeout (\(queryLimit) s) reached; cancelling its request on \(s.id)")
                s.sendCancel()
            }
            if idleLimit > 0, let since = times.idleInTransactionSince, now - since >= idleLimit, s.state.tracker.isIdle {
                c.fatal("25P03", "terminating connection due to idle-in-transaction timeout (pool.idle_transaction_timeout = \(idleLimit) s)",
                        hint: "The transaction was rolled back; end transactions promptly, or raise pool.idle_transaction_timeout.")
            }
        }
    }

    // MARK: Admin console

    /// PAUSE: stop handing out servers; idle ones close now, leased ones when released.
    func pause() { run(pool.pauseRequested(now: now)) }

    func resume() { run(pool.resumeRequested(now: now)) }

    /// The server got bytes to run on a client's behalf: a request starts unless one runs.
    func requestSent(_ s: ServerHandler, bytes: Int) {
        traffic.stats.bytesReceived(bytes)
        s.times.idleInTransactionSince = nil
        guard s.times.queryStart == nil else { return }
        let t = now
        s.times.queryStart = t
        if s.times.transactionStart == nil { s.times.transactionStart = t }
    }

    /// The server answered ReadyForQuery with `status` ('I': the transaction is over).
    func readyForQueryRelayed(_ s: ServerHandler, status: UInt8) {
        if let c = s.client, c.admin.digest != nil { c.digestRequestAnswered(s) }
        let t = now
        let idle = status == TransactionStatus.idle.rawValue
        s.times.idleInTransactionSince = idle ? nil : t
        guard let started = s.times.queryStart else { return }
        traffic.stats.queryCompleted(seconds: t - started,
                                     transactionSeconds: idle ? t - (s.times.transactionStart ?? started) : nil, now: t)
        s.times.queryStart = nil
        if idle { s.times.transactionStart = nil }
    }

    func bytesRelayedToClient(_ n: Int) { traffic.stats.bytesSent(n) }

    // MARK: Actions

    private func run(_ actions: [PoolAction]) {
        for a in actions {
            switch a {
            case .connect(let id):
                let s = ServerHandler(id: id, pool: self, connectedAt: wallClock())
                servers[id] = s
                s.connect()
            case let .assign(sid, cid): run(assign: sid, to: cid)
            case .close(let sid):
                servers[sid]?.close()
            case let .fail(cid, failure):
                guard let c = waiting.removeValue(forKey: cid) else { continue }
                stats.acquireEnded(since: c.waitingSince, now: now)
                c.waitingSince = nil
                c.acquireFailed(failure, pool: self)
            }
        }
    }

    /// The pool's `.assign`: the waiting client `cid` gets server `sid`.
    private func run(assign sid: ServerID, to cid: ClientID) {
        guard let c = waiting.removeValue(forKey: cid) else {
            // The client left meanwhile: give the server back.
            return run(pool.serverReleased(sid, reusable: true, now: now))
        }
        guard let s = servers[sid] else { return stats.acquireEnded(since: c.waitingSince, now: now) }
        assign(s, to: c)
    }

    /// Hands `s` to the client `c`, which asked for a server at `c.waitingSince`.
    private func assign(_ s: ServerHandler, to c: ClientHandler) {
        recordLease(s, to: c)
        c.serverAssigned(s)
    }

    /// The wait's statistics and the lease's clocks.
    private func recordLease(_ s: ServerHandler, to c: ClientHandler) {
        if let since = c.waitingSince {
            let t = now
            stats.acquireEnded(since: since, now: t)
            traffic.stats.waited(seconds: t - since, now: t)
            acquireWaited(t - since, client: c)
            c.waitingSince = nil
        }
        let at = wallClock()
        s.times.leasedAt = at
        c.admin.requestAt = at
    }

    // MARK: LISTEN/NOTIFY relay

    /// A client's committed LISTEN/UNLISTEN. Returns whether its channels are listened on
    /// upstream already; otherwise `inForce` runs once they are (or once the listener gave up
    /// for now, after which the client is warned of a gap).
    @discardableResult
    func listensChanged(_ client: ClientHandler, _ changes: [ListenChange], inForce: (() -> Void)? = nil) -> Bool {
        var added: [String] = []
        for c in changes {
            switch c {
            case .listen(let ch):
                relay.listen(client: client.id.raw, channel: ch)
                added.append(ch)
            case .unlisten(let ch): relay.unlisten(client: client.id.raw, channel: ch)
            }
        }
        listener.sync()
        guard !added.isEmpty, let inForce else { return true }
        return listener.whenListening(on: added, inForce)
    }

    /// The client is gone: it listens on nothing any more.
    func clientGone(_ client: ClientHandler) {
        relay.unlisten(client: client.id.raw, channel: nil)
        listener.sync()
    }

    /// A NotificationResponse from the listener connection: to every client listening.
    /// Its process id becomes the one the notifying client knows its backend by (its
    /// BackendKeyData), when a pgstash client sent it: as on PostgreSQL, a listener can tell
    /// its own notifications by comparing with its own backend pid.
    func notificationArrived(channel: String, frame: [UInt8]) {
        var f = frame
        if f.count >= 9 {
            let pid = Int32(bitPattern: UInt32(f[5]) << 24 | UInt32(f[6]) << 16 | UInt32(f[7]) << 8 | UInt32(f[8]))
            if let mine = server.backendServers[pid]?.target?.lastClientPID {
                let u = UInt32(bitPattern: mine)
                f[5] = UInt8(u >> 24); f[6] = UInt8(u >> 16 & 0xff); f[7] = UInt8(u >> 8 & 0xff); f[8] = UInt8(u & 0xff)
            }
        }
        for id in relay.recipients(of: channel) { server.clients[id]?.notificationArrived(f) }
    }

    /// The listener connection came back after a loss: its clients may have missed some.
    func listenerGapEnded() {
        let notice = BackendMessage.noticeResponse(ErrorFields(
            severity: "WARNING", sqlState: "01000",
            message: "pgstash lost its listener connection to PostgreSQL and re-established it: notifications sent meanwhile may have been missed",
            hint: "Re-read whatever state the notifications announce.")).encoded
        for id in relay.clients { server.clients[id]?.notificationArrived(notice) }
    }
}

/// When a server connected and was last leased (wall clock, for SHOW SERVERS), and when its
/// running request and transaction started (monotonic, for SHOW STATS times).
struct ServerTimes {
    var connectedAt: Double
    var leasedAt: Double?
    var queryStart: Double?
    var transactionStart: Double?
    /// Since when the client sits inside a transaction with nothing running (`T` or `E`).
    var idleInTransactionSince: Double?
    /// The request (by its start) already cancelled for `query_timeout`.
    var cancelledQuery: Double?
}

/// The SHOW STATS counters of one database, shared by reference by its pools.
final class TrafficBox {
    var stats: TrafficStats
    init(now: Double) { stats = TrafficStats(now: now) }
}
