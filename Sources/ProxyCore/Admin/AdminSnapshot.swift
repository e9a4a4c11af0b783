import ProxyConfig

/// What the proxy looks like at one instant, as the console shows it. The proxy fills it
/// from its live state (clients, pools, servers, counters); the console only formats it.
/// Times are seconds: `wallClock` and `connectTime`/`requestTime` since the Unix epoch,
/// durations as plain seconds.
public struct AdminSnapshot: Sendable {
    public var version: String
    /// Now, seconds since the Unix epoch (for nothing but formatting and ages).
    public var wallClock: Double
    public var config: ProxyConfiguration
    public var pools: [PoolRow] = []
    public var clients: [ConnectionRow] = []
    public var servers: [ConnectionRow] = []
    public var stats: [Stats] = []
    /// Every database is paused (`PAUSE` without a name).
    public var pausedAll = false
    /// Databases paused by name (`PAUSE db`, `KILL db`).
    public var pausedDatabases: Set<String> = []
    /// Upstream server connections per database (open or opening).
    public var serverCounts: [String: Int] = [:]
    /// `SHOW QUERIES`, most total time first; nil when `[admin] query_digests = 0`. Filled
    /// only for that command (the proxy skips the copy for the others).
    public var queries: [QueryDigest]?
    /// The result cache's figures; nil when the cache is off (`[cache] enabled = false`).
    public var cache: CacheFigures?

    public init(version: String, wallClock: Double, config: ProxyConfiguration) {
        self.version = version; self.wallClock = wallClock; self.config = config
    }

    public func isPaused(_ database: String) -> Bool { pausedAll || pausedDatabases.contains(database) }

    /// One pool (database, upstream user) and the states of its clients and servers.
    public struct PoolRow: Sendable, Equatable {
        public var database: String
        public var user: String
        public var clientsActive = 0
        public var clientsWaiting = 0
        public var serversActive = 0
        public var serversIdle = 0
        public var serversLogin = 0
        /// Servers whose query is being cancelled.
        public var serversBeingCanceled = 0
        /// How long the oldest waiting client has waited, in seconds.
        public var maxWait: Double = 0
        public var mode: String
        public init(database: String, user: String, mode: String) {
            self.database = database; self.user = user; self.mode = mode
        }
    }

    /// One client or server connection (`SHOW CLIENTS`, `SHOW SERVERS`).
    public struct ConnectionRow: Sendable, Equatable {
        public var user: String
        public var database: String
        /// PgBouncer's words: `active`, `waiting`, `idle`, `login`, plus `closing`.
        public var state: String
        public var address: String
        public var port: Int
        public var localAddress: String
        public var localPort: Int
        public var connectTime: Double
        public var requestTime: Double
        /// How long it has waited for a server, in seconds (0 when not waiting).
        public var wait: Double = 0
        /// Its id (`C12`, `S1000003`): what `link` of its peer names.
        public var ptr: String
        public var link: String = ""
        /// The upstream backend's process id (servers), 0 for clients.
        public var remotePID: Int = 0
        /// PgBouncer's `tls` column: version and cipher ("TLSv1.3/TLS_AES_256_GCM_SHA384"), empty without TLS.
        public var tls: String = ""
        public var applicationName: String = ""
        public init(user: String, database: String, state: String, address: String, port: Int,
                    localAddress: String, localPort: Int, connectTime: Double, requestTime: Double, ptr: String) {
            self.user = user; self.database = database; self.state = state
            self.address = address; self.port = port
            self.localAddress = localAddress; self.localPort = localPort
            self.connectTime = connectTime; self.requestTime = requestTime; self.ptr = ptr
        }
    }

    /// `SHOW STATS` of one database: totals since start and averages of the last period.
    public struct Stats: Sendable, Equatable {
        public var database: String
        public var totals: TrafficCounters
        /// Rates per second and mean durations over the last completed period.
        public var averages: TrafficAverages
        public init(database: String, totals: TrafficCounters, averages: TrafficAverages) {
            self.database = database; self.totals = totals; self.averages = averages
        }
    }
}

/// Counters of the traffic through the pools of one database (PgBouncer's `SHOW STATS`).
/// Times are microseconds, as PgBouncer reports them.
public struct TrafficCounters: Sendable, Equatable {
    /// Transactions: server leases in transaction mode, ReadyForQuery `I` after a request.
    public var transactions: Int64 = 0
    /// Queries: requests answered by ReadyForQuery (a simple Query, or a Sync).
    public var queries: Int64 = 0
    /// Bytes relayed from clients to servers.
    public var received: Int64 = 0
    /// Bytes relayed from servers to clients.
    public var sent: Int64 = 0
    public var transactionTime: Int64 = 0
    public var queryTime: Int64 = 0
    /// Time clients waited for a server.
    public var waitTime: Int64 = 0
    /// Waits counted in `waitTime` (the divisor of its average).
    public var waits: Int64 = 0
    public init() {}

    static func - (a: Self, b: Self) -> Self {
        var d = Self()
        d.transactions = a.transactions - b.transactions; d.queries = a.queries - b.queries
        d.received = a.received - b.received; d.sent = a.sent - b.sent
        d.transactionTime = a.transactionTime - b.transactionTime; d.queryTime = a.queryTime - b.queryTime
        d.waitTime = a.waitTime - b.waitTime; d.waits = a.waits - b.waits
        return d
    }
}

/// PgBouncer's `avg_*` columns: counts and bytes per second, mean times in microseconds.
public struct TrafficAverages: Sendable, Equatable {
    public var transactionsPerSecond: Int64 = 0
    public var queriesPerSecond: Int64 = 0
    public var receivedPerSecond: Int64 = 0
    public var sentPerSecond: Int64 = 0
    public var transactionTime: Int64 = 0
    public var queryTime: Int64 = 0
    public var waitTime: Int64 = 0
    public init() {}
}

/// Traffic counters of one database with the averages of the last completed period.
/// Pure: every event passes `now` (monotonic seconds); the period rolls as events arrive.
public struct TrafficStats: Sendable {
    public private(set) var totals = TrafficCounters()
    public private(set) var averages = TrafficAverages()
    private var periodStart: Double
    private var atPeriodStart = TrafficCounters()
    /// Length of an averaging period, seconds (PgBouncer's `stats_period` default).
    public let period: Double

    public init(now: Double, period: Double = 60) {
        self.periodStart = now
        self.period = period
    }

    /// A request was answered (ReadyForQuery) after `seconds`; `endsTransaction` when
    /// the server reported idle.
    public mutating func queryCompleted(seconds: Double, transactionSeconds: Double?, now: Double) {
        roll(now: now)
        totals.queries += 1
        totals.queryTime += micros(seconds)
        if let t = transactionSeconds {
            totals.transactions += 1
            totals.transactionTime += micros(t)
        }
    }

    public mutating func bytesReceived(_ n: Int) { totals.received += Int64(n) }
    public mutating func bytesSent(_ n: Int) { totals.sent += Int64(n) }

    /// A client got a server after waiting `seconds`.
    public mutating func waited(seconds: Double, now: Double) {
        roll(now: now)
        totals.waits += 1
        totals.waitTime += micros(seconds)
    }

    /// Closes the current period when it is over: its rates become the averages.
    public mutating func roll(now: Double) {
        let elapsed = now - periodStart
        guard elapsed >= period else { return }
        let d = totals - atPeriodStart
        var a = TrafficAverages()
        a.transactionsPerSecond = Int64(Double(d.transactions) / elapsed)
        a.queriesPerSecond = Int64(Double(d.queries) / elapsed)
        a.receivedPerSecond = Int64(Double(d.received) / elapsed)
        a.sentPerSecond = Int64(Double(d.sent) / elapsed)
        a.transactionTime = d.transactions > 0 ? d.transactionTime / d.transactions : 0
        a.queryTime = d.queries > 0 ? d.queryTime / d.queries : 0
        a.waitTime = d.waits > 0 ? d.waitTime / d.waits : 0
        averages = a
        atPeriodStart = totals
        periodStart = now
    }

    /// Whole microseconds, to the nearest (half up: the value is never negative). Adding ½
    /// and truncating needs no call into libm, unlike `rounded()`; this runs per query.
    private func micros(_ s: Double) -> Int64 { Int64(max(s, 0) * 1_000_000 + 0.5) }
}
