import EventLoop
import PostgresWire
import ProxyCore

/// Decides `GET /readyz`: ready once every configured upstream database has answered.
/// A pool holding a logged-in server (with no connect failure since) is evidence enough;
/// otherwise a probe connects to the database and sends a startup packet, and any answer
/// that shows PostgreSQL accepting connections — an authentication request, or an
/// authentication error, which is the pool's business — counts. A probe's result is
/// reused for `freshness` seconds.
final class ReadinessChecker {
    typealias Verdict = (ready: Bool, reason: String)
    unowned let proxy: ProxyServer
    /// Last probe result by database name: when, and the error if it failed.
    private var results: [String: (at: Double, error: String?)] = [:]
    private var inFlight: [String: UpstreamProbe] = [:]
    private var waiting: [(Verdict) -> Void] = []
    static let freshness = 2.0
    /// A probe that has no answer by then has failed.
    static let probeTimeout = 5.0

    init(proxy: ProxyServer) { self.proxy = proxy }

    func check(_ done: @escaping (Verdict) -> Void) {
        waiting.append(done)
        answerIfDecided()
    }

    private func answerIfDecided() {
        guard let verdict = evaluate() else { return }
        let w = waiting
        waiting.removeAll()
        for done in w { done(verdict) }
    }

    /// The verdict, or nil while probes are running (it starts those that are due).
    private func evaluate() -> Verdict? {
        let names = proxy.config.databases.keys.sorted()
        guard !names.isEmpty else { return (false, "no [databases] are configured") }
        var failures: [String] = []
        var pending = false
        for name in names where !hasLoggedInServer(database: name) {
            if let r = results[name], proxy.loop.now - r.at < Self.freshness {
                if let e = r.error, let db = proxy.config.databases[name] {
                    failures.append("database \(name) at \(db.host):\(db.port): \(e)")
                }
                continue
            }
            pending = true
            if inFlight[name] == nil { startProbe(database: name) }
        }
        if pending { return nil }
        return failures.isEmpty ? (true, "") : (false, failures.joined(separator: "; "))
    }

    private func hasLoggedInServer(database: String) -> Bool {
        proxy.pools.values.contains {
            $0.key.database == database && $0.pool.lastError == nil && $0.pool.idleCount + $0.pool.activeCount > 0
        }
    }

    private func startProbe(database name: String) {
        guard let db = proxy.config.databases[name] else { return }
        let packet = ServerLogin(user: db.user ?? "pgstash", password: nil, database: db.dbname, clientNonce: "").startupPacket
        let probe = UpstreamProbe(loop: proxy.loop, packet: packet) { [weak self] error in
            self?.probeFinished(database: name, error: error)
        }
        inFlight[name] = probe
        proxy.resolver.resolve(host: db.host, port: db.port) { [weak probe] result in
            switch result {
            case .success(let addresses): probe?.connect(to: addresses[0])
            case .failure(let e): probe?.finish("cannot resolve \(db.host): \(e)")
            }
        }
    }

    private func probeFinished(database name: String, error: String?) {
        inFlight[name] = nil
        results[name] = (proxy.loop.now, error)
        if error != nil { proxy.log.info("readiness: database \(name) did not answer: \(error!)") }
        answerIfDecided()
    }
}

/// One readiness probe: connect, send a startup packet, read the first answer, close.
/// Reports once, never synchronously from `connect` (its owner may be mid-evaluation).
final class UpstreamProbe: ConnectionDelegate {
    let loop: EventLoop
    let packet: [UInt8]
    private var conn: Connection?
    private var timer: TimerID?
    private var done: ((String?) -> Void)?

    init(loop: EventLoop, packet: [UInt8], done: @escaping (String?) -> Void) {
        self.loop = loop
        self.packet = packet
        self.done = done
        timer = loop.schedule(after: ReadinessChecker.probeTimeout) { [weak self] in
            self?.finish("no answer within \(ReadinessChecker.probeTimeout) s")
        }
    }

    func connect(to address: SocketAddress) {
        do {
            let (fd, inProgress) = try Socket.connectTCP(address: address)
            let c = try Connection(loop: loop, fd: fd, connecting: inProgress)
            c.delegate = self
            conn = c
            if !inProgress { connectionDidConnect(c) }
        } catch {
            let message = "cannot connect to \(address): \(error)"
            _ = loop.schedule(after: 0) { [weak self] in self?.finish(message) }
        }
    }

    func connectionDidConnect(_ c: Connection) { c.send(packet) }

    func connectionDidRead(_ c: Connection) {
        guard let header = try? Framing.peekHeader(c.inbound, maxBodyLength: 64 * 1024) else {
            return c.inbound.readableBytes >= 5 ? finish("the upstream sent something other than a PostgreSQL answer") : ()
        }
        switch BackendMessageID(rawValue: header.id) {
        case .authentication?:
            finish(nil)
        case .errorResponse?:
            guard c.inbound.readableBytes >= header.frameLength else { return }
            let body = c.inbound.readableView.dropFirst(5).prefix(header.bodyLength)
            let fields = (try? BackendMessage.decode(id: header.id, body: Array(body)))
            guard case .errorResponse(let f)? = fields else { return finish("malformed ErrorResponse") }
            // 28xxx: PostgreSQL is up and refused this login; that is the pools' concern.
            finish((f.sqlState ?? "").hasPrefix("28") ? nil : "\(f.sqlState ?? "?") \(f.message ?? "")")
        default:
            finish("unexpected first message \(header.id)")
        }
    }

    func connectionDidClose(_ c: Connection, error: IOError?) {
        conn = nil
        finish("connection closed" + (error.map { ": \($0.message)" } ?? ""))
    }

    func finish(_ error: String?) {
        guard let d = done else { return }
        done = nil
        if let t = timer { loop.cancel(t) }
        timer = nil
        let c = conn
        conn = nil
        c?.delegate = nil
        c?.close()
        d(error)
    }
}
