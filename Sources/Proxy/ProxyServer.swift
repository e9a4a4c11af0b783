import EventLoop
import Glibc
import PostgresWire
import ProxyConfig
import ProxyCore
import SQLAnalysis

/// One pgstash process: a listener, its clients, and a pool per (database, upstream user).
/// Everything runs on one event-loop thread.
public final class ProxyServer {
    public let loop: EventLoop
    public private(set) var config: ProxyConfiguration
    public internal(set) var log: Logger
    /// `--verbose`: the log level stays debug across reloads.
    public var verboseLogging = false
    var listenFD: Int32 = -1
    var acceptor: IOHandler?
    var clients: [Int: ClientHandler] = [:]
    var pools: [PoolKey: PoolDriver] = [:]
    /// Upstream backend pid → its server connection, whose `lastClientPID` is the pgstash pid of
    /// the client that last leased it: a notification names its sender as the sender itself
    /// knows its backend pid. Set at login, not per lease.
    var backendServers: [Int32: LoopWeak<ServerHandler>] = [:]
    /// pgstash's own BackendKeyData process id → client, for CancelRequest routing.
    var cancelTargets: [Int32: ClientHandler] = [:]
    var nextClientID = 1
    var nextPoolIndex = 0
    var statementNames = StatementNames()
    /// Analyses of query texts (one loop thread: no locking needed).
    let analysisCache = AnalysisCache(maximumEntries: 5_000, maximumBytes: 8 << 20)
    let metrics = ProxyMetrics()
    /// The result cache, when `[cache] enabled`.
    var cache: ResultCache?
    private var janitor: TimerID?
    /// Resolves upstream host names off the loop thread.
    lazy var resolver = AsyncResolver(loop: loop, cacheTTL: 30, maxConcurrentLookups: 4)
    /// `[auth]` users' credentials, prepared at load and reload (no login derives keys).
    var credentials: CredentialStore
    /// `[auth] auth_query` answers and lookups in flight (ProxyServer+AuthQuery.swift).
    var authQueries: AuthQueryCache
    /// `auth_user`'s libpq connections between lookups (used by the lookup threads).
    let authConnections = AuthQueryConnections(maxPerKey: 8, idleTimeout: 60)
    var accepting = true
    /// Shutting down: the cache is being left, `onDrained` follows.
    var draining = false
    /// Admin console state: pauses, SHOW STATS counters, version and RELOAD hook.
    public let admin = AdminRegistry()
    /// The certificate clients' TLS handshakes use; nil when `[tls]` serves no TLS.
    var clientTLSContext: TLSContext?
    /// Client contexts toward upstream servers, by setting (ProxyServer+TLS.swift).
    var upstreamTLSContexts: [UpstreamTLSConfig: TLSContext] = [:]
    /// Called once the last client is gone after `shutdown(graceful: true)`.
    public var onDrained: (() -> Void)?
    /// What deferred callbacks hold instead of `[weak self]`: a weak reference would give
    /// the server a side table, and every retain of it on the relay path would take the
    /// runtime's slow path.
    let weakRef = LoopWeak<ProxyServer>()

    deinit { weakRef.target = nil }

    public init(config: ProxyConfiguration, loop: EventLoop, log: Logger = Logger()) {
        self.config = config
        self.loop = loop
        self.log = log
        self.credentials = CredentialStore(auth: config.auth)
        metrics.recording = config.metrics.enabled
        self.authQueries = AuthQueryCache(ttl: config.auth.authCacheTTL)
        admin.configureDigests(capacity: config.admin.queryDigests)
        weakRef.target = self
    }

    /// The port the listener is bound to (useful with `listen.port = 0`).
    public internal(set) var boundPort = 0


    func scheduleJanitor() {
        janitor = loop.schedule(after: 0.1) { [weakRef] in
            guard let self = weakRef.target else { return }
            let now = self.loop.now
            for p in self.pools.values { p.tick(now: now) }
            self.closeIdleAuthConnections(now: now)
            self.scheduleJanitor()
        }
    }

    /// Installs a reloaded configuration: new clients and new pools use it; pool limits and
    /// timeouts of existing pools change at once; certificates are read again. Throws (and
    /// changes nothing) when a TLS certificate or key does not load.
    public func reload(_ new: ProxyConfiguration) throws {
        do { try reloadTLS(new) } catch {
            log.error("reload rejected: \(error)")
            throw error
        }
        config = new
        credentials.update(auth: new.auth)
        reloadAuthQueries(new)
        for p in pools.values { p.reconfigure(config: new) }
        cache?.reload(new)
        loop.setBusyPoll(limitNanoseconds: new.listen.busyPollNanoseconds)
        reloadOperations(new)
    }

    /// Stops accepting. Graceful: clients finish their transactions, then `onDrained`.
    public func shutdown(graceful: Bool) {
        stopAccepting()
        if graceful {
            for c in clients.values { c.shutdownRequested() }
            checkDrained()
        } else {
            for c in clients.values { c.close(error: nil) }
            checkDrained()
        }
    }


    func checkDrained() {
        if !accepting && clients.isEmpty, !draining {
            draining = true
            stopCache { [weakRef] in weakRef.target?.onDrained?() }
        }
    }


    func clientClosed(_ c: ClientHandler) {
        clients[c.id.raw] = nil
        metrics.clientClosed(c)
        if let pid = c.cancelKey?.processID, cancelTargets[pid] === c { cancelTargets[pid] = nil }
        checkDrained()
    }



    /// Routes a CancelRequest to the server currently running that client's query.
    func cancelRequested(processID: Int32, secretKey: Int32) {
        guard let c = cancelTargets[processID], c.cancelKey?.secretKey == secretKey else {
            log.debug("cancel request for an unknown key ignored")
            return
        }
        c.cancelRunningQuery()
    }

    /// Opens a short connection to a server and sends it a CancelRequest for its backend.
    func sendCancel(host: String, port: Int, processID: Int32, secretKey: Int32, completion: @escaping () -> Void) {
        resolver.resolve(host: host, port: port) { [weakRef] result in
            guard let self = weakRef.target else { return completion() }
            switch result {
            case .success(let addresses):
                self.sendCancel(to: addresses[0], processID: processID, secretKey: secretKey, completion: completion)
            case .failure(let e):
                self.log.error("cannot send cancel request to \(host):\(port): \(e)")
                completion()
            }
        }
    }

    private func sendCancel(to address: SocketAddress, processID: Int32, secretKey: Int32, completion: @escaping () -> Void) {
        do {
            let (fd, inProgress) = try Socket.connectTCP(address: address)
            var b = ByteBuffer()
            StartupPacket.cancelRequest(processID: processID, secretKey: secretKey).encode(into: &b)
            let sender = CancelSender(packet: Array(b.readableView), completion: completion)
            let conn = try Connection(loop: loop, fd: fd, connecting: inProgress)
            sender.start(conn)
        } catch {
            log.error("cannot send cancel request to \(address): \(error)")
            completion()
        }
    }
}

/// Identifies a pool: the client-facing database name, the upstream user, and the client
/// user whose `[pool.users.NAME]` overrides shape its settings (nil: none apply).
struct PoolKey: Hashable {
    let database: String
    let user: String
    let overridesOf: String?
}


/// Sends one CancelRequest packet and closes; keeps itself alive until its connection ends.
private final class CancelSender: ConnectionDelegate {
    let packet: [UInt8]
    var conn: Connection?
    /// Runs once the postmaster closed the connection: it has signalled the backend.
    var completion: (() -> Void)?
    init(packet: [UInt8], completion: @escaping () -> Void) {
        self.packet = packet
        self.completion = completion
    }

    func start(_ c: Connection) {
        conn = c
        c.delegate = self
        c.userData = self      // the connection keeps us alive until it closes
        if !c.isConnecting { connectionDidConnect(c) }
    }
    /// Half-closes after the packet and waits for the postmaster to close its side.
    func connectionDidConnect(_ c: Connection) { c.send(packet); c.shutdownOutput() }
    func connectionDidRead(_ c: Connection) { c.inbound.clear() }
    func connectionDidDrain(_ c: Connection) {}
    func connectionDidClose(_ c: Connection, error: IOError?) {
        c.userData = nil
        conn = nil
        let done = completion
        completion = nil
        done?()
    }
}
