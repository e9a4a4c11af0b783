import CHiredis
import EventLoop

/// One hiredis async context driven by our `EventLoop` (platform-notes §3): hiredis's
/// addRead/delRead/addWrite/delWrite/cleanup hooks become `setInterest`/`unregister` on the
/// loop, and the loop's readiness events call `redisAsyncHandleRead/Write`.
///
/// A connection lives once: after it fails or closes, `RedisStore` makes a new one. The owner
/// keeps it alive until `.closed` (hiredis calls back into it while freeing). Each
/// command carries its id as hiredis `privdata`; hiredis answers every command exactly once,
/// with a reply or, when the context goes away, with NULL.
final class RedisConnection: IOHandler {
    /// Events to the owner, on the loop thread.
    enum Event {
        /// The TCP or Unix-socket connect completed (true) or failed (false).
        case connected(Bool)
        /// Command `id` was answered; nil: the connection went away first.
        case reply(id: UInt64, RedisValue?)
        /// The context is gone; the owner must not use this connection again.
        case closed(reason: String)
    }

    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private let loop: EventLoop
    private var registration: Registration?
    private var interest: Interest = .none
    private let onEvent: (Event) -> Void
    private var closedReported = false
    private(set) var errorText = ""

    /// Starts connecting; nil (with `failure` set) when hiredis fails at once, e.g. a Unix
    /// socket path that does not exist.
    init?(endpoint: RedisEndpoint, loop: EventLoop, failure: inout String, onEvent: @escaping (Event) -> Void) {
        self.loop = loop
        self.onEvent = onEvent
        let ac: UnsafeMutablePointer<redisAsyncContext>?
        switch endpoint {
        case .tcp(let host, let port): ac = redisAsyncConnect(host, Int32(port))
        case .unix(let path): ac = redisAsyncConnectUnix(path)
        }
        guard let ac else { failure = "out of memory"; return nil }
        if ac.pointee.err != 0 {
            failure = Self.errorString(ac)
            redisAsyncFree(ac)
            return nil
        }
        context = ac
        do {
            // Register first: setting the connect callback calls addWrite at once (0.14.1).
            registration = try loop.register(fd: ac.pointee.c.fd, interest: .none, handler: self)
        } catch {
            failure = "cannot watch the Redis socket: \(error)"
            context = nil
            redisAsyncFree(ac)
            return nil
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        ac.pointee.ev.data = me
        ac.pointee.data = me
        ac.pointee.ev.addRead = { RedisConnection.from($0).update(add: .readable, remove: []) }
        ac.pointee.ev.delRead = { RedisConnection.from($0).update(add: [], remove: .readable) }
        ac.pointee.ev.addWrite = { RedisConnection.from($0).writeWanted() }
        ac.pointee.ev.delWrite = { RedisConnection.from($0).update(add: [], remove: .writable) }
        ac.pointee.ev.cleanup = { RedisConnection.from($0).contextGone() }
        redisAsyncSetConnectCallback(ac) { ac, status in
            guard let ac else { return }
            let me = RedisConnection.from(ac.pointee.data)
            if status != REDIS_OK { me.errorText = RedisConnection.errorString(ac) }
            me.onEvent(.connected(status == REDIS_OK))
        }
        redisAsyncSetDisconnectCallback(ac) { ac, status in
            guard let ac else { return }
            let me = RedisConnection.from(ac.pointee.data)
            if status != REDIS_OK { me.errorText = RedisConnection.errorString(ac) }
        }
    }


    private static func from(_ p: UnsafeMutableRawPointer?) -> RedisConnection {
        Unmanaged<RedisConnection>.fromOpaque(p!).takeUnretainedValue()
    }

    private static func errorString(_ ac: UnsafePointer<redisAsyncContext>) -> String {
        withUnsafeBytes(of: ac.pointee.c.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "error \(ac.pointee.err)" : String(decoding: bytes, as: UTF8.self)
        }
    }

    var isOpen: Bool { context != nil }

    /// Queues a RESP-encoded command; false if the context is closing or gone.
    func send(_ resp: [UInt8], id: UInt64) -> Bool {
        guard let ac = context else { return false }
        let rc = resp.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                redisAsyncFormattedCommand(ac, { ac, reply, privdata in
                    guard let ac else { return }
                    let me = RedisConnection.from(ac.pointee.data)
                    let id = UInt64(UInt(bitPattern: privdata))
                    let value = reply.map { RedisValue($0.assumingMemoryBound(to: redisReply.self)) }
                    if value == nil, me.errorText.isEmpty { me.errorText = RedisConnection.errorString(ac) }
                    me.onEvent(.reply(id: id, value))
                }, UnsafeMutableRawPointer(bitPattern: UInt(id)), chars.baseAddress, chars.count)
            }
        }
        return rc == REDIS_OK
    }

    /// Closes at once: hiredis answers every outstanding command with NULL (`.reply(id, nil)`),
    /// then `.closed` is reported. Safe inside a reply callback (hiredis defers the free).
    func close() {
        guard let ac = context else { return }
        if errorText.isEmpty { errorText = "closed by pgstash" }
        redisAsyncFree(ac)
    }

    private var flushScheduled = false
    private var flushing = false

    /// hiredis has output. Once connected it is written before the loop next waits (no
    /// round of epoll_ctl and epoll_wait per command); only what the socket does not take
    /// then waits for writability.
    private func writeWanted() {
        guard let ac = context, ac.pointee.c.flags & Int32(REDIS_CONNECTED) != 0, !flushing else {
            return update(add: .writable, remove: [])
        }
        guard !flushScheduled, !interest.contains(.writable) else { return }
        flushScheduled = true
        loop.runBeforeNextWait { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            guard let ac = self.context else { return }
            self.flushing = true
            redisAsyncHandleWrite(ac)
            self.flushing = false
        }
    }

    private func update(add: Interest, remove: Interest) {
        guard let registration else { return }
        let next = interest.union(add).subtracting(remove)
        guard next != interest else { return }
        interest = next
        loop.setInterest(registration, next)
    }

    /// hiredis's cleanup hook: runs inside `__redisAsyncFree`, before the context is freed.
    private func contextGone() {
        if let registration { loop.unregister(registration) }
        registration = nil
        context = nil
        guard !closedReported else { return }
        closedReported = true
        let reason = errorText.isEmpty ? "connection closed" : errorText
        // After the free completes: the owner may release this object.
        loop.runBeforeNextWait { [onEvent] in onEvent(.closed(reason: reason)) }
    }

    func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if let ac = context, readable || hangup { redisAsyncHandleRead(ac) }
        if let ac = context, writable { redisAsyncHandleWrite(ac) }
    }
}

/// Where Redis listens.
public enum RedisEndpoint: Sendable, Equatable {
    case tcp(host: String, port: Int)
    case unix(path: String)
}

/// RESP encoding of a command: an array of bulk strings.
enum RESP {
    static func command(_ args: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + args.reduce(0) { $0 + $1.count + 16 })
        out += Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }
}
