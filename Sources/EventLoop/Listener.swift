/// A listening socket on an `EventLoop` that accepts connections and hands each new
/// non-blocking fd to `onAccept`. Accepts at most `acceptsPerEvent` per readiness event for
/// fairness. When accept fails (EMFILE, ENFILE, ENOBUFS...), `onError` is told and accepting
/// pauses for `retryDelay` seconds instead of spinning on a level-triggered event.
public final class Listener: IOHandler {
    public let loop: EventLoop
    public let fd: Int32
    public let port: Int
    public var acceptsPerEvent = 64
    public var retryDelay = 0.1
    /// Sets TCP_NODELAY on each accepted socket (request/response traffic wants it).
    public var noDelay = true
    public var onAccept: (Int32) -> Void
    public var onError: (IOError) -> Void = { _ in }
    public private(set) var isClosed = false

    private var registration: Registration!
    private var retryTimer: TimerID?

    /// Listens on `host:port` (port 0 picks a free port; see `port`).
    public init(loop: EventLoop, host: String, port: Int, backlog: Int32 = 1024,
                onAccept: @escaping (Int32) -> Void) throws {
        self.loop = loop
        self.onAccept = onAccept
        fd = try Socket.listenTCP(host: host, port: port, backlog: backlog)
        do {
            self.port = try Socket.localPort(of: fd)
            registration = try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            Socket.close(fd)
            throw error
        }
    }

    /// Stops accepting and closes the listening socket.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if let retryTimer { loop.cancel(retryTimer) }
        loop.unregister(registration)
        Socket.close(fd)
    }

    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        for _ in 0..<acceptsPerEvent where !isClosed {
            do {
                guard case .processed(let client) = try Socket.accept(fd) else { return }
                if noDelay { Socket.setNoDelay(client) }
                onAccept(client)
            } catch let error as IOError {
                onError(error)
                pauseAccepting()
                return
            } catch {
                preconditionFailure("unexpected \(error)")
            }
        }
    }

    private func pauseAccepting() {
        guard !isClosed, retryTimer == nil else { return }
        loop.setInterest(registration, .none)
        retryTimer = loop.schedule(after: retryDelay) { [weak self] in
            guard let self, !self.isClosed else { return }
            self.retryTimer = nil
            self.loop.setInterest(self.registration, .readable)
        }
    }
}
