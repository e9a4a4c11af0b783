import Buffers
import CLinux
import Glibc

/// Non-blocking TCP socket calls. EINTR is retried inside; EAGAIN is `.wouldBlock`; other
/// failures throw `IOError`, except EBADF-class errno, which is a programmer error.
public enum Socket {
    private static let streamNonBlocking = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)

    /// A listening socket bound to `host` (an IPv4 or IPv6 literal, or a name such as
    /// "localhost": the first address it resolves to; "" for every address) and `port`
    /// (0 picks a free port, see `localPort`).
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 1024) throws -> Int32 {
        var lastError = IOError(errno: EADDRNOTAVAIL, operation: "listen \(host):\(port)")
        for address in try resolve(host: host, port: port, passive: true) {
            let fd = try Syscall.blocking("socket") { Glibc.socket(address.family, streamNonBlocking, 0) }
            do {
                var one: Int32 = 1
                _ = try Syscall.blocking("setsockopt(SO_REUSEADDR)") {
                    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                _ = try Syscall.blocking("bind \(host):\(port)") {
                    address.withSockAddr { sa, length in bind(fd, sa, length) }
                }
                _ = try Syscall.blocking("listen") { Glibc.listen(fd, backlog) }
                return fd
            } catch let error as IOError {
                Glibc.close(fd)
                lastError = error
            }
        }
        throw lastError
    }

    /// The local port a socket is bound to.
    public static func localPort(of fd: Int32) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try Syscall.blocking("getsockname") { getsockname(fd, sa, &length) }
            }
        }
        return withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port both sit at offset 2, in network byte order.
            Int(UInt16(raw[2]) << 8 | UInt16(raw[3]))
        }
    }

    /// Accepts one pending connection, non-blocking and close-on-exec. Running out of
    /// descriptors (EMFILE, ENFILE) or memory throws; a connection aborted before it was
    /// accepted is `.wouldBlock`.
    public static func accept(_ fd: Int32) throws -> IOResult<Int32> {
        while true {
            let r = clinux_accept4(fd, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
            if r >= 0 { return .processed(r) }
            let e = errno
            switch e {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw Syscall.fail("accept", e)
            }
        }
    }

    /// Starts a non-blocking connect to `host` (literal or name, resolved with getaddrinfo)
    /// and `port`. Addresses are tried in order while they fail at once; `inProgress` means
    /// the socket becomes writable when the connect completes (then read `pendingError`).
    /// A name lookup blocks the calling thread: on the loop, resolve with `AsyncResolver` and
    /// use `connectTCP(address:)`.
    public static func connectTCP(host: String, port: Int) throws -> (fd: Int32, inProgress: Bool) {
        var lastError = IOError(errno: EADDRNOTAVAIL, operation: "connect \(host):\(port)")
        let addresses = try SocketAddress(numericHost: host, port: port).map { [$0] }
            ?? resolve(host: host, port: port, passive: false)
        for address in addresses {
            do {
                return try connectTCP(address: address, operation: "connect \(host):\(port)")
            } catch let error as IOError where error.operation != "socket" {
                lastError = error
            }
        }
        throw lastError
    }

    /// Starts a non-blocking connect to an address resolved beforehand; no name lookup.
    /// `inProgress` means the socket becomes writable when the connect completes (then read
    /// `pendingError`).
    public static func connectTCP(address: SocketAddress) throws -> (fd: Int32, inProgress: Bool) {
        try connectTCP(address: address, operation: "connect \(address)")
    }

    private static func connectTCP(address: SocketAddress, operation: String) throws -> (fd: Int32, inProgress: Bool) {
        let fd = try Syscall.blocking("socket") { Glibc.socket(address.family, streamNonBlocking, 0) }
        let r = address.withSockAddr { sa, length in Glibc.connect(fd, sa, length) }
        if r == 0 { return (fd, false) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return (fd, true) }
        Glibc.close(fd)
        throw Syscall.fail(operation, e)
    }

    /// `SO_ERROR`: 0 once a non-blocking connect succeeded, else its errno. Reading it clears it.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 {
            return Syscall.fail("getsockopt(SO_ERROR)").errno
        }
        return value
    }

    /// Disables Nagle's algorithm.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads at most `maxBytes` and appends them to `buffer`. `.processed(0)` is end of file.
    public static func read(_ fd: Int32, into buffer: inout ByteBuffer, maxBytes: Int) throws -> IOResult<Int> {
        var failure: Int32 = 0
        let n = buffer.writeWithUnsafeMutableBytes(maxBytes: maxBytes) { space in
            while true {
                let r = recv(fd, space.baseAddress, space.count, 0)
                if r >= 0 { return r }
                if errno == EINTR { continue }
                failure = errno
                return -1
            }
        }
        if n >= 0 { return .processed(n) }
        if failure == EAGAIN || failure == EWOULDBLOCK { return .wouldBlock }
        throw Syscall.fail("recv", failure)
    }

    /// Reads at most `buffer.count` bytes into `buffer`. `.processed(0)` is end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        try Syscall.nonBlocking("recv") { recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Writes as much of `bytes` as the socket takes now, without SIGPIPE.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        try Syscall.nonBlocking("send") { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// `shutdown(fd, SHUT_WR)`: sends FIN after the queued data. Failures (the peer is gone)
    /// are ignored; the next read or write reports them.
    public static func shutdownOutput(_ fd: Int32) {
        if Glibc.shutdown(fd, Int32(SHUT_WR)) != 0 {
            precondition(!Syscall.isProgrammerError(errno), "shutdown: bad descriptor \(fd)")
        }
    }

    /// Closes `fd`. The descriptor is released even when close reports EINTR or EIO.
    public static func close(_ fd: Int32) {
        if Glibc.close(fd) != 0 {
            precondition(errno != EBADF, "close: bad descriptor \(fd)")
        }
    }

    // MARK: Name resolution

    /// getaddrinfo: blocks for as long as the name service takes.
    static func resolve(host: String, port: Int, passive: Bool) throws -> [SocketAddress] {
        precondition((0...65535).contains(port), "port \(port) out of range")
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0 else {
            let text = String(cString: gai_strerror(rc))
            if rc == EAI_SYSTEM { throw IOError(errno: errno, operation: "getaddrinfo \(host)") }
            throw ResolveError(host: host, code: rc, message: text)
        }
        defer { freeaddrinfo(list) }
        var result: [SocketAddress] = []
        var node = list
        while let info = node {
            if let sa = info.pointee.ai_addr, info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6 {
                let bytes = [UInt8](UnsafeRawBufferPointer(start: sa, count: Int(info.pointee.ai_addrlen)))
                result.append(SocketAddress(family: info.pointee.ai_family, bytes: bytes))
            }
            node = info.pointee.ai_next
        }
        return result
    }
}

/// A host name that could not be resolved (a getaddrinfo error other than EAI_SYSTEM).
public struct ResolveError: Error, Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let code: Int32
    public let message: String
    public var description: String { "cannot resolve \(host): \(message)" }
}
