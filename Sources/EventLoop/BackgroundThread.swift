import Glibc

/// Runs blocking work (a libpq connection and query) on a short-lived detached thread and
/// hands its result back on the loop thread through the loop's eventfd
/// (`EventLoopHandle.execute`), as `AsyncResolver`'s answers come back. Used by
/// `AsyncResolver`, `CatalogLoader` and `AuthQueryLoader`; the work must bound its own duration.
public enum BackgroundThread {
    /// Starts `work` on a new thread; `completion` runs once on `loop`'s thread with its
    /// result, never from inside this call. Returns false (and never calls `completion`) when
    /// the system refused a thread. Call it on the loop thread.
    public static func run<T: Sendable>(on loop: EventLoop, _ work: @escaping @Sendable () -> T,
                                 completion: @escaping (T) -> Void) -> Bool {
        assert(loop.isInLoopThread, "BackgroundThread.run called off its loop's thread")
        let box = CompletionBox(completion)
        let handle = loop.handle
        return start {
            let result = work()
            handle.execute { box.deliver(result) }
        }
    }

    /// Runs `body` on a new detached thread; false if the system refused one.
    static func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        let context = Unmanaged.passRetained(Job(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Job>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}

/// Carries the loop-confined completion through the background thread, which never touches
/// it: `deliver` runs on the loop thread and releases the closure there, so whatever it
/// captured is never freed on the background thread (which may drop the box last).
private final class CompletionBox<T>: @unchecked Sendable {
    private var body: ((T) -> Void)?
    init(_ body: @escaping (T) -> Void) { self.body = body }

    func deliver(_ result: T) {
        let b = body
        body = nil
        b?(result)
    }
}

/// A thread's body, passed through `pthread_create`'s context pointer.
private final class Job: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
