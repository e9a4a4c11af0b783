import ProxyConfig

/// `SHOW CONFIG`: every setting of `proxy.conf` as `section.key`, its running value, its
/// default, and whether `RELOAD` (or SIGHUP) changes it in the running process.
enum AdminConfigRows {
    static func rows(_ c: ProxyConfiguration) -> [[String?]] {
        let d = ProxyConfiguration()
        func row(_ key: String, _ value: (ProxyConfiguration) -> String?, reloadable: Bool = true) -> [String?] {
            [key, value(c), value(d), reloadable ? "yes" : "no"]
        }
        return [
            row("listen.host", { $0.listen.host }, reloadable: false),
            row("listen.port", { "\($0.listen.port)" }, reloadable: false),
            row("listen.max_clients", { "\($0.listen.maxClients)" }),
            row("listen.startup_timeout", { number($0.listen.startupTimeout) }),
            row("listen.max_message_size", { "\($0.listen.maxMessageSize)" }),
            row("listen.high_water_mark", { "\($0.listen.highWaterMark)" }),
            row("listen.busy_poll", { number($0.listen.busyPoll) }),
            row("pool.mode", { $0.pool.mode.rawValue }),
            row("pool.max_upstream", { "\($0.pool.maxUpstream)" }),
            row("pool.min_idle", { "\($0.pool.minIdle)" }),
            row("pool.acquire_timeout", { number($0.pool.acquireTimeout) }),
            row("pool.connect_timeout", { number($0.pool.connectTimeout) }),
            row("pool.idle_timeout", { number($0.pool.idleTimeout) }),
            row("pool.server_lifetime", { number($0.pool.serverLifetime) }),
            row("pool.connect_retry_interval", { number($0.pool.connectRetryInterval) }),
            row("pool.max_prepared_statements", { "\($0.pool.maxPreparedStatements)" }),
            row("pool.pin_on_session_state", { "\($0.pool.pinOnSessionState)" }),
            row("pool.query_timeout", { number($0.pool.queryTimeout) }),
            row("pool.idle_transaction_timeout", { number($0.pool.idleTransactionTimeout) }),
            row("pool.server_reset_query", { $0.pool.serverResetQuery }),
            row("auth.type", { $0.auth.type.rawValue }),
            row("auth.auth_file", { $0.auth.authFile }),
            row("redis.host", { $0.redis.host }),
            row("redis.port", { "\($0.redis.port)" }),
            row("redis.enabled", { "\($0.redis.enabled)" }),
            row("redis.connect_timeout", { number($0.redis.connectTimeout) }),
            row("redis.command_timeout", { number($0.redis.commandTimeout) }),
            row("cache.enabled", { "\($0.cache.enabled)" }),
            row("cache.max_result_bytes", { "\($0.cache.maxResultBytes)" }),
            row("metrics.enabled", { "\($0.metrics.enabled)" }, reloadable: false),
            row("metrics.host", { $0.metrics.host }, reloadable: false),
            row("metrics.port", { "\($0.metrics.port)" }, reloadable: false),
            row("admin.users", { $0.admin.users.joined(separator: ",") }),
            row("admin.query_digests", { "\($0.admin.queryDigests)" }),
            row("log.format", { $0.log.format.rawValue }),
            row("log.level", { $0.log.level.rawValue }),
            row("log.acquire_wait_threshold", { number($0.log.acquireWaitThreshold) }),
            row("tls.client_mode", { $0.tls.clientMode.rawValue }),
            row("tls.cert_file", { $0.tls.certFile }),
            row("tls.key_file", { $0.tls.keyFile }),
            row("tls.ca_file", { $0.tls.caFile }),
            row("tls.protocols", { "\($0.tls.protocols.lowerBound.rawValue)-\($0.tls.protocols.upperBound.rawValue)" }),
            row("tls.ciphers", { $0.tls.ciphers }),
        ]
    }

    /// A duration or TTL without a useless `.0`: `30`, `0.2`.
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))" : "\(v)"
    }
}
