import EventLoop

/// The cache's Redis client (architecture.md §3): one hiredis async connection on our event
/// loop, with AUTH/SELECT on connect, the cache scripts loaded once per connection and called
/// by EVALSHA (EVAL on NOSCRIPT), reconnection with back-off, a timeout per command, and a
/// circuit breaker. Every completion runs exactly once on the loop thread, with a value or a
/// `RedisError`; none waits longer than `command_timeout`. All methods must be called on the
/// loop thread.
///
/// Commands are refused at once (`notConnected`) until the store is ready: connected,
/// authenticated, scripts loaded, and the Redis run id compared with each key prefix's
/// `RUNID` (cache.md §1.4: a restarted Redis bumps the epoch before any lookup).
public final class RedisStore {
    /// Where the store stands.
    public enum State: Sendable, Equatable {
        case idle, connecting, handshaking, ready, waitingToReconnect, stopped
    }

    /// Reported by `onReady` after every successful (re)connect.
    public struct ReadyInfo: Sendable, Equatable {
        /// `run_id` of `INFO server`.
        public var runID: String
        /// The run id of the previous connection of this store; nil on the first.
        public var previousRunID: String?
        /// Key prefixes whose `RUNID` differed, so their epoch was bumped.
        public var epochBumped: [String]
        /// Whether this store saw another Redis process before (a restart or failover).
        public var runIDChanged: Bool { previousRunID.map { $0 != runID } ?? false }
    }

    /// Counters for metrics and tests.
    public struct Stats: Sendable, Equatable {
        public var connects = 0
        public var connectFailures = 0
        public var timeouts = 0
        public var refusedByBreaker = 0
        public var scriptReloads = 0
    }

    public let settings: RedisSettings
    public private(set) var state: State = .idle
    public private(set) var breaker: CircuitBreaker
    public private(set) var stats = Stats()
    /// Called on the loop thread each time the store becomes ready.
    public var onReady: ((ReadyInfo) -> Void)?
    /// Called on the loop thread when a ready connection is lost (or fails its handshake).
    public var onConnectionLost: ((String) -> Void)?

    private let loop: EventLoop
    private var connection: RedisConnection?
    private var requests: [UInt64: Request] = [:]
    private var nextID: UInt64 = 1
    private var scriptSHA: [String: String] = [:]
    private var lastRunID: String?
    private var reconnectDelay: Double
    private var connectTimer: TimerID?
    private var reconnectTimer: TimerID?

    private struct Request {
        var args: [[UInt8]]
        var completion: (Result<RedisValue, RedisError>) -> Void
        var timer: TimerID?
        /// Counted by the breaker (user commands; not the handshake).
        var tracked: Bool
        /// The script to fall back to with EVAL on NOSCRIPT.
        var script: RedisScript?
    }

    public init(settings: RedisSettings, loop: EventLoop) {
        self.settings = settings
        self.loop = loop
        self.breaker = CircuitBreaker(threshold: settings.breakerThreshold, cooldown: settings.breakerCooldown)
        self.reconnectDelay = settings.reconnectDelay
    }

    /// Starts connecting (and reconnecting, until `stop`).
    public func start() {
        guard state == .idle else { return }
        connect()
    }

    /// Closes the connection and fails every outstanding command with `stopped`.
    public func stop() {
        guard state != .stopped else { return }
        state = .stopped
        cancelTimers()
        failAll(.stopped)
        connection?.close()
    }

    public var isReady: Bool { state == .ready }

    /// Sends a command (`["SET", "k", "v"]`) and completes with its reply; an error reply
    /// completes with `RedisError.reply`.
    public func command(_ args: [String], _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        command(bytes: args.map { Array($0.utf8) }, completion)
    }

    /// `command` with binary-safe arguments.
    public func command(bytes args: [[UInt8]], _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        submit(args, script: nil, tracked: true, completion)
    }

    /// Runs one of the scripts loaded at connect by EVALSHA (EVAL if Redis lost it).
    public func run(_ script: RedisScript, keys: [String], args: [[UInt8]],
                    _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + args
        let head: [[UInt8]] = scriptSHA[script.name].map { [Array("EVALSHA".utf8), Array($0.utf8)] }
            ?? [Array("EVAL".utf8), Array(script.source.utf8)]
        submit(head + tail, script: script, tracked: true, completion)
    }

    // MARK: - Sending

    private func submit(_ args: [[UInt8]], script: RedisScript?, tracked: Bool,
                        _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        let refusal: RedisError?
        if state == .stopped {
            refusal = .stopped
        } else if tracked && state != .ready {
            refusal = .notConnected
        } else if tracked && !breaker.commandWanted(now: loop.now) {
            stats.refusedByBreaker += 1
            refusal = .breakerOpen
        } else {
            refusal = nil
        }
        if let refusal {
            // Never call back inside the caller's own call.
            loop.runBeforeNextWait { completion(.failure(refusal)) }
            return
        }
        let id = nextID
        nextID += 1
        var request = Request(args: args, completion: completion, timer: nil, tracked: tracked, script: script)
        if tracked, settings.commandTimeout > 0 {
            request.timer = loop.schedule(after: settings.commandTimeout) { [weak self] in self?.timedOut(id) }
        }
        requests[id] = request
        guard let connection, connection.send(RESP.command(args), id: id) else {
            loop.runBeforeNextWait { [weak self] in self?.finish(id, .failure(.connectionLost("the connection is closing"))) }
            return
        }
    }

    private func timedOut(_ id: UInt64) {
        guard requests[id] != nil else { return }
        requests[id]?.timer = nil
        stats.timeouts += 1
        finish(id, .failure(.timeout))
    }

    /// Completes request `id` once; later replies for it are ignored.
    private func finish(_ id: UInt64, _ result: Result<RedisValue, RedisError>) {
        guard let request = requests.removeValue(forKey: id) else { return }
        if let timer = request.timer { loop.cancel(timer) }
        if request.tracked {
            switch result {
            case .failure(let error) where error.countsAsFailure:
                let wasOpen = breaker.isOpen(now: loop.now)
                breaker.failed(now: loop.now)
                // A breaker that just opened also drops the connection: a Redis that stopped
                // answering (stalled, or a half-open TCP link) gets a fresh one after back-off.
                if !wasOpen, breaker.isOpen(now: loop.now), state == .ready { connection?.close() }
            default:
                breaker.succeeded()
            }
        }
        request.completion(result)
    }

    // MARK: - Connection events

    private func connect() {
        state = .connecting
        var failure = ""
        let created = RedisConnection(endpoint: settings.endpoint, loop: loop, failure: &failure) { [weak self] event in
            self?.handle(event)
        }
        guard let created else {
            stats.connectFailures += 1
            scheduleReconnect(reason: failure)
            return
        }
        connection = created
        if settings.connectTimeout > 0 {
            connectTimer = loop.schedule(after: settings.connectTimeout) { [weak self] in
                guard let self, self.state == .connecting || self.state == .handshaking else { return }
                self.connection?.close()
            }
        }
    }

    private func handle(_ event: RedisConnection.Event) {
        switch event {
        case .connected(true):
            guard state == .connecting else { return }
            state = .handshaking
            Handshake(store: self).begin()
        case .connected(false):
            stats.connectFailures += 1
        case .reply(let id, let value):
            reply(id, value)
        case .closed(let reason):
            connection = nil
            if let timer = connectTimer { loop.cancel(timer); connectTimer = nil }
            failAll(.connectionLost(reason))
            guard state != .stopped else { return }
            let wasReady = state == .ready
            scheduleReconnect(reason: reason)
            if wasReady { onConnectionLost?(reason) }
        }
    }

    private func reply(_ id: UInt64, _ value: RedisValue?) {
        guard let request = requests[id] else { return }
        switch value {
        case nil:
            finish(id, .failure(.connectionLost(connection?.errorText ?? "connection closed")))
        case .error(let message)?:
            if message.hasPrefix("NOSCRIPT"), let script = request.script, request.args.first != Array("EVAL".utf8) {
                // Redis lost its script cache (restart, SCRIPT FLUSH): EVAL caches it again.
                stats.scriptReloads += 1
                scriptSHA[script.name] = nil
                var args = request.args
                args[0] = Array("EVAL".utf8)
                args[1] = Array(script.source.utf8)
                requests[id]?.args = args
                if let connection, connection.send(RESP.command(args), id: id) { return }
                finish(id, .failure(.connectionLost("the connection is closing")))
            } else {
                finish(id, .failure(.reply(message)))
            }
        case let value?:
            finish(id, .success(value))
        }
    }

    private func failAll(_ error: RedisError) {
        for id in requests.keys.sorted() { finish(id, .failure(error)) }
    }

    private func scheduleReconnect(reason: String) {
        state = .waitingToReconnect
        let delay = reconnectDelay
        reconnectDelay = min(settings.maxReconnectDelay, max(settings.reconnectDelay, reconnectDelay * 2))
        reconnectTimer = loop.schedule(after: delay) { [weak self] in
            guard let self, self.state == .waitingToReconnect else { return }
            self.reconnectTimer = nil
            self.connect()
        }
    }

    private func cancelTimers() {
        if let t = connectTimer { loop.cancel(t); connectTimer = nil }
        if let t = reconnectTimer { loop.cancel(t); reconnectTimer = nil }
    }

    // MARK: - Handshake support

    /// Sends a handshake command (not subject to the breaker or the command timeout; the
    /// connect timeout bounds the whole handshake).
    func sendInternal(_ args: [String], _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        submit(args.map { Array($0.utf8) }, script: nil, tracked: false, completion)
    }

    func handshakeSucceeded(runID: String, scripts: [String: String], epochBumped: [String]) {
        guard state == .handshaking else { return }
        if let timer = connectTimer { loop.cancel(timer); connectTimer = nil }
        scriptSHA = scripts
        state = .ready
        stats.connects += 1
        reconnectDelay = settings.reconnectDelay
        breaker.succeeded()
        let info = ReadyInfo(runID: runID, previousRunID: lastRunID, epochBumped: epochBumped)
        lastRunID = runID
        onReady?(info)
    }

    func handshakeFailed(_ error: RedisError) {
        guard state == .handshaking else { return }
        stats.connectFailures += 1
        connection?.close()
    }
}
