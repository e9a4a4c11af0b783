import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// One client connection: startup and authentication, then its messages run through its
/// `ClientSession` machine against the server it leases (for a transaction in transaction
/// mode, for its lifetime in session mode). This class decodes frames, calls the machine and
/// does what it says; it decides nothing about the protocol.
final class ClientHandler: ConnectionDelegate {
    enum Phase {
        case startup
        /// Waiting for `[auth] auth_query`'s answer about the user (`ProxyServer+AuthQuery`).
        case lookingUp
        /// The exchange runs in `authenticator` (kept outside the enum: a payload would make
        /// every test of the phase on the data path copy it).
        case authenticating
        /// Authenticated; waiting for a first server to learn the parameters to report.
        case awaitingParameters
        case ready
        /// Too many clients: answer the startup packet with 53300 and close.
        case rejecting
        case closed
    }

    // Stored properties are laid out in declaration order: what the relay touches on every
    // request comes first, so that a request reaches few of the object's cache lines.
    let id: ClientID
    /// The process-wide server outlives its clients. Strong and `let`: a use through `self`
    /// borrows it (no reference counting), where an `unowned(unsafe)` load takes a copy.
    let server: ProxyServer
    let conn: Connection
    var phase = Phase.startup
    var hasSession = false
    var waitingForServer = false
    /// A committed LISTEN is not in force upstream yet: the client's answers wait (so that a
    /// notification sent after its ReadyForQuery cannot be missed).
    var outputHeld = false
    /// `cacheState != nil`, as a flag the data path tests without copying the state.
    var cacheOn = false
    /// Shutdown asked: close as soon as no transaction is open.
    var closeWhenIdle = false
    /// The server leased to this client, if any.
    var leased: ServerHandler?
    /// The client's pool, once logged in. Pools are never removed (the server owns them):
    /// held unretained, so that the relay uses it without reference counting (through
    /// `_withUnsafeGuaranteedRef`); `pool` is the (retaining) view for everything else.
    private(set) var poolRef: Unmanaged<PoolDriver>?
    var pool: PoolDriver? {
        get { poolRef?.takeUnretainedValue() }
        set { poolRef = newValue.map { .passUnretained($0) } }
    }
    /// When the request now in flight arrived (metrics: query duration), nil when none is.
    var requestStartedAt: Double?
    /// Since when (monotonic) the client waits for a server: SHOW CLIENTS `wait`, SHOW STATS.
    var waitingSince: Double?
    var pendingNotificationCount = 0
    /// pgstash's own cancel key for this client (sent as BackendKeyData).
    var cancelKey: (processID: Int32, secretKey: Int32)?
    var out = SessionOutput()
    /// The protocol machine, once logged in (`hasSession`). Stored unwrapped: the relay reaches
    /// it on every message, where an optional's tag check is an outlined call; `session` is
    /// the optional view for the cold paths.
    var machine = ClientHandler.noSession
    var session: ClientSession? {
        get { hasSession ? machine : nil }
        set {
            if let newValue { machine = newValue; hasSession = true } else { machine = Self.noSession; hasSession = false }
        }
    }
    /// Admin console: times for SHOW CLIENTS; the console session of `pgstash` clients.
    var admin = ClientAdminInfo()
    var authenticator: ClientAuthenticator?
    var startupTimer: TimerID?
    var user = ""
    var databaseName = ""
    var startupParameters: [(String, String)] = []
    /// The credential `[auth] auth_query` found for this client's user (nil: in the auth file).
    var lookedUp: StoredCredential?
    /// What its pool logs in upstream with, once authenticated against `lookedUp`.
    var upstreamSecret: LookedUpSecret?

    /// What `machine` holds before login: nothing reads it while `hasSession` is false.
    static var noSession: ClientSession { ClientSession(clientID: 0,
                                         configuration: .init(transactionPooling: false, pinOnSessionState: false, poolName: ""),
                                         settings: SessionSettings(), analyze: { _ in [] }) }
    /// Notifications held while the client is in a transaction (or not reading).
    var pendingNotifications = ByteBuffer()
    var heldOutput = ByteBuffer()
    /// The result cache's state of this client (nil when the cache is off, and for the console).
    var cacheState: ClientCacheState?
    /// What deferred callbacks capture instead of `[weak self]` (see `LoopWeak`).
    let weakRef = LoopWeak<ClientHandler>()

    init(id: ClientID, fd: Int32, server: ProxyServer, reject: Bool) throws {
        self.id = id
        self.server = server
        self.conn = try Connection(loop: server.loop, fd: fd, connecting: false,
                                   highWaterMark: server.config.listen.highWaterMark)
        if reject { phase = .rejecting }
        // Many clients sit idle: after a burst they keep little buffer space.
        conn.retainedBufferCapacity = 32 * 1024
        conn.delegate = self
        weakRef.target = self
    }

    deinit { weakRef.target = nil }

    var log: Logger { server.log }
    var config: ProxyConfiguration { server.config }
    var isOverHighWaterMark: Bool { conn.isOverHighWaterMark }

    func start() {
        // Captured strongly (the timer is cancelled at login and at close): a weak reference
        // would give every client a side table and slow down each retain of it.
        startupTimer = server.loop.schedule(after: config.listen.startupTimeout) {
            switch self.phase {
            case .startup, .lookingUp, .authenticating, .rejecting:
                self.fatal("08006", "client did not complete startup and authentication within \(self.config.listen.startupTimeout) s",
                           hint: "Check the client's connection settings; the limit is listen.startup_timeout.")
            default: break
            }
        }
    }

    // MARK: Input

    func connectionDidRead(_ c: Connection) {
        switch phase {
        case .startup, .rejecting: startupInput()
        case .lookingUp: c.pauseReading()      // nothing is due before the first request; resumed after the lookup
        case .authenticating: authInput()
        case .awaitingParameters: updateReading()     // read again once logged in
        case .ready: if admin.session != nil { adminInput() } else { relayInput() }
        case .closed: c.inbound.clear()
        }
    }

    /// Reports the server's parameters, pgstash's cancel key and ReadyForQuery.
    func completeLogin() {
        guard let pool else { return }
        if let t = startupTimer { server.loop.cancel(t) }
        let settings = hasSession ? machine.session.settings : SessionSettings(startupParameters: startupParameters)
        var out = ByteBuffer()
        for (name, value) in (pool.serverParameters ?? [:]).sorted(by: { $0.key < $1.key }) {
            var v = value
            if case .literal(let mine)? = settings[name] { v = mine }
            BackendMessage.parameterStatus(name: name, value: v).encode(into: &out)
        }
        var pid: Int32
        repeat { pid = Int32.random(in: 1...Int32.max) } while server.cancelTargets[pid] != nil
        let key = Int32(bitPattern: UInt32.random(in: 0...UInt32.max))
        cancelKey = (pid, key)
        server.cancelTargets[pid] = self
        BackendMessage.backendKeyData(processID: pid, secretKey: key).encode(into: &out)
        BackendMessage.readyForQuery(.idle).encode(into: &out)
        conn.send(out)
        phase = .ready
        if server.cache != nil, admin.session == nil {
            cacheState = ClientCacheState()
            cacheOn = true
        }
        updateReading()
        if conn.inbound.readableBytes > 0 { relayInput() }
    }

    // MARK: Pool callbacks

    func serverAssigned(_ s: ServerHandler) {
        log.debug("\(id) leases \(s.id)")
        waitingForServer = false
        guard let pool else { return }
        if case .awaitingParameters = phase {
            if pool.serverParameters == nil { pool.serverParameters = s.parameters }
            attach(s)
            if !(hasSession && machine.awaitingReplay) { settingsRestored() }
            return
        }
        attach(s)
        relayInput()
    }

    /// The leased server has the client's settings: at login, the parameters it reported are
    /// what the client is told; afterwards, the client's waiting messages go on.
    func settingsRestored() {
        guard case .awaitingParameters = phase else { return relayInput() }
        if pool?.mode == .transaction {
            completeLoginAfterRelease()
        } else {
            completeLogin()
        }
    }

    private func completeLoginAfterRelease() {
        guard let s = leased, let pool else { return completeLogin() }
        leased = nil
        s.client = nil
        pool.release(s, reusable: true)
        completeLogin()
    }

    func acquireFailed(_ failure: PoolFailure, pool: PoolDriver) {
        waitingForServer = false
        switch failure {
        case .acquireTimeout(let waited):
            fatal("53300", "pool \(pool.key.database)/\(pool.key.user) is saturated: no server connection became free within \(String(format: "%.1f", waited)) s (pool.max_upstream = \(pool.config.maxUpstream))",
                  hint: "Raise pool.max_upstream or pool.acquire_timeout, or shorten the transactions that hold connections.")
        case let .connectFailed(sqlState, message):
            fatal(sqlState.hasPrefix("08") || sqlState.hasPrefix("28") || sqlState.hasPrefix("3D") ? sqlState : "08006",
                  message, hint: "Check that PostgreSQL is running and that [databases.\(pool.key.database)] in proxy.conf points at it.")
        }
    }

    // MARK: Errors and closing

    /// Sends a FATAL ErrorResponse and closes once it is written.
    func fatal(_ sqlState: String, _ message: String, hint: String? = nil) {
        if case .closed = phase { return }
        if admin.closeReason == nil { admin.closeReason = (sqlState, message) }
        server.metrics.proxyError(sqlState: sqlState)
        conn.send(CannedMessage.error("FATAL", sqlState, message, hint: hint))
        conn.closeAfterFlush()
        finish()
    }

    func close(error: IOError?) {
        if case .closed = phase { return }
        conn.close()
        finish()
    }

    func connectionDidClose(_ c: Connection, error: IOError?) {
        if let error, error.isTLS { log.info("client \(id): \(error.operation) failed: \(error.message)") }
        finish()
    }

    /// Releases what the client held; runs once.
    private func finish() {
        if case .closed = phase { return }
        let phaseBeforeClose = phase
        phase = .closed
        logClosed()
        if let t = startupTimer { server.loop.cancel(t) }
        if case .lookingUp = phaseBeforeClose { server.authLookupAbandoned(by: self) }
        if waitingForServer { pool?.cancelWait(for: self) }
        waitingForServer = false
        cachePublishOrphanedWrites()
        if let s = leased { detachOnClose(s) }
        if hasSession && machine.pinned { pool?.pinnedClients -= 1 }
        if hasSession && !machine.listening.isEmpty { pool?.clientGone(self) }
        if hasSession { machine.clientClosed(names: &server.statementNames) }
        server.clientClosed(self)
    }

    /// Gives the server back as its machine says: clean ones to the pool (after a reset if
    /// they carry session state), a running statement drained to completion (as PostgreSQL
    /// completes a statement whose client left), open transactions closed.
    private func detachOnClose(_ s: ServerHandler) {
        leased = nil
        s.client = nil
        let carries = pool?.mode == .session || (hasSession && machine.pinned)
        s.dispose(s.state.clientLeft(carriesSessionState: carries))
    }

    func connectionDidDrain(_ c: Connection) {
        flushNotifications()
        updateReading()
        leased?.updateReading()
        leased?.pump()
        if case .ready = phase, !c.isReadingPaused, c.inbound.readableBytes > 0 { relayInput() }
    }

    func shutdownRequested() {
        closeWhenIdle = true
        if leased == nil { shutDownNow() }
    }

    /// Ends the client at shutdown as PostgreSQL does: FATAL 57P01.
    func shutDownNow() {
        fatal("57P01", "terminating connection because pgstash is shutting down",
              hint: "Reconnect; the application's pool should retry.")
    }

    // MARK: Notifications (LISTEN relayed by the pool's listener connection)

    /// Between transactions the client gets it at once; otherwise after its transaction's
    /// ReadyForQuery — never inside a response stream. A client that lets more than
    /// `max_pending_notifications` pile up is disconnected, as PostgreSQL's queue limit would.
    func notificationArrived(_ frame: [UInt8]) {
        guard case .ready = phase else { return }
        if pendingNotificationCount == 0, !outputHeld, !conn.isOverHighWaterMark, leased?.state.isQuiescent ?? true {
            conn.send(frame)
            return
        }
        pendingNotifications.append(frame)
        pendingNotificationCount += 1
        if let pool, pendingNotificationCount > pool.config.maxPendingNotifications {
            fatal("54000", "too many notifications are waiting for this client (pool.max_pending_notifications = \(pool.config.maxPendingNotifications))",
                  hint: "The client does not read its notifications, or stays in a transaction too long; it may reconnect and LISTEN again.")
        }
    }

    /// Sends held notifications, once the client is between transactions and reading.
    func flushNotifications() {
        guard pendingNotificationCount > 0, !outputHeld, !conn.isOverHighWaterMark, leased?.state.isQuiescent ?? true else { return }
        conn.send(pendingNotifications)
        pendingNotifications = ByteBuffer()
        pendingNotificationCount = 0
    }

    /// Reading the client goes on only while what it sent can go somewhere: not while it
    /// waits for a server, nor while its own answers or its server's input are backed up.
    func updateReading() {
        if case .closed = phase { return }
        let blocked: Bool
        switch phase {
        case .awaitingParameters: blocked = true
        case .ready: blocked = waitingForServer || (cacheOn && cacheState!.lookupInFlight) || conn.isOverHighWaterMark || (leased?.isOverHighWaterMark ?? false)
        default: blocked = false
        }
        if blocked { conn.pauseReading() } else { conn.resumeReading() }
    }
}
