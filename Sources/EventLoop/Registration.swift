/// What a registered descriptor should be watched for. Level-triggered.
public struct Interest: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = Interest(rawValue: 1)
    public static let writable = Interest(rawValue: 2)
    /// Neither: only errors and hang-ups are reported.
    public static let none: Interest = []

    /// Read interest includes EPOLLRDHUP, so that a readable event says whether the peer's
    /// end of file is already queued behind the data (see `IOHandler.handleEvent(readable:writable:hangup:peerClosed:)`).
    var epollMask: UInt32 {
        (contains(.readable) ? Epoll.readable | Epoll.readHangup : 0) | (contains(.writable) ? Epoll.writable : 0)
    }
}

/// Receives readiness events for one registered descriptor, on the loop thread.
/// `hangup` is EPOLLHUP or EPOLLERR: the handler should read or check `SO_ERROR` to learn why.
public protocol IOHandler: AnyObject {
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool)
    /// The loop calls this one. `peerClosed` is EPOLLRDHUP: the peer has shut down its side,
    /// so after the data still queued a read returns end of file. The default ignores it.
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool, peerClosed: Bool)
}

extension IOHandler {
    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool, peerClosed: Bool) {
        handleEvent(readable: readable, writable: writable, hangup: hangup)
    }
}

/// One registration of a descriptor with an `EventLoop`. The `id` travels in
/// `epoll_data.u64` next to the fd, so an event queued for an earlier registration of the
/// same fd number is recognised and dropped.
public struct Registration: Hashable, Sendable {
    public let fd: Int32
    public let id: UInt64

    var packed: UInt64 { (id << 32) | UInt64(UInt32(bitPattern: fd)) }

    static func unpack(_ data: UInt64) -> (fd: Int32, id: UInt64) {
        (Int32(bitPattern: UInt32(truncatingIfNeeded: data)), data >> 32)
    }
}
