import ProxyConfig

/// Identifies one upstream server connection.
public struct ServerID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Int
    public init(_ raw: Int) { self.raw = raw }
    public var description: String { "S\(raw)" }
}

/// Identifies one client connection.
public struct ClientID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Int
    public init(_ raw: Int) { self.raw = raw }
    public var description: String { "C\(raw)" }
}

/// Why a waiting client could not get a server.
public enum PoolFailure: Equatable, Sendable {
    /// No server became free within `acquire_timeout`.
    case acquireTimeout(waited: Double)
    /// Connecting upstream failed and no server is left to wait for.
    case connectFailed(sqlState: String, message: String)
}

/// What the driver must do after feeding the pool an event.
public enum PoolAction: Equatable, Sendable {
    /// Open a new upstream connection under this id, then report `serverConnected` or
    /// `serverConnectFailed`.
    case connect(ServerID)
    /// Hand this server to this client (it was waiting, or the server was idle).
    case assign(ServerID, to: ClientID)
    /// Close this server connection, then report `serverClosed`.
    case close(ServerID)
    /// Tell this waiting client it gets no server, and why.
    case fail(ClientID, PoolFailure)
}

/// Where a server that came back went.
public enum HandOut: Equatable, Sendable {
    /// Idle in the pool (or nothing to do).
    case idled
    /// Leased to the first waiting client.
    case assigned(ServerID, to: ClientID)
    /// Anything else, as actions (closed, and maybe replaced).
    case other([PoolAction])

    public var actions: [PoolAction] {
        switch self {
        case .idled: []
        case let .assigned(s, c): [.assign(s, to: c)]
        case .other(let a): a
        }
    }
}

/// The pool of one (database, user): a hard cap of upstream connections, a FIFO queue of
/// waiting clients, idle reaping, lifetimes and a retry interval after failed connects.
/// Pure: time comes in as `now` (seconds, monotonic); effects go out as `PoolAction`s.
public struct Pool: Sendable {
    public enum ServerState: Equatable, Sendable {
        case connecting
        case idle(since: Double)
        case active(ClientID)
        case closing
    }

    struct Server: Sendable {
        var state: ServerState
        var createdAt: Double
    }

    public var config: PoolConfig
    /// Every state change goes through `setState` and `removeServer`, which keep the counts.
    private var servers = ServerTable<Server>()
    public private(set) var activeCount = 0
    public private(set) var connectingCount = 0
    /// Idle servers, most recently released last (reused first: its caches are warm).
    private var idle: [ServerID] = []
    private var waiters = FIFOQueue<(client: ClientID, since: Double)>()
    private var nextServer: Int
    private let idStride: Int
    private var lastConnectFailure: Double?
    /// Last connect error text, for clients that arrive while the upstream is down.
    public private(set) var lastError: String?
    /// Paused (admin `PAUSE`): no server is handed out or opened, released ones close, and
    /// clients queue without a timeout until `resumeRequested`.
    public private(set) var isPaused = false

    /// Server ids are `idBase + k * idStride` so several pools can share one id space.
    public init(config: PoolConfig, idBase: Int = 0, idStride: Int = 1) {
        self.config = config
        self.nextServer = idBase
        self.idStride = idStride
    }

    // MARK: Observations (SHOW POOLS, tests)

    public var serverCount: Int { servers.count }
    public var idleCount: Int { idle.count }
    public var waitingCount: Int { waiters.count }
    public func state(of s: ServerID) -> ServerState? { servers[s]?.state }
    public func isWaiting(_ c: ClientID) -> Bool { waiters.contains { $0.client == c } }
    /// Since when the oldest waiting client waits.
    public var oldestWaitSince: Double? { waiters.first?.since }
    /// Paused, and every server it had is closed: `PAUSE` may answer.
    public var isPauseComplete: Bool { isPaused && servers.isEmpty }

    // MARK: Pause (admin console)

    /// Stops handing out servers: idle ones close now, leased ones when released (after
    /// their transaction, or their session in session mode), as PgBouncer's PAUSE does.
    public mutating func pauseRequested(now: Double) -> [PoolAction] {
        isPaused = true
        let closing = idle
        idle.removeAll()
        for s in closing { setState(s, .closing) }
        return closing.map { .close($0) }
    }

    /// Hands servers out again; clients that queued meanwhile wait from now on
    /// (`acquire_timeout` counts from the resume).
    public mutating func resumeRequested(now: Double) -> [PoolAction] {
        guard isPaused else { return [] }
        isPaused = false
        var restarted = FIFOQueue<(client: ClientID, since: Double)>()
        while let w = waiters.popFirst() { restarted.append((w.client, now)) }
        waiters = restarted
        return connectIfNeeded(now: now)
    }

    // MARK: Events

    /// A client needs a server.
    public mutating func acquireRequested(by client: ClientID, now: Double) -> [PoolAction] {
        if let s = acquireIdle(by: client) { return [.assign(s, to: client)] }
        waiters.append((client, now))
        return connectIfNeeded(now: now)
    }

    /// The server `acquireIdle` would hand out next, if any.
    public var nextIdle: ServerID? { isPaused ? nil : idle.last }

    /// An idle server for `client`, leased to it now; nil when none is idle (or the pool is
    /// paused), and then nothing changed: the caller goes on with `acquireRequested`. The
    /// per-transaction path, without an action array.
    public mutating func acquireIdle(by client: ClientID) -> ServerID? {
        guard !isPaused, let s = idle.popLast() else { return nil }
        setState(s, .active(client))
        return s
    }

    /// The client no longer wants a server (it disconnected while waiting).
    public mutating func clientGaveUp(_ client: ClientID) {
        waiters.removeAll { $0.client == client }
    }

    /// The leased server is back. `reusable` is false when it must not serve anyone else
    /// (broken, or dirty without a way to reset it).
    public mutating func serverReleased(_ s: ServerID, reusable: Bool, now: Double) -> [PoolAction] {
        release(s, reusable: reusable, now: now).actions
    }

    /// `serverReleased`, with the two usual outcomes (idle again, handed to the next waiter)
    /// told without building an array.
    public mutating func release(_ s: ServerID, reusable: Bool, now: Double) -> HandOut {
        // Only a leased server can come back (a second release must not idle it twice).
        guard let server = servers[s], case .active = server.state else { return .idled }
        let expired = config.serverLifetime > 0 && now - server.createdAt >= config.serverLifetime
        if !reusable || expired || isPaused {
            setState(s, .closing)
            return .other([.close(s)] + connectIfNeeded(now: now))
        }
        return handOut(s, now: now)
    }

    public mutating func serverConnected(_ s: ServerID, now: Double) -> [PoolAction] {
        guard servers[s] != nil else { return [] }
        let wasFailing = lastConnectFailure != nil
        lastConnectFailure = nil
        lastError = nil
        // The probe after a failure succeeded: the other waiters' connects start now.
        return handOut(s, now: now).actions + (wasFailing ? connectIfNeeded(now: now) : [])
    }

    public mutating func serverConnectFailed(_ s: ServerID, sqlState: String = "08006", error: String, now: Double) -> [PoolAction] {
        removeServer(s)
        lastConnectFailure = now
        lastError = error
        // Waiting clients would otherwise sit out acquire_timeout against a dead upstream:
        // when nothing else can serve them, tell them now, with the cause.
        let live = servers.values.contains { $0.state != .closing }
        guard !live, !isPaused else { return [] }
        var actions: [PoolAction] = []
        while let w = waiters.popFirst() { actions.append(.fail(w.client, .connectFailed(sqlState: sqlState, message: error))) }
        return actions
    }

    /// A server connection ended (closed by us or by the peer), in whatever state it was.
    public mutating func serverClosed(_ s: ServerID, now: Double) -> [PoolAction] {
        guard removeServer(s) else { return [] }
        idle.removeAll { $0 == s }
        return connectIfNeeded(now: now)
    }

    /// Janitor tick: acquire timeouts, idle reaping, min_idle and connect retries.
    public mutating func tick(now: Double) -> [PoolAction] {
        var actions: [PoolAction] = []
        while !isPaused, let w = waiters.first, now - w.since >= config.acquireTimeout {
            _ = waiters.popFirst()
            actions.append(.fail(w.client, .acquireTimeout(waited: now - w.since)))
        }
        let keep = config.minIdle
        var reaped = 0
        for s in idle {
            guard case .idle(let since)? = servers[s]?.state, idle.count - reaped > keep else { continue }
            let expired = config.serverLifetime > 0 && now - servers[s]!.createdAt >= config.serverLifetime
            if now - since >= config.idleTimeout || expired {
                setState(s, .closing)
                actions.append(.close(s))
                reaped += 1
            }
        }
        idle.removeAll { servers[$0]?.state == .closing }
        actions += connectIfNeeded(now: now)
        return actions
    }

    // MARK: Internals

    private mutating func setState(_ s: ServerID, _ state: ServerState) {
        var old: ServerState?
        servers.modify(s) { old = $0.state; $0.state = state }
        guard let old else { return }
        count(old, -1)
        count(state, 1)
    }

    /// Whether there was such a server.
    @discardableResult
    private mutating func removeServer(_ s: ServerID) -> Bool {
        guard let old = servers.removeValue(forKey: s)?.state else { return false }
        count(old, -1)
        return true
    }

    private mutating func count(_ state: ServerState, _ delta: Int) {
        switch state {
        case .active: activeCount += delta
        case .connecting: connectingCount += delta
        case .idle, .closing: break
        }
    }

    private mutating func handOut(_ s: ServerID, now: Double) -> HandOut {
        if isPaused {
            setState(s, .closing)
            return .other([.close(s)])
        }
        if let w = waiters.popFirst() {
            setState(s, .active(w.client))
            return .assigned(s, to: w.client)
        }
        setState(s, .idle(since: now))
        idle.append(s)
        return .idled
    }

    /// Opens connections for waiters not covered by connects in flight, and up to min_idle,
    /// within the cap and the retry interval.
    private mutating func connectIfNeeded(now: Double) -> [PoolAction] {
        if isPaused || servers.count >= config.maxUpstream { return [] }     // at the cap: every wait
        if let failed = lastConnectFailure, now - failed < config.connectRetryInterval { return [] }
        let connecting = connectingCount
        var wanted = max(waiters.count - connecting, 0)
        if waiters.count == 0 { wanted = max(config.minIdle - idle.count - connecting, 0) }
        // While the upstream is failing, one connect at a time probes it: N waiting clients
        // must not become N connects against a dead server every retry interval.
        if lastConnectFailure != nil { wanted = connecting > 0 ? 0 : min(wanted, 1) }
        var actions: [PoolAction] = []
        while wanted > 0 && servers.count < config.maxUpstream {
            let s = ServerID(nextServer)
            nextServer += idStride
            servers[s] = Server(state: .connecting, createdAt: now)
            connectingCount += 1
            actions.append(.connect(s))
            wanted -= 1
        }
        return actions
    }
}
