import Glibc
import Synchronization

/// The thread-safe part of an `EventLoop`: queue work onto it or stop it from any thread.
/// Owns the loop's eventfd, so it stays valid for as long as anyone holds the handle.
public final class EventLoopHandle: Sendable {
    let wakeFd: Int32
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let stopFlag = Atomic<Bool>(false)

    init() throws {
        wakeFd = try EventFd.create()
    }

    deinit { Glibc.close(wakeFd) }

    /// Runs `body` on the loop thread during its next iteration, waking the loop if it sleeps.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        queue.withLock { $0.append(body) }
        EventFd.signal(wakeFd)
    }

    /// Makes `run()` return after the current iteration.
    public func stop() {
        stopFlag.store(true, ordering: .releasing)
        EventFd.signal(wakeFd)
    }

    var stopRequested: Bool { stopFlag.load(ordering: .acquiring) }

    func clearStop() { stopFlag.store(false, ordering: .relaxed) }

    func takeQueued() -> [@Sendable () -> Void] {
        queue.withLock { q in
            let taken = q
            q.removeAll()
            return taken
        }
    }
}
