/// A listening socket on an `EventLoop` that accepts connections and hands each new
/// non-blocking fd to `onAccept`. Accepts at most `acceptsPerEvent` per readiness event for
/// fairness.
///
/// When accept fails (EMFILE, ENFILE, ENOBUFS, ENOMEM...), the listening socket stays ready,
/// so a level-triggered loop would call accept again at once, forever. Instead the listener
/// stops watching the socket for the pause `backoff` gives (growing while the failures go on),
/// tells `onError` once per pause, and then tries again; connections wait in the backlog.
public final class Listener: IOHandler {
    public let loop: EventLoop
    public let fd: Int32
    public let port: Int
    public var acceptsPerEvent = 64
    /// How long accepting pauses after a failure.
    public var backoff = AcceptBackoff()
    /// Sets TCP_NODELAY on each accepted socket (request/response traffic wants it).
    public var noDelay = true
    public var onAccept: (Int32) -> Void
    /// Told of each failure, with the seconds accepting now pauses for.
    public var onError: (IOError, _ pause: Double) -> Void = { _, _ in }
    public private(set) var isClosed = false
    /// True while accepting is paused after a failure.
    public var isPaused: Bool { retryTimer != nil }
    /// The listening socket's registration with `loop`.
    public var registration: Registration { registered }

    /// The accept call; tests replace it to simulate running out of descriptors.
    var acceptCall: (Int32) throws -> IOResult<Int32> = Socket.accept
    private var registered: Registration!
    private var retryTimer: TimerID?

    /// Listens on `host:port` (port 0 picks a free port; see `port`).
    public init(loop: EventLoop, host: String, port: Int, backlog: Int32 = 1024,
                onAccept: @escaping (Int32) -> Void) throws {
        self.loop = loop
        self.onAccept = onAccept
        fd = try Socket.listenTCP(host: host, port: port, backlog: backlog)
        do {
            self.port = try Socket.localPort(of: fd)
            registered = try loop.register(fd: fd, interest: .readable, handler: self)
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
        retryTimer = nil
        loop.unregister(registered)
        Socket.close(fd)
    }

    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        for _ in 0..<acceptsPerEvent where !isClosed && retryTimer == nil {
            do {
                guard case .processed(let client) = try acceptCall(fd) else { return }
                backoff.acceptSucceeded()
                if noDelay { Socket.setNoDelay(client) }
                onAccept(client)
            } catch let error as IOError {
                pauseAccepting(after: error)
                return
            } catch {
                preconditionFailure("unexpected \(error)")
            }
        }
    }

    private func pauseAccepting(after error: IOError) {
        guard !isClosed, retryTimer == nil else { return }
        let pause = backoff.acceptFailed()
        loop.setInterest(registered, .none)
        retryTimer = loop.schedule(after: pause) { [weak self] in
            guard let self, !self.isClosed else { return }
            self.retryTimer = nil
            self.loop.setInterest(self.registered, .readable)
        }
        onError(error, pause)
    }
}

/// How long a `Listener` stops accepting after accept fails: `initialDelay` after the first
/// failure, doubling with each failure in a row up to `maximumDelay`. A successful accept
/// starts over.
public struct AcceptBackoff: Sendable, Equatable {
    public let initialDelay: Double
    public let maximumDelay: Double
    /// Failures since the last successful accept.
    public private(set) var consecutiveFailures = 0

    public init(initialDelay: Double = 0.1, maximumDelay: Double = 1) {
        precondition(initialDelay > 0 && maximumDelay >= initialDelay)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The pause before the next accept.
    public mutating func acceptFailed() -> Double {
        let pause = min(initialDelay * Double(1 << min(consecutiveFailures, 30)), maximumDelay)
        consecutiveFailures += 1
        return pause
    }

    public mutating func acceptSucceeded() {
        consecutiveFailures = 0
    }
}
