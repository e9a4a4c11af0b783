import Buffers
import EventLoop
import Glibc
import Testing

/// All event loop tests run one at a time: each drives real sockets and a loop for up to a few
/// seconds, and the build machine has two shared cores.
@Suite(.serialized) struct EventLoopTests {}

/// Runs `loop` on the calling thread until it is stopped, or for at most `timeout` seconds.
/// Returns false (and records an issue) when the time limit stopped it.
@discardableResult
func runLoop(_ loop: EventLoop, timeout: Double, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    var timedOut = false
    let watchdog = loop.schedule(after: timeout) {
        timedOut = true
        loop.stop()
    }
    loop.run()
    loop.cancel(watchdog)
    if timedOut { Issue.record("event loop timed out after \(timeout) s", sourceLocation: sourceLocation) }
    return !timedOut
}

/// Deterministic pseudo-random bytes, different for each seed.
func pattern(count: Int, seed: UInt32) -> [UInt8] {
    var state = seed &* 2_654_435_761 &+ 1
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state = state &* 1_664_525 &+ 1_013_904_223
        bytes[i] = UInt8(truncatingIfNeeded: state >> 24)
    }
    return bytes
}

/// A port on 127.0.0.1 that nothing listens on (bound, read, then closed).
func closedPort() throws -> Int {
    let fd = try Socket.listenTCP(host: "127.0.0.1", port: 0)
    defer { Socket.close(fd) }
    return try Socket.localPort(of: fd)
}

func setIntOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
    var v = value
    let r = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    precondition(r == 0, "setsockopt \(name): errno \(errno)")
}

/// A delegate made of closures, for tests.
final class Callbacks: ConnectionDelegate {
    var onRead: (Connection) -> Void = { _ in }
    var onDrain: (Connection) -> Void = { _ in }
    var onConnect: (Connection) -> Void = { _ in }
    var onClose: (Connection, IOError?) -> Void = { _, _ in }
    private(set) var reads = 0, drains = 0, connects = 0, closes = 0
    private(set) var closeError: IOError?

    func connectionDidRead(_ c: Connection) { reads += 1; onRead(c) }
    func connectionDidDrain(_ c: Connection) { drains += 1; onDrain(c) }
    func connectionDidConnect(_ c: Connection) { connects += 1; onConnect(c) }
    func connectionDidClose(_ c: Connection, error: IOError?) {
        closes += 1
        closeError = error
        onClose(c, error)
    }
}

/// An `IOHandler` made of a closure, counting its events.
final class Probe: IOHandler {
    var events = 0
    var onEvent: (Probe) -> Void
    init(_ onEvent: @escaping (Probe) -> Void = { _ in }) { self.onEvent = onEvent }
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        events += 1
        onEvent(self)
    }
}

/// Mutable state shared with `@Sendable` closures that only touch it on the loop thread.
final class LoopConfined<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
