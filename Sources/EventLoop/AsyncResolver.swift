import Glibc

/// Resolves host names for an `EventLoop` without blocking it. getaddrinfo can take seconds
/// (a slow DNS server), so it runs on a short-lived background thread per lookup, at most
/// `maxConcurrentLookups` at once; the answer comes back on the loop thread through the loop's
/// eventfd (`EventLoopHandle.execute`).
///
/// - Numeric IPv4/IPv6 literals never reach getaddrinfo.
/// - Answers are cached for `cacheTTL` seconds (of `loop.now`); failures are not cached.
/// - Concurrent requests for the same host and port share one lookup.
///
/// ```swift
/// resolver.resolve(host: "db.internal", port: 5432) { result in   // on the loop thread
///     switch result {
///     case .success(let addresses): conn = try Connection.connect(loop: loop, address: addresses[0])
///     case .failure(let error): fail(error)
///     }
/// }
/// ```
///
/// Loop-confined: every method must be called on the loop thread.
public final class AsyncResolver {
    /// Receives the addresses in getaddrinfo's order (never empty), or why there are none.
    public typealias Completion = (Result<[SocketAddress], ResolveError>) -> Void

    public let loop: EventLoop
    /// Seconds a successful answer is reused.
    public let cacheTTL: Double
    /// Background lookups running at once; more requests wait for a free slot.
    public let maxConcurrentLookups: Int
    /// getaddrinfo calls started so far (diagnostics and tests).
    public private(set) var lookupsStarted = 0
    /// Lookups running on a background thread now.
    public private(set) var lookupsRunning = 0

    private struct Key: Hashable, Sendable {
        let host: String
        let port: Int
    }

    private var cache: [Key: (addresses: [SocketAddress], expires: Double)] = [:]
    private var waiting: [Key: [Completion]] = [:]
    private var queued: [Key] = []
    private let target: ResolverTarget
    private static let maxCacheEntries = 256

    public init(loop: EventLoop, cacheTTL: Double = 30, maxConcurrentLookups: Int = 4) {
        precondition(maxConcurrentLookups > 0)
        self.loop = loop
        self.cacheTTL = cacheTTL
        self.maxConcurrentLookups = maxConcurrentLookups
        target = ResolverTarget()
        target.resolver = self
    }

    deinit { target.resolver = nil }

    /// The addresses of `host` if they are known without a lookup: a numeric literal, or a
    /// cached answer that has not expired. Nil means: call `resolve`.
    public func immediateAddresses(host: String, port: Int) -> [SocketAddress]? {
        if let literal = SocketAddress(numericHost: host, port: port) { return [literal] }
        guard let entry = cache[Key(host: host, port: port)] else { return nil }
        guard entry.expires > loop.now else {
            cache[Key(host: host, port: port)] = nil
            return nil
        }
        return entry.addresses
    }

    /// Resolves `host` and calls `completion` on the loop thread, never from inside this call:
    /// literals and cached answers before the loop next sleeps, names once a lookup finishes.
    public func resolve(host: String, port: Int, _ completion: @escaping Completion) {
        precondition((0...65535).contains(port), "port \(port) out of range")
        assert(loop.isInLoopThread, "AsyncResolver used off its loop's thread")
        if let addresses = immediateAddresses(host: host, port: port) {
            loop.runBeforeNextWait { completion(.success(addresses)) }
            return
        }
        let key = Key(host: host, port: port)
        if waiting[key] != nil {
            waiting[key]!.append(completion)
            return
        }
        waiting[key] = [completion]
        queued.append(key)
        startQueued()
    }

    private func startQueued() {
        while lookupsRunning < maxConcurrentLookups && !queued.isEmpty {
            let key = queued.removeFirst()
            lookupsRunning += 1
            lookupsStarted += 1
            let job = LookupJob(host: key.host, port: key.port, handle: loop.handle, target: target)
            if !job.start() {
                lookupsRunning -= 1
                let error = ResolveError(host: key.host, code: EAI_AGAIN,
                                         message: "cannot start a resolver thread")
                loop.runBeforeNextWait { [self] in finished(key, .failure(error)) }
            }
        }
    }

    /// Back on the loop thread with the answer of a lookup.
    fileprivate func lookupFinished(host: String, port: Int, _ result: Result<[SocketAddress], ResolveError>) {
        lookupsRunning -= 1
        finished(Key(host: host, port: port), result)
        startQueued()
    }

    private func finished(_ key: Key, _ result: Result<[SocketAddress], ResolveError>) {
        if case .success(let addresses) = result, cacheTTL > 0 {
            if cache.count >= Self.maxCacheEntries {
                let now = loop.now
                cache = cache.filter { $0.value.expires > now }
                if cache.count >= Self.maxCacheEntries { cache.removeAll() }
            }
            cache[key] = (addresses, loop.now + cacheTTL)
        }
        for completion in waiting.removeValue(forKey: key) ?? [] { completion(result) }
    }
}

/// Lets a lookup thread find its resolver again on the loop thread, if it still exists.
/// `resolver` is only read and written on the loop thread.
private final class ResolverTarget: @unchecked Sendable {
    weak var resolver: AsyncResolver?
}

/// One getaddrinfo call on a detached thread, answered through the loop's handle.
private final class LookupJob: Sendable {
    let host: String
    let port: Int
    let handle: EventLoopHandle
    let target: ResolverTarget

    init(host: String, port: Int, handle: EventLoopHandle, target: ResolverTarget) {
        self.host = host
        self.port = port
        self.handle = handle
        self.target = target
    }

    /// Starts the thread; false if the system refused one.
    func start() -> Bool {
        BackgroundThread.start { self.run() }
    }

    private func run() {
        let result: Result<[SocketAddress], ResolveError>
        do {
            let addresses = try Socket.resolve(host: host, port: port, passive: false)
            result = addresses.isEmpty
                ? .failure(ResolveError(host: host, code: EAI_NONAME, message: "no IPv4 or IPv6 address"))
                : .success(addresses)
        } catch let error as ResolveError {
            result = .failure(error)
        } catch let error as IOError {
            result = .failure(ResolveError(host: host, code: EAI_SYSTEM, message: error.message))
        } catch {
            result = .failure(ResolveError(host: host, code: EAI_FAIL, message: "\(error)"))
        }
        let (host, port, target) = (host, port, target)
        handle.execute {
            target.resolver?.lookupFinished(host: host, port: port, result)
        }
    }
}
