import ProxyConfig

/// How `RedisStore` connects and fails (docs/configuration.md `[redis]`).
public struct RedisSettings: Sendable, Equatable {
    public var endpoint: RedisEndpoint
    /// ACL user of `AUTH user password`; nil: `AUTH password`.
    public var user: String?
    /// Sent with `AUTH` after every connect; nil: no `AUTH`.
    public var password: String?
    /// Selected with `SELECT` after every connect (0: not sent).
    public var database = 0
    /// Seconds a connect, including its handshake, may take.
    public var connectTimeout: Double = 1
    /// Seconds a command may wait for its reply (0: no limit).
    public var commandTimeout: Double = 0.25
    public var breakerThreshold = 5
    public var breakerCooldown: Double = 1
    /// First pause before reconnecting; it doubles on each failure up to `maxReconnectDelay`.
    public var reconnectDelay: Double = 0.05
    public var maxReconnectDelay: Double = 2
    /// Key prefixes (`CacheKeys.prefix(database:)`) whose `RUNID` is checked on every connect
    /// before the store is ready.
    public var keyPrefixes: [String] = []

    public init(endpoint: RedisEndpoint) { self.endpoint = endpoint }

    /// The `[redis]` section, checking the `RUNID` of the cache prefix of each database.
    public init(config: RedisConfig, databases: [String]) {
        endpoint = config.unixSocket.map { .unix(path: $0) } ?? .tcp(host: config.host, port: config.port)
        user = config.user
        password = config.password
        database = config.database
        connectTimeout = config.connectTimeout
        commandTimeout = config.commandTimeout
        breakerThreshold = config.breakerThreshold
        breakerCooldown = config.breakerCooldown
        keyPrefixes = databases.sorted().map(CacheKeys.prefix(database:))
    }
}
