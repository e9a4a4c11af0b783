/// Typed, validated `proxy.conf` (docs/configuration.md). Every duration is in seconds.
public struct ProxyConfiguration: Sendable, Equatable {
    public var listen = ListenConfig()
    public var pool = PoolConfig()
    /// Routable databases by the name clients put in `dbname`.
    public var databases: [String: DatabaseConfig] = [:]
    public var auth = AuthConfig()
    public var redis = RedisConfig()
    public var cache = CacheConfig()
    public var metrics = MetricsConfig()
    public var admin = AdminConfig()
    public var log = LogConfig()
    public var tls = TLSConfig()

    public init() {}

    /// Pool settings for one (database, client user): `[pool]`, then `[databases.NAME]`
    /// overrides, then `[pool.users.USER]` overrides (none when `user` is nil).
    public func effectivePool(database: String, user: String?) -> PoolConfig {
        var p = pool
        if let d = databases[database] { p.apply(d.pool) }
        if let user, let u = pool.users[user] { p.apply(u) }
        return p
    }
}

/// `[listen]`: where clients connect.
public struct ListenConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 6432
    public var maxClients = 1000
    /// A client that has not finished startup and authentication by then is dropped.
    public var startupTimeout: Double = 10
    /// Largest client message body pgstash buffers to decode (Query, Parse, Bind…).
    public var maxMessageSize = 64 * 1024 * 1024
    /// Output buffered toward one peer above which pgstash stops reading the other side.
    public var highWaterMark = 1024 * 1024
    /// Longest the event loop polls for the next event before it sleeps (adaptive; 0: never).
    public var busyPoll: Double = 0
    /// `busyPoll` in nanoseconds, as the event loop takes it.
    public var busyPollNanoseconds: UInt64 { UInt64((busyPoll * 1e9).rounded()) }
    public init() {}
}

/// `[pool] mode`: how long a client keeps an upstream server.
public enum PoolMode: String, Sendable, Equatable {
    case transaction, session
}

/// Optional per-database or per-user overrides of `[pool]` (nil: inherit).
public struct PoolOverrides: Sendable, Equatable {
    public var mode: PoolMode?
    public var maxUpstream: Int?
    public var minIdle: Int?
    public var acquireTimeout: Double?
    public var connectTimeout: Double?
    public var idleTimeout: Double?
    public var serverLifetime: Double?
    public var connectRetryInterval: Double?
    public var maxPreparedStatements: Int?
    public var pinOnSessionState: Bool?
    public var maxPinned: Int?
    public var maxListeners: Int?
    public var maxPendingNotifications: Int?
    public var queryTimeout: Double?
    public var idleTransactionTimeout: Double?
    public init() {}
}

/// `[pool]`: defaults of every (database, user) pool.
public struct PoolConfig: Sendable, Equatable {
    public var mode: PoolMode = .transaction
    /// Hard cap of upstream connections per (database, user).
    public var maxUpstream = 20
    public var minIdle = 0
    public var acquireTimeout: Double = 30
    public var connectTimeout: Double = 10
    public var idleTimeout: Double = 30
    /// Servers older than this are closed when next released (0: never).
    public var serverLifetime: Double = 3600
    public var connectRetryInterval: Double = 0.2
    public var maxPreparedStatements = 500
    /// A client that creates session state which cannot follow it (temporary tables, WITH
    /// HOLD cursors, session advisory locks, set_config) keeps its server until it releases it.
    public var pinOnSessionState = true
    /// Pinned servers per pool at most; nil: half of `max_upstream` (at least 1).
    public var maxPinned: Int?
    /// Listener connections per pool that relay LISTEN/NOTIFY under transaction pooling
    /// (0: LISTEN is refused in transaction mode; 1: one connection, outside `max_upstream`).
    public var maxListeners = 1
    /// Notifications queued for one client that is busy or not reading; past it the client
    /// is disconnected with an error.
    public var maxPendingNotifications = 10_000
    /// PgBouncer's `query_timeout`: a request running longer is cancelled (0: never).
    public var queryTimeout: Double = 0
    /// PgBouncer's `idle_transaction_timeout`: a client idle inside a transaction longer than
    /// this is disconnected and its server closed (0: never).
    public var idleTransactionTimeout: Double = 0
    /// Sent to a session-mode server before another client gets it.
    public var serverResetQuery = "DISCARD ALL"
    /// `[pool.users.NAME]`: overrides for one user.
    public var users: [String: PoolOverrides] = [:]
    public init() {}

    public mutating func apply(_ o: PoolOverrides) {
        if let v = o.mode { mode = v }
        if let v = o.maxUpstream { maxUpstream = v }
        if let v = o.minIdle { minIdle = v }
        if let v = o.acquireTimeout { acquireTimeout = v }
        if let v = o.connectTimeout { connectTimeout = v }
        if let v = o.idleTimeout { idleTimeout = v }
        if let v = o.serverLifetime { serverLifetime = v }
        if let v = o.connectRetryInterval { connectRetryInterval = v }
        if let v = o.maxPreparedStatements { maxPreparedStatements = v }
        if let v = o.pinOnSessionState { pinOnSessionState = v }
        if let v = o.maxPinned { maxPinned = v }
        if let v = o.maxListeners { maxListeners = v }
        if let v = o.maxPendingNotifications { maxPendingNotifications = v }
        if let v = o.queryTimeout { queryTimeout = v }
        if let v = o.idleTransactionTimeout { idleTransactionTimeout = v }
    }

    /// `max_pinned` in effect.
    public var effectiveMaxPinned: Int { maxPinned ?? max(1, maxUpstream / 2) }
}

/// `[databases.NAME]`: one upstream database clients may name.
public struct DatabaseConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 5432
    /// Upstream database name (defaults to the section name).
    public var dbname: String
    /// Upstream login; nil: the client's own user name and auth-file password.
    public var user: String?
    public var password: String?
    /// `sslmode`, `sslrootcert`, `sslcert`, `sslkey` (docs/tls.md).
    public var tls = UpstreamTLSConfig()
    public var pool = PoolOverrides()
    public init(dbname: String) { self.dbname = dbname }
}

/// `[auth] type`: how clients log in to pgstash.
public enum AuthType: String, Sendable, Equatable {
    case trust
    case md5
    case scramSHA256 = "scram-sha-256"
}

/// `[auth]`: client authentication and its users.
public struct AuthConfig: Sendable, Equatable {
    public var type: AuthType = .scramSHA256
    /// Path of the users file, as written in proxy.conf (relative to the config file's folder).
    public var authFile: String?
    /// User → secret: a plain password, `md5…` or `SCRAM-SHA-256$…` verifier. Filled from
    /// `auth_file` (and from `--upstream` credentials when run without a file).
    public var users: [String: String] = [:]
    /// `auth_user`: the role pgstash logs in as to run `auth_query` for users not in the auth
    /// file; nil: no lookups. Its password: its auth-file entry, else the database entry's.
    public var authUser: String?
    /// Gets `$1` (the user name); returns `usename, passwd[, valid-until as Unix seconds]`.
    public var authQuery = AuthConfig.defaultAuthQuery
    /// How long a lookup's answer (a password, or "no such role") is reused.
    public var authCacheTTL: Double = 30
    /// `auth_dbname`: the `[databases.NAME]` entry lookups run on; nil: the client's database.
    public var authDbname: String?

    /// PgBouncer's default query, plus the password's expiry (rolvaliduntil) as a third column.
    public static let defaultAuthQuery =
        "SELECT usename, passwd, extract(epoch FROM valuntil) FROM pg_shadow WHERE usename = $1"

    public init() {}
}

/// `[redis]`: the cache store.
public struct RedisConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 6379
    /// Path of a Unix-domain socket; when set, `host` and `port` are not used.
    public var unixSocket: String?
    /// ACL user for `AUTH user password`; nil: `AUTH password` (the `default` user).
    public var user: String?
    /// Password sent with `AUTH` after every connect; nil: no `AUTH`.
    public var password: String?
    /// Database number selected with `SELECT` after every connect.
    public var database = 0
    public var enabled = true
    public var connectTimeout: Double = 1
    public var commandTimeout: Double = 0.25
    /// Consecutive failed commands after which the circuit breaker opens.
    public var breakerThreshold = 5
    /// How long an open breaker fails commands at once before one probe may try again.
    public var breakerCooldown: Double = 1
    public init() {}
}

/// One `[cache.tiers]` entry: a name and its TTL in seconds.
public struct CacheTier: Sendable, Equatable {
    public var name: String
    public var ttl: Double
    public init(name: String, ttl: Double) { self.name = name; self.ttl = ttl }
}

/// One `[[cache.rules]]` entry: match fields, then action fields; first match wins.
public struct CacheRule: Sendable, Equatable {
    public var name: String
    public var tier: String
    /// Matches when every table the query reads is in this list (empty: no table filter).
    public var tables: [String] = []
    public var fingerprint: String?
    /// Matches when the normalized statement contains this text.
    public var pattern: String?
    /// Share entries across roles.
    public var shared = false
    public var cache = true
    public init(name: String, tier: String) { self.name = name; self.tier = tier }
}

/// `[cache]`: whether and what to cache.
public struct CacheConfig: Sendable, Equatable {
    public var enabled = false
    /// The seed plan's L1–L4 tiers: orders 5 min, assignments 15 min, dashboard 30 min, search 2 min.
    public var tiers: [CacheTier] = [
        CacheTier(name: "L1", ttl: 300), CacheTier(name: "L2", ttl: 900),
        CacheTier(name: "L3", ttl: 1800), CacheTier(name: "L4", ttl: 120),
    ]
    public var rules: [CacheRule] = []
    public var maxResultBytes = 1024 * 1024
    /// This instance's name among the pgstash instances sharing the Redis (default
    /// `hostname:listen port`); stable across restarts, so that a restart replaces the lease
    /// of the incarnation it follows.
    public var instance: String?
    /// A member whose lease lapsed this many seconds ago is dropped from the membership, so a
    /// crashed instance that never comes back stops keeping the others from serving (0: never,
    /// the safe default — see docs/caching.md).
    public var forgetAfter: Double = 0
    /// Bytes of hot entries this instance keeps a copy of, served without a Redis round trip
    /// while it is the only instance on the Redis (docs/caching.md, "Local copies"); 0: none.
    public var localMemory = 64 * 1024 * 1024
    public init() {}
}

/// `[metrics]`: the Prometheus and health-check listener.
public struct MetricsConfig: Sendable, Equatable {
    public var enabled = true
    public var host = "127.0.0.1"
    public var port = 9187
    public init() {}
}

/// `[admin]`: who may use the admin console (virtual database `pgstash`).
public struct AdminConfig: Sendable, Equatable {
    public var users: [String] = []
    /// Normalized statements `SHOW QUERIES` keeps figures for (least recently run dropped
    /// first); 0 (the default) turns digests off and takes nothing on the query path. Off by
    /// default because normalizing every statement costs about 1 µs of proxy CPU per query
    /// (docs/admin.md), as pg_stat_statements is opt-in.
    public var queryDigests = 0
    public init() {}
}

/// `[log] format`: how each log line is written to standard error.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `pgstash info: message key=value …`, for a person at a terminal.
    case text
    /// `time=… level=info msg="…" key=value …` (logfmt).
    case logfmt
    /// One JSON object per line.
    case json
}

/// `[log] level`: the least severe level written.
public enum LogLevel: String, Sendable, Equatable, CaseIterable, Comparable {
    case debug, info, warning, error

    /// The severity order (a disabled `debug` line costs one comparison on the data path).
    var rank: Int {
        switch self {
        case .debug: return 0
        case .info: return 1
        case .warning: return 2
        case .error: return 3
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }
}

/// `[log]`: what pgstash logs and how (docs/logging.md).
public struct LogConfig: Sendable, Equatable {
    public var format: LogFormat = .text
    public var level: LogLevel = .info
    /// A client that waited longer than this for a server is logged (pool saturation);
    /// 0: not logged.
    public var acquireWaitThreshold: Double = 1
    public init() {}
}
