import EventLoop
import Metrics

/// The `[metrics]` listener: `GET /metrics` (Prometheus text 0.0.4), `GET /healthz` and
/// `GET /readyz`, served on the proxy's own event loop by a small HTTP/1.1 handler
/// (keep-alive, bounded requests, 404 and 405 answers). Scrapes run between client events:
/// building the text touches only counters and the server's bookkeeping.
final class MetricsServer {
    unowned let proxy: ProxyServer
    let listener: Listener
    let readiness: ReadinessChecker
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    /// Scrapers are few; past this, new connections are closed at once.
    static let maxConnections = 64
    /// Request line and headers larger than this are refused (431).
    static let maxRequestHead = 8192
    /// A connection that sends no request for this long is closed.
    static let idleTimeout = 60.0

    init(proxy: ProxyServer, host: String, port: Int) throws {
        self.proxy = proxy
        readiness = ReadinessChecker(proxy: proxy)
        listener = try Listener(loop: proxy.loop, host: host, port: port, backlog: 64) { _ in }
        listener.onAccept = { [unowned self] fd in self.accepted(fd) }
    }

    var port: Int { listener.port }

    private func accepted(_ fd: Int32) {
        guard connections.count < Self.maxConnections else { return Socket.close(fd) }
        do {
            let c = try HTTPConnection(server: self, fd: fd)
            connections[ObjectIdentifier(c)] = c
        } catch {
            proxy.log.error("metrics: cannot register connection: \(error)")
        }
    }

    func connectionEnded(_ c: HTTPConnection) { connections[ObjectIdentifier(c)] = nil }

    func close() {
        listener.close()
        for c in connections.values { c.conn.close() }
    }

    /// Answers one request; `answer` may run later (readiness waits for its probe).
    func respond(to head: HTTPRequestHead, _ answer: @escaping (HTTPResponse) -> Void) {
        switch MetricsRoute(head) {
        case .metrics:
            answer(HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: proxy.metrics.registry.exposition()))
        case .healthz:
            answer(proxy.accepting ? HTTPResponse(status: .ok, body: "ok\n")
                : HTTPResponse(status: .serviceUnavailable, body: "not accepting clients: shutting down\n"))
        case .readyz:
            readiness.check { ready, reason in
                answer(ready ? HTTPResponse(status: .ok, body: "ready\n")
                    : HTTPResponse(status: .serviceUnavailable, body: "not ready: \(reason)\n"))
            }
        case .notFound:
            answer(HTTPResponse(status: .notFound, body: "not found; try /metrics, /healthz or /readyz\n"))
        case .methodNotAllowed:
            answer(HTTPResponse(status: .methodNotAllowed, body: "only GET and HEAD are served\n",
                                extraHeaders: [("Allow", MetricsRoute.allowedMethods)]))
        }
    }
}

/// One scraper's connection: requests are answered in order, one at a time.
final class HTTPConnection: ConnectionDelegate {
    unowned let server: MetricsServer
    let conn: Connection
    private var answering = false
    private var closed = false
    private var idleTimer: TimerID?

    init(server: MetricsServer, fd: Int32) throws {
        self.server = server
        conn = try Connection(loop: server.proxy.loop, fd: fd, connecting: false)
        conn.delegate = self
        armIdleTimer()
    }

    func connectionDidRead(_ c: Connection) { process() }

    func connectionDidClose(_ c: Connection, error: IOError?) {
        closed = true
        if let t = idleTimer { server.proxy.loop.cancel(t) }
        server.connectionEnded(self)
    }

    private func process() {
        while !answering && !closed && conn.inbound.readableBytes > 0 {
            let parsed = conn.inbound.withReadableBytes { HTTPRequestParser.parse($0, maxHeadLength: MetricsServer.maxRequestHead) }
            switch parsed {
            case .incomplete:
                return
            case .invalid(let status):
                conn.inbound.clear()
                conn.send(HTTPResponse(status: status, body: "\(status.reason)\n").encoded(keepAlive: false))
                conn.closeAfterFlush()
                return
            case let .request(head, consumed):
                conn.inbound.moveReaderIndex(forwardBy: consumed)
                armIdleTimer()
                answering = true
                conn.pauseReading()
                server.respond(to: head) { [weak self] response in self?.send(response, for: head) }
            }
        }
    }

    private func send(_ response: HTTPResponse, for head: HTTPRequestHead) {
        answering = false
        guard !closed else { return }
        conn.send(response.encoded(keepAlive: head.keepAlive, includeBody: head.method != "HEAD"))
        if !head.keepAlive { return conn.closeAfterFlush() }
        conn.resumeReading()
        armIdleTimer()
        process()
    }

    private func armIdleTimer() {
        let loop = server.proxy.loop
        if let t = idleTimer { loop.cancel(t) }
        idleTimer = loop.schedule(after: MetricsServer.idleTimeout) { [weak self] in
            guard let self, !self.closed, !self.answering else { return }
            self.conn.close()
        }
    }
}

extension ProxyServer {
    /// Starts the `[metrics]` listener when enabled. A port that cannot be bound is logged
    /// and the proxy runs on without metrics: serving clients matters more than being scraped.
    func startMetrics() {
        metrics.installCollectors(server: self)
        guard config.metrics.enabled else { return }
        do {
            let m = try MetricsServer(proxy: self, host: config.metrics.host, port: config.metrics.port)
            metrics.endpoint = m
            log.info("metrics on http://\(config.metrics.host):\(m.port)/metrics")
        } catch {
            log.error("cannot serve metrics on \(config.metrics.host):\(config.metrics.port): \(error); running without metrics")
        }
    }
}
