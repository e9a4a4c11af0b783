import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// One pool's listener connection: under transaction pooling, clients' LISTENs are relayed
/// through it (their pooled servers drop notifications). It logs in like a pooled server but
/// stays outside `max_upstream`, LISTENs upstream on every channel some client listens on,
/// hands each NotificationResponse to the pool, and after losing its connection reconnects
/// with back-off, LISTENs again, and tells the listening clients they may have missed some.
final class ListenerConnection: ConnectionDelegate {
    enum Phase { case idle, connecting, loggingIn, ready }

    unowned(unsafe) let pool: PoolDriver
    private var conn: Connection?
    private var phase = Phase.idle
    private var login: ServerLogin?
    /// SSLRequest and handshake before the StartupMessage (sslmode); nil once logging in.
    private var tlsStart: UpstreamTLSStart?
    /// `sslmode = allow`: an unencrypted login was refused, later attempts use TLS.
    private var retryingWithTLS = false
    /// Channels LISTENed on the current connection (sent; PostgreSQL answers in order).
    private var listened: Set<String> = []
    private var retryDelay = 0.1
    private var reconnectTimer: TimerID?
    /// The connection was lost once: the next login announces a possible gap.
    private var lostOnce = false
    /// LISTEN queries sent and not yet answered, each with what waits for its answer.
    private var inFlight: [[() -> Void]] = []
    /// What waits for the connection to log in and LISTEN.
    private var waitingForLogin: [() -> Void] = []

    /// Runs `done` once every channel in `channels` is listened on upstream; returns true
    /// (and does not keep `done`) when they already are.
    func whenListening(on channels: [String], _ done: @escaping () -> Void) -> Bool {
        switch phase {
        case .ready:
            if inFlight.isEmpty && channels.allSatisfy(listened.contains) { return true }
            if inFlight.isEmpty { sync() }
            if inFlight.isEmpty { return true }
            inFlight[inFlight.count - 1].append(done)
        case .idle, .connecting, .loggingIn:
            waitingForLogin.append(done)
            if phase == .idle { sync() }
        }
        return false
    }

    init(pool: PoolDriver) { self.pool = pool }

    var loop: EventLoop { pool.server.loop }
    var log: Logger { pool.server.log }

    /// Brings the upstream LISTENs in line with the pool's relay, connecting if needed.
    func sync() {
        switch phase {
        case .idle:
            guard !pool.relay.isEmpty else { return }
            connect()
        case .connecting, .loggingIn:
            return                   // synced once logged in
        case .ready:
            let sql = pool.relay.statements(from: listened)
            guard !sql.isEmpty, let c = conn else { return }
            var b = ByteBuffer()
            FrontendMessage.query(sql.joined(separator: "; ")).encode(into: &b)
            c.send(b)
            inFlight.append([])
            listened = pool.relay.channels
        }
    }

    private func connect() {
        phase = .connecting
        let db = pool.database
        pool.server.resolver.resolve(host: db.host, port: db.port) { [weak self] result in
            guard let self, self.phase == .connecting else { return }
            guard case .success(let addresses) = result else { return self.lost("cannot resolve \(db.host)") }
            do {
                let (fd, inProgress) = try Socket.connectTCP(address: addresses[0])
                Socket.setNoDelay(fd)
                let c = try Connection(loop: self.loop, fd: fd, connecting: inProgress)
                c.delegate = self
                self.conn = c
                if !inProgress { self.connectionDidConnect(c) }
            } catch {
                self.lost("cannot connect to \(db.host):\(db.port): \(error)")
            }
        }
    }

    func connectionDidConnect(_ c: Connection) {
        phase = .loggingIn
        var start = UpstreamTLSStart(settings: pool.database.tls, host: pool.database.host, retryingWithTLS: retryingWithTLS)
        let step = start.connected(c)
        tlsStart = start
        run(step, c)
    }

    func connectionDidCompleteTLSHandshake(_ c: Connection) { run(.sendStartup, c) }

    private func run(_ step: UpstreamTLSStart.Step, _ c: Connection) {
        switch step {
        case .wait: return
        case let .startTLS(context, role):
            // Starting TLS may complete the handshake, or close `c`, before it returns.
            c.startTLS(context, role: role)
        case .sendStartup:
            tlsStart = nil
            let l = pool.newLogin()
            login = l
            c.send(l.startupPacket)
        case let .fail(_, message):
            lost(message)
        }
    }

    func connectionDidRead(_ c: Connection) {
        if var start = tlsStart {
            guard start.awaitingAnswer else { return }
            let step = start.answerReceived(c, server: pool.server)
            tlsStart = start
            return run(step, c)
        }
        while true {
            let frame: (id: UInt8, body: [UInt8])
            do {
                guard let f = try Framing.nextFrame(&c.inbound, maxBodyLength: Int(Int32.max)) else { return }
                frame = f
            } catch {
                return lost("malformed message: \(error)")
            }
            guard let msg = try? BackendMessage.decode(id: frame.id, body: frame.body) else { continue }
            if phase == .loggingIn, var l = login {
                let action = l.messageReceived(msg)
                login = l
                switch action {
                case .wait: continue
                case .send(let bytes): c.send(bytes)
                case let .fail(sqlState, message):
                    if UpstreamTLSNegotiation(mode: pool.database.tls.sslmode, retryingWithTLS: retryingWithTLS)
                        .shouldRetryWithTLS(afterLoginFailure: sqlState) {
                        retryingWithTLS = true
                    }
                    return lost("login failed: \(message)")
                case .ready:
                    phase = .ready
                    login = nil
                    retryDelay = 0.1
                    listened = []
                    log.info("pool \(pool.key.database)/\(pool.key.user): listener connection ready")
                    sync()
                    let waiting = waitingForLogin
                    waitingForLogin = []
                    if inFlight.isEmpty { waiting.forEach { $0() } } else { inFlight[inFlight.count - 1] += waiting }
                    if lostOnce {
                        lostOnce = false
                        pool.listenerGapEnded()
                    }
                }
                continue
            }
            switch msg {
            case let .notificationResponse(_, channel, _):
                pool.notificationArrived(channel: channel, frame: [frame.id] + Self.length(frame.body.count) + frame.body)
            case .readyForQuery:
                if !inFlight.isEmpty { inFlight.removeFirst().forEach { $0() } }
            case .errorResponse(let f):
                log.warning("listener connection: \(f.message ?? "error")")
            default:
                continue
            }
        }
    }

    static func length(_ bodyCount: Int) -> [UInt8] {
        let n = UInt32(bodyCount + 4)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
    }

    func connectionDidDrain(_ c: Connection) {}

    func connectionDidClose(_ c: Connection, error: IOError?) {
        conn = nil
        lost("connection closed\(error.map { ": \($0.message)" } ?? "")")
    }

    /// The connection is gone (or could not be made): retry with back-off while anyone listens.
    private func lost(_ why: String) {
        tlsStart = nil
        conn?.delegate = nil
        conn?.close()
        conn = nil
        let wasReady = phase == .ready
        phase = .idle
        listened = []
        // Nobody waits on a connection that is gone: the clients go on, and are warned of the
        // gap once it is back.
        let waiting = inFlight.flatMap { $0 } + waitingForLogin
        inFlight = []
        waitingForLogin = []
        if !waiting.isEmpty { lostOnce = true }
        waiting.forEach { $0() }
        guard !pool.relay.isEmpty else { return }
        if wasReady {
            lostOnce = true
            log.warning("pool \(pool.key.database)/\(pool.key.user): listener connection lost (\(why)); reconnecting")
        }
        if let t = reconnectTimer { loop.cancel(t) }
        reconnectTimer = loop.schedule(after: retryDelay) { [weak self] in
            guard let self else { return }
            self.reconnectTimer = nil
            if self.phase == .idle { self.sync() }
        }
        retryDelay = min(retryDelay * 2, 5)
    }

    func close() {
        if let t = reconnectTimer { loop.cancel(t) }
        conn?.delegate = nil
        conn?.close()
        conn = nil
        phase = .idle
    }
}
