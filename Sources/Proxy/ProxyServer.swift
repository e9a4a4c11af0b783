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
    let log: Logger
    private var listenFD: Int32 = -1
    private var listenRegistration: Registration?
    private var acceptor: Acceptor?
    var clients: [Int: ClientHandler] = [:]
    var pools: [PoolKey: PoolDriver] = [:]
    /// pgstash's own BackendKeyData process id → client, for CancelRequest routing.
    var cancelTargets: [Int32: ClientHandler] = [:]
    private var nextClientID = 1
    private var nextPoolIndex = 0
    var statementNames = StatementNames()
    /// Analyses of query texts (one loop thread: no locking needed).
    let analysisCache = AnalysisCache(maximumEntries: 5_000, maximumBytes: 8 << 20)
    private var janitor: TimerID?
    private(set) var accepting = true
    /// Called once the last client is gone after `shutdown(graceful: true)`.
    public var onDrained: (() -> Void)?

    public init(config: ProxyConfiguration, loop: EventLoop, log: Logger = Logger()) {
        self.config = config
        self.loop = loop
        self.log = log
    }

    /// The port the listener is bound to (useful with `listen.port = 0`).
    public private(set) var boundPort = 0

    public func start() throws {
        listenFD = try Socket.listenTCP(host: config.listen.host, port: config.listen.port)
        boundPort = try Socket.localPort(of: listenFD)
        let a = Acceptor(server: self)
        acceptor = a
        listenRegistration = try loop.register(fd: listenFD, interest: .readable, handler: a)
        scheduleJanitor()
        log.info("listening on \(config.listen.host):\(boundPort)")
    }

    private func scheduleJanitor() {
        janitor = loop.schedule(after: 0.1) { [weak self] in
            guard let self else { return }
            let now = self.loop.now
            for p in self.pools.values { p.tick(now: now) }
            self.scheduleJanitor()
        }
    }

    /// Installs a reloaded configuration: new clients and new pools use it; pool limits and
    /// timeouts of existing pools change at once.
    public func reload(_ new: ProxyConfiguration) {
        config = new
        for p in pools.values { p.reconfigure(config: new) }
        log.info("configuration reloaded")
    }

    /// Stops accepting. Graceful: clients finish their transactions, then `onDrained`.
    public func shutdown(graceful: Bool) {
        stopAccepting()
        if graceful {
            for c in clients.values { c.shutdownRequested() }
            checkDrained()
        } else {
            for c in clients.values { c.close(error: nil) }
            onDrained?()
        }
    }

    func stopAccepting() {
        guard accepting else { return }
        accepting = false
        if let r = listenRegistration { loop.unregister(r) }
        Socket.close(listenFD)
    }

    func checkDrained() {
        if !accepting && clients.isEmpty { onDrained?() }
    }

    fileprivate func acceptReady() {
        while accepting {
            let fd: Int32
            do {
                guard case .processed(let f) = try Socket.accept(listenFD) else { return }
                fd = f
            } catch {
                log.error("accept failed: \(error)")   // EMFILE and friends: try again next event
                return
            }
            Socket.setNoDelay(fd)
            let id = nextClientID
            nextClientID += 1
            do {
                let tooMany = clients.count >= config.listen.maxClients
                let c = try ClientHandler(id: ClientID(id), fd: fd, server: self, reject: tooMany)
                clients[id] = c
                c.start()
            } catch {
                Socket.close(fd)
                log.error("cannot register client: \(error)")
            }
        }
    }

    func clientClosed(_ c: ClientHandler) {
        clients[c.id.raw] = nil
        if let pid = c.cancelKey?.processID, cancelTargets[pid] === c { cancelTargets[pid] = nil }
        checkDrained()
    }

    /// The pool clients of `database` logging in as `user` share.
    func pool(database: String, user: String) -> PoolDriver? {
        guard let db = config.databases[database] else { return nil }
        let upstreamUser = db.user ?? user
        let key = PoolKey(database: database, user: upstreamUser)
        if let p = pools[key] { return p }
        let password = db.password ?? config.auth.users[upstreamUser]
        let p = PoolDriver(key: key, database: db, upstreamPassword: password,
                           config: config.effectivePool(database: database, user: user),
                           server: self, idBase: nextPoolIndex * 1_000_000, idStride: 1)
        nextPoolIndex += 1
        pools[key] = p
        return p
    }

    private let mockSaltSecret = Crypto.randomBytes(32)

    /// The salt shown to an unknown user: stable for that name within this process.
    func mockSalt(for user: String) -> [UInt8] {
        Array(Crypto.sha256(mockSaltSecret + Array(user.utf8)).prefix(16))
    }

    private var derivedVerifiers: [String: (secret: String, verifier: String)] = [:]

    /// A SCRAM verifier for a plain password from the auth file, derived once per user (the
    /// 4096 PBKDF2 rounds would otherwise run at every login). Verifiers and md5 hashes
    /// are returned unchanged.
    func scramVerifier(user: String, secret: String) -> String {
        guard ScramKeys(verifier: secret) == nil, !MD5Password.isStoredHash(secret) else { return secret }
        if let d = derivedVerifiers[user], d.secret == secret { return d.verifier }
        let v = ScramKeys(password: secret, salt: Crypto.randomBytes(16), iterations: 4096).verifier
        derivedVerifiers[user] = (secret, v)
        return v
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
    func sendCancel(host: String, port: Int, processID: Int32, secretKey: Int32) {
        do {
            let (fd, inProgress) = try Socket.connectTCP(host: host, port: port)
            var b = ByteBuffer()
            StartupPacket.cancelRequest(processID: processID, secretKey: secretKey).encode(into: &b)
            let sender = CancelSender(packet: Array(b.readableView))
            let conn = try Connection(loop: loop, fd: fd, connecting: inProgress)
            sender.start(conn)
        } catch {
            log.error("cannot send cancel request to \(host):\(port): \(error)")
        }
    }
}

/// Identifies a pool: the client-facing database name and the upstream user.
struct PoolKey: Hashable {
    let database: String
    let user: String
}

private final class Acceptor: IOHandler {
    unowned let server: ProxyServer
    init(server: ProxyServer) { self.server = server }
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool) { server.acceptReady() }
}

/// Sends one CancelRequest packet and closes; keeps itself alive until its connection ends.
private final class CancelSender: ConnectionDelegate {
    let packet: [UInt8]
    var conn: Connection?
    init(packet: [UInt8]) { self.packet = packet }

    func start(_ c: Connection) {
        conn = c
        c.delegate = self
        c.userData = self      // the connection keeps us alive until it closes
        if !c.isConnecting { connectionDidConnect(c) }
    }
    func connectionDidConnect(_ c: Connection) { c.send(packet); c.closeAfterFlush() }
    func connectionDidRead(_ c: Connection) { c.inbound.clear() }
    func connectionDidDrain(_ c: Connection) {}
    func connectionDidClose(_ c: Connection, error: IOError?) { c.userData = nil; conn = nil }
}
