/// The keys of each section, which are the snake_case of the Swift field names.
enum ConfigKeys {
    static let sections = ["listen", "pool", "databases", "auth", "redis", "cache", "metrics", "admin", "log", "tls"]
    static let listen = ["host", "port", "max_clients", "startup_timeout", "max_message_size", "high_water_mark", "busy_poll"]
    /// Keys shared by `[pool]`, `[databases.NAME]` and `[pool.users.NAME]`.
    static let poolSettings = [
        "max_upstream", "min_idle", "acquire_timeout", "connect_timeout", "idle_timeout", "server_lifetime",
        "connect_retry_interval", "max_prepared_statements", "pin_on_session_state", "max_pinned",
        "max_listeners", "max_pending_notifications", "query_timeout", "idle_transaction_timeout",
    ]
    static let pool = ["mode"] + poolSettings + ["server_reset_query", "users"]
    /// Overrides accept the mode as `mode` or `pool_mode`.
    static let overrides = ["mode", "pool_mode"] + poolSettings
    static let database = ["host", "port", "dbname", "user", "password", "sslmode", "sslrootcert", "sslcert", "sslkey"]
        + overrides
    static let tls = ["client_mode", "cert_file", "key_file", "ca_file", "protocols", "ciphers"]
    static let auth = ["type", "auth_file", "auth_user", "auth_query", "auth_cache_ttl", "auth_dbname"]
    static let redis = [
        "host", "port", "unix_socket", "user", "password", "database", "enabled", "connect_timeout",
        "command_timeout", "breaker_threshold", "breaker_cooldown",
    ]
    static let cache = ["enabled", "max_result_bytes", "instance", "forget_after", "local_memory", "tiers", "rules"]
    static let rule = ["name", "tier", "tables", "fingerprint", "pattern", "shared", "cache"]
    static let metrics = ["enabled", "host", "port"]
    static let admin = ["users", "query_digests"]
    static let log = ["format", "level", "acquire_wait_threshold"]

    /// Keys of the sections that have fixed keys, to suggest `listen.port` for a bare `port`.
    static let bySection: [(String, [String])] = [
        ("listen", listen), ("pool", pool), ("auth", auth), ("redis", redis), ("cache", cache),
        ("metrics", metrics), ("admin", admin), ("log", log), ("tls", tls),
    ]
}

extension ConfigMapper {
    static let ports = 1...65535
    /// `listen.busy_poll` at most: 1 ms.
    static let maxBusyPoll = 0.001

    /// The whole document: sections, then the checks that span sections.
    mutating func map(_ document: TOMLTable) -> ProxyConfiguration {
        var config = ProxyConfiguration()
        checkTopLevel(document)
        if let t = table(document, "listen", in: "") { config.listen = listen(t) }
        if let t = table(document, "pool", in: "") { config.pool = pool(t) }
        if let t = table(document, "databases", in: "") { config.databases = databases(t) }
        if let t = table(document, "auth", in: "") { config.auth = auth(t) }
        if let t = table(document, "redis", in: "") { config.redis = redis(t) }
        if let t = table(document, "cache", in: "") { config.cache = cache(t) }
        if let t = table(document, "metrics", in: "") { config.metrics = metrics(t) }
        if let t = table(document, "admin", in: "") { config.admin = admin(t) }
        if let t = table(document, "log", in: "") { config.log = log(t) }
        if let t = table(document, "tls", in: "") { config.tls = tls(t) }
        validate(&config)
        return config
    }

    /// Unknown sections, and keys written before any section header.
    private mutating func checkTopLevel(_ document: TOMLTable) {
        let sectionTables = document.entries.filter { $0.value.table != nil || !ConfigKeys.sections.contains($0.key) }
        for (key, value) in sectionTables where value.table == nil {
            let homes = ConfigKeys.bySection.filter { $0.1.contains(key) }.map { "\($0.0).\(key)" }
            var message = "key \(TableNode.dotted([key])) is outside any section"
            message += homes.isEmpty
                ? "; put it under its section header (sections: \(ConfigKeys.sections.joined(separator: ", ")))"
                : "; did you mean \(homes.joined(separator: " or "))?"
            report(value.origin, key: key, message)
        }
        var tables = TOMLTable()
        for (key, value) in sectionTables where value.table != nil { tables[key] = value }
        checkKeys(tables, path: "", allowed: ConfigKeys.sections)
    }

    mutating func listen(_ t: TOMLTable) -> ListenConfig {
        let p = "listen"
        checkKeys(t, path: p, allowed: ConfigKeys.listen)
        var c = ListenConfig()
        if let v = string(t, "host", in: p, nonEmpty: true) { c.host = v }
        if let v = integer(t, "port", in: p, range: Self.ports) { c.port = v }
        if let v = integer(t, "max_clients", in: p, range: 1...Int.max) { c.maxClients = v }
        if let v = duration(t, "startup_timeout", in: p) { c.startupTimeout = v }
        // A message length is an Int32 on the wire (protocol-message-formats.html).
        if let v = size(t, "max_message_size", in: p, range: 1024...Int(Int32.max)) { c.maxMessageSize = v }
        if let v = size(t, "high_water_mark", in: p, range: 1024...Int.max) { c.highWaterMark = v }
        if let v = duration(t, "busy_poll", in: p) {
            if v <= Self.maxBusyPoll { c.busyPoll = v } else {
                report(t["busy_poll"]?.origin, key: "listen.busy_poll", "listen.busy_poll: at most \"1ms\" (polling longer would only burn CPU); got \(v) s")
            }
        }
        return c
    }

    mutating func pool(_ t: TOMLTable) -> PoolConfig {
        let p = "pool"
        checkKeys(t, path: p, allowed: ConfigKeys.pool)
        var c = PoolConfig()
        c.apply(poolOverrides(t, path: p, modeKeys: ["mode"]))
        if let v = string(t, "server_reset_query", in: p) { c.serverResetQuery = v }
        if let users = table(t, "users", in: p, what: "a table of [pool.users.NAME] sections") {
            for (name, value) in users.entries {
                let up = Self.join("pool.users", name)
                guard let ut = value.table else {
                    wrongType(value, up, "a table ([\(up)] section)")
                    continue
                }
                checkKeys(ut, path: up, allowed: ConfigKeys.overrides)
                c.users[name] = poolOverrides(ut, path: up, modeKeys: ["mode", "pool_mode"])
            }
        }
        return c
    }

    /// The pool settings of `[pool]`, `[databases.NAME]` or `[pool.users.NAME]`.
    mutating func poolOverrides(_ t: TOMLTable, path p: String, modeKeys: [String]) -> PoolOverrides {
        var o = PoolOverrides()
        let present = modeKeys.filter { t[$0] != nil }
        if present.count > 1 {
            report(t["pool_mode"]?.origin, key: Self.join(p, "pool_mode"),
                "set only one of \(Self.join(p, "mode")) and \(Self.join(p, "pool_mode"))")
        }
        if let key = present.first { o.mode = choice(t, key, in: p, as: PoolMode.self) }
        o.maxUpstream = integer(t, "max_upstream", in: p, range: 1...Int.max)
        o.minIdle = integer(t, "min_idle", in: p, range: 0...Int.max)
        o.acquireTimeout = duration(t, "acquire_timeout", in: p)
        o.connectTimeout = duration(t, "connect_timeout", in: p)
        o.idleTimeout = duration(t, "idle_timeout", in: p)
        o.serverLifetime = duration(t, "server_lifetime", in: p)
        o.connectRetryInterval = duration(t, "connect_retry_interval", in: p)
        o.maxPreparedStatements = integer(t, "max_prepared_statements", in: p, range: 0...Int.max)
        o.pinOnSessionState = bool(t, "pin_on_session_state", in: p)
        o.maxPinned = integer(t, "max_pinned", in: p, range: 0...Int.max)
        o.maxListeners = integer(t, "max_listeners", in: p, range: 0...1)
        o.maxPendingNotifications = integer(t, "max_pending_notifications", in: p, range: 1...Int.max)
        o.queryTimeout = duration(t, "query_timeout", in: p)
        o.idleTransactionTimeout = duration(t, "idle_transaction_timeout", in: p)
        return o
    }

    mutating func databases(_ t: TOMLTable) -> [String: DatabaseConfig] {
        var result: [String: DatabaseConfig] = [:]
        for (name, value) in t.entries {
            let p = Self.join("databases", name)
            guard let dt = value.table else {
                wrongType(value, p, "a table ([\(p)] section describing an upstream database)")
                continue
            }
            checkKeys(dt, path: p, allowed: ConfigKeys.database)
            if name == "pgstash" {
                report(value.origin, key: p, "the database name pgstash is reserved for the admin console")
            }
            var d = DatabaseConfig(dbname: name)
            if let v = string(dt, "host", in: p, nonEmpty: true) { d.host = v }
            if let v = integer(dt, "port", in: p, range: Self.ports) { d.port = v }
            if let v = string(dt, "dbname", in: p, nonEmpty: true) { d.dbname = v }
            d.user = string(dt, "user", in: p, nonEmpty: true)
            d.password = string(dt, "password", in: p)
            if d.password != nil, dt["user"] == nil {
                let key = Self.join(p, "password")
                report(origins[key], key: key, "\(key) is set without \(Self.join(p, "user"))")
            }
            d.tls = upstreamTLS(dt, path: p)
            d.pool = poolOverrides(dt, path: p, modeKeys: ["mode", "pool_mode"])
            result[name] = d
        }
        return result
    }

    mutating func auth(_ t: TOMLTable) -> AuthConfig {
        let p = "auth"
        checkKeys(t, path: p, allowed: ConfigKeys.auth)
        var c = AuthConfig()
        if let v = choice(t, "type", in: p, as: AuthType.self) { c.type = v }
        c.authFile = string(t, "auth_file", in: p, nonEmpty: true)
        c.authUser = string(t, "auth_user", in: p, nonEmpty: true)
        if let v = string(t, "auth_query", in: p, nonEmpty: true) { c.authQuery = v }
        if let v = duration(t, "auth_cache_ttl", in: p) { c.authCacheTTL = v }
        c.authDbname = string(t, "auth_dbname", in: p, nonEmpty: true)
        for key in ["auth_query", "auth_cache_ttl", "auth_dbname"] where t[key] != nil && c.authUser == nil {
            let k = Self.join(p, key)
            report(t[key]?.origin, key: k, "\(k) is set without auth.auth_user, so no lookup runs; set auth.auth_user")
        }
        return c
    }

    mutating func redis(_ t: TOMLTable) -> RedisConfig {
        let p = "redis"
        checkKeys(t, path: p, allowed: ConfigKeys.redis)
        var c = RedisConfig()
        if let v = string(t, "host", in: p, nonEmpty: true) { c.host = v }
        if let v = integer(t, "port", in: p, range: Self.ports) { c.port = v }
        if let v = bool(t, "enabled", in: p) { c.enabled = v }
        if let v = duration(t, "connect_timeout", in: p) { c.connectTimeout = v }
        if let v = duration(t, "command_timeout", in: p) { c.commandTimeout = v }
        c.unixSocket = string(t, "unix_socket", in: p, nonEmpty: true)
        c.user = string(t, "user", in: p, nonEmpty: true)
        c.password = string(t, "password", in: p)
        if let v = integer(t, "database", in: p, range: 0...Int.max) { c.database = v }
        if let v = integer(t, "breaker_threshold", in: p, range: 1...Int.max) { c.breakerThreshold = v }
        if let v = duration(t, "breaker_cooldown", in: p) { c.breakerCooldown = v }
        if c.user != nil, c.password == nil {
            report(origins["redis.user"], key: "redis.password",
                "redis.user is set but redis.password is not; AUTH with an ACL user needs both")
        }
        return c
    }

    mutating func metrics(_ t: TOMLTable) -> MetricsConfig {
        let p = "metrics"
        checkKeys(t, path: p, allowed: ConfigKeys.metrics)
        var c = MetricsConfig()
        if let v = bool(t, "enabled", in: p) { c.enabled = v }
        if let v = string(t, "host", in: p, nonEmpty: true) { c.host = v }
        if let v = integer(t, "port", in: p, range: Self.ports) { c.port = v }
        return c
    }

    mutating func admin(_ t: TOMLTable) -> AdminConfig {
        let p = "admin"
        checkKeys(t, path: p, allowed: ConfigKeys.admin)
        var c = AdminConfig()
        if let users = stringArray(t, "users", in: p) {
            if users.contains("") { report(origins["admin.users"], key: "admin.users", "admin.users has an empty name") }
            c.users = users.filter { !$0.isEmpty }
        }
        if let v = integer(t, "query_digests", in: p, range: 0...1_000_000) { c.queryDigests = v }
        return c
    }

    mutating func log(_ t: TOMLTable) -> LogConfig {
        let p = "log"
        checkKeys(t, path: p, allowed: ConfigKeys.log)
        var c = LogConfig()
        if let v = choice(t, "format", in: p, as: LogFormat.self) { c.format = v }
        if let v = choice(t, "level", in: p, as: LogLevel.self) { c.level = v }
        if let v = duration(t, "acquire_wait_threshold", in: p) { c.acquireWaitThreshold = v }
        return c
    }
}
