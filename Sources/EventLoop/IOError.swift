import Glibc

/// A failed system call: the errno, the operation that failed and the C library's text for it.
public struct IOError: Error, Sendable, Equatable, CustomStringConvertible {
    public let errno: Int32
    public let operation: String
    /// `strerror(errno)`.
    public let message: String

    public init(errno: Int32, operation: String) {
        self.errno = errno
        self.operation = operation
        self.message = String(cString: strerror(errno))
    }

    public init(errno: Int32, operation: String, message: String) {
        self.errno = errno
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message) (errno \(errno))" }
}

/// The outcome of a non-blocking system call: it made progress, or it would have blocked.
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}

extension IOResult: Equatable where T: Equatable {}
extension IOResult: Sendable where T: Sendable {}

/// Helpers shared by the syscall namespaces: EINTR retry, EAGAIN mapping, and the errno values
/// that can only come from a bug in the caller (a closed or wrong descriptor, a bad pointer).
enum Syscall {
    static func isProgrammerError(_ e: Int32) -> Bool {
        e == EBADF || e == EFAULT || e == ENOTSOCK
    }

    static func fail(_ operation: String, _ e: Int32 = Glibc.errno) -> IOError {
        precondition(!isProgrammerError(e), "\(operation) failed with \(IOError(errno: e, operation: operation)): a bug in the caller")
        return IOError(errno: e, operation: operation)
    }

    /// Runs `body` until it returns something other than -1/EINTR; -1 with EAGAIN is `.wouldBlock`.
    @inline(__always)
    static func nonBlocking<R: BinaryInteger>(_ operation: String, _ body: () -> R) throws -> IOResult<R> {
        while true {
            let r = body()
            if r >= 0 { return .processed(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw fail(operation, e)
        }
    }

    /// Runs `body` until it returns something other than -1/EINTR; any other -1 throws.
    @inline(__always)
    static func blocking<R: BinaryInteger>(_ operation: String, _ body: () -> R) throws -> R {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw fail(operation, e)
        }
    }
}
