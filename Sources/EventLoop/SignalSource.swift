import CLinux
import Glibc

/// Delivers signals (SIGHUP, SIGTERM, SIGINT...) as callbacks on the loop through a signalfd.
///
/// Create it on the loop thread: the signals are blocked in the calling thread, so that they
/// stay pending for the signalfd instead of running their default action. For process-directed
/// signals (`kill`), block them in every other thread too, which is simplest by creating the
/// source on the main thread before any other thread starts (threads inherit the mask).
public final class SignalSource: IOHandler {
    public let loop: EventLoop
    public let signals: [Int32]
    private let fd: Int32
    private let newlyBlocked: UInt64
    private var registration: Registration!
    private let onSignal: (Int32) -> Void
    public private(set) var isCancelled = false

    public init(loop: EventLoop, signals: [Int32], onSignal: @escaping (Int32) -> Void) throws {
        precondition(!signals.isEmpty && signals.allSatisfy { $0 > 0 && $0 < 64 })
        self.loop = loop
        self.signals = signals
        self.onSignal = onSignal
        var blocked: UInt64 = 0
        let fd = signals.withUnsafeBufferPointer { clinux_signalfd_block($0.baseAddress, Int32($0.count), &blocked) }
        guard fd >= 0 else { throw IOError(errno: errno, operation: "signalfd") }
        self.fd = fd
        self.newlyBlocked = blocked
        do {
            registration = try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            Glibc.close(fd)
            _ = clinux_unblock_signals(blocked)
            throw error
        }
    }

    /// Stops delivering, closes the signalfd and unblocks the signals this source blocked.
    public func cancel() {
        guard !isCancelled else { return }
        isCancelled = true
        loop.unregister(registration)
        Glibc.close(fd)
        _ = clinux_unblock_signals(newlyBlocked)
    }

    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        let size = Int(clinux_siginfo_size())
        var record = [UInt8](repeating: 0, count: size)
        while !isCancelled {
            let n = record.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, size) }
            if n < 0 && errno == EINTR { continue }
            guard n == size else { return }
            let signo = record.withUnsafeBytes { clinux_siginfo_signo($0.baseAddress) }
            onSignal(signo)
        }
    }
}
