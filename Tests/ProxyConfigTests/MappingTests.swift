import Testing
@testable import ProxyConfig

@Suite struct MappingTests {
    @Test func minimalFileGetsEveryDefault() throws {
        let config = try load(minimal)
        var expected = ProxyConfiguration()
        expected.auth.type = .trust
        expected.databases["app"] = DatabaseConfig(dbname: "app")
        #expect(config == expected)
        #expect(config.databases["app"]?.host == "127.0.0.1")
        #expect(config.databases["app"]?.port == 5432)
        #expect(config.cache.tiers.map(\.name) == ["L1", "L2", "L3", "L4"])
    }

    @Test func everyKeyIsMapped() throws {
        let config = try load("""
            [listen]
            host = "0.0.0.0"
            port = 7432
            max_clients = 50
            startup_timeout = 3
            max_message_size = "1MB"
            high_water_mark = 65536

            [pool]
            mode = "session"
            max_upstream = 8
            min_idle = 2
            acquire_timeout = "1.5s"
            connect_timeout = "500ms"
            idle_timeout = "2m"
            server_lifetime = "1h"
            connect_retry_interval = 0.5
            max_prepared_statements = 100
            pin_on_session_state = true
            server_reset_query = ""
            query_timeout = "30s"
            idle_transaction_timeout = 60

            [pool.users.bob]
            mode = "transaction"
            max_upstream = 4
            idle_transaction_timeout = "5s"

            [databases.app]
            host = "db.internal"
            port = 5433
            dbname = "app_prod"
            user = "postgres"
            password = "secret"
            pool_mode = "transaction"
            max_upstream = 6
            min_idle = 1
            acquire_timeout = 2
            connect_timeout = 3
            idle_timeout = 4
            server_lifetime = 5
            connect_retry_interval = 6
            max_prepared_statements = 7
            pin_on_session_state = false

            [auth]
            type = "md5"

            [redis]
            host = "cache.internal"
            port = 6380
            enabled = false
            connect_timeout = "2s"
            command_timeout = "100ms"

            [cache]
            enabled = true
            max_result_bytes = "256kB"

            [cache.tiers]
            L1 = 60
            hot = "10s"

            [[cache.rules]]
            name = "orders"
            tier = "L1"
            tables = ["orders", "customers"]
            fingerprint = "a1b2c3d4e5f60718"
            pattern = "ORDER BY"
            shared = true
            cache = true

            [metrics]
            enabled = false
            host = "0.0.0.0"
            port = 9100

            [admin]
            users = ["root", "ops"]
            """, overrides: ["auth.type=trust"])
        #expect(config.listen.host == "0.0.0.0")
        #expect(config.listen.port == 7432)
        #expect(config.listen.maxClients == 50)
        #expect(config.listen.startupTimeout == 3)
        #expect(config.listen.maxMessageSize == 1 << 20)
        #expect(config.listen.highWaterMark == 65536)

        let pool = config.pool
        #expect(pool.mode == .session)
        #expect(pool.maxUpstream == 8)
        #expect(pool.minIdle == 2)
        #expect(pool.acquireTimeout == 1.5)
        #expect(pool.connectTimeout == 0.5)
        #expect(pool.idleTimeout == 120)
        #expect(pool.serverLifetime == 3600)
        #expect(pool.connectRetryInterval == 0.5)
        #expect(pool.maxPreparedStatements == 100)
        #expect(pool.pinOnSessionState)
        #expect(pool.serverResetQuery == "")
        #expect(pool.queryTimeout == 30)
        #expect(pool.idleTransactionTimeout == 60)
        #expect(pool.users["bob"]?.idleTransactionTimeout == 5)
        #expect(pool.users["bob"]?.queryTimeout == nil)
        #expect(pool.users["bob"]?.mode == .transaction)
        #expect(pool.users["bob"]?.maxUpstream == 4)
        #expect(pool.users["bob"]?.minIdle == nil)

        let app = try #require(config.databases["app"])
        #expect(app.host == "db.internal")
        #expect(app.port == 5433)
        #expect(app.dbname == "app_prod")
        #expect(app.user == "postgres")
        #expect(app.password == "secret")
        var overrides = PoolOverrides()
        overrides.mode = .transaction
        overrides.maxUpstream = 6
        overrides.minIdle = 1
        overrides.acquireTimeout = 2
        overrides.connectTimeout = 3
        overrides.idleTimeout = 4
        overrides.serverLifetime = 5
        overrides.connectRetryInterval = 6
        overrides.maxPreparedStatements = 7
        overrides.pinOnSessionState = false
        #expect(app.pool == overrides)

        #expect(config.auth.type == .trust)
        #expect(config.redis.host == "cache.internal")
        #expect(config.redis.port == 6380)
        #expect(config.redis.enabled == false)
        #expect(config.redis.connectTimeout == 2)
        #expect(config.redis.commandTimeout == 0.1)

        #expect(config.cache.enabled)
        #expect(config.cache.maxResultBytes == 256 * 1024)
        #expect(config.cache.tiers.map(\.name) == ["L1", "L2", "L3", "L4", "hot"])
        #expect(config.cache.tiers.map(\.ttl) == [60, 900, 1800, 120, 10])
        var rule = CacheRule(name: "orders", tier: "L1")
        rule.tables = ["orders", "customers"]
        rule.fingerprint = "a1b2c3d4e5f60718"
        rule.pattern = "ORDER BY"
        rule.shared = true
        #expect(config.cache.rules == [rule])

        #expect(config.metrics.enabled == false)
        #expect(config.metrics.host == "0.0.0.0")
        #expect(config.metrics.port == 9100)
        #expect(config.admin.users == ["root", "ops"])
    }

    @Test func effectivePoolLayersDatabaseThenUser() throws {
        let config = try load(minimal + """

            max_upstream = 10
            mode = "session"
            [pool]
            max_upstream = 20
            acquire_timeout = 5
            [pool.users.bob]
            pool_mode = "transaction"
            acquire_timeout = 1
            """)
        let forBob = config.effectivePool(database: "app", user: "bob")
        #expect(forBob.maxUpstream == 10)
        #expect(forBob.mode == .transaction)
        #expect(forBob.acquireTimeout == 1)
        let forAlice = config.effectivePool(database: "app", user: "alice")
        #expect(forAlice.mode == .session)
        #expect(forAlice.acquireTimeout == 5)
    }

    /// A pool shared by users without overrides takes no user's overrides (nil user), even
    /// when its upstream login is a user that has some.
    @Test func effectivePoolWithoutAUserTakesNoUserOverrides() throws {
        let config = try load(minimal + """

            mode = "transaction"
            [pool.users.bob]
            mode = "session"
            """)
        #expect(config.effectivePool(database: "app", user: nil).mode == .transaction)
        #expect(config.effectivePool(database: "app", user: "bob").mode == .session)
    }

    @Test func dbnameDefaultsToTheSectionName() throws {
        let config = try load(minimal + "\n[databases.\"reports db\"]\nport = 5433")
        #expect(config.databases["reports db"]?.dbname == "reports db")
        #expect(config.databases["app"]?.dbname == "app")
    }

    @Test func cacheRuleDefaults() throws {
        let config = try load(minimal + """

            [[cache.rules]]
            tier = "L2"
            pattern = "assignments"
            [[cache.rules]]
            name = "skip"
            tables = ["notifications"]
            cache = false
            """)
        #expect(config.cache.rules.count == 2)
        #expect(config.cache.rules[0].name == "rule1")
        #expect(config.cache.rules[0].cache)
        #expect(config.cache.rules[0].shared == false)
        #expect(config.cache.rules[1].tier == "")
        #expect(config.cache.rules[1].cache == false)
    }

    @Test(arguments: [
        ("200ms", 0.2), ("30s", 30), ("5m", 300), ("1h", 3600), ("1.5s", 1.5), ("30", 30), ("2 min", 120),
        ("1d", 86400), ("250us", 0.00025),
    ])
    func durations(text: String, seconds: Double) {
        #expect(Units.duration(text) == seconds)
    }

    @Test(arguments: [
        ("64MB", 64 << 20), ("1MiB", 1 << 20), ("512kB", 512 << 10), ("4096", 4096), ("1GB", 1 << 30),
        ("2 KiB", 2048), ("10B", 10),
    ])
    func sizes(text: String, bytes: Int) {
        #expect(Units.size(text) == bytes)
    }

    @Test(arguments: ["5 parsecs", "", "ms", "1.2.3s", "s5"])
    func badDurations(text: String) {
        #expect(Units.duration(text) == nil)
    }

    @Test func summaryCountsWhatMatters() throws {
        var config = try load(minimal)
        config.auth.users = ["a": "x", "b": "y"]
        #expect(config.summary == "1 database, 2 users, pool mode transaction, max_upstream 20, cache disabled")
        config.cache.enabled = true
        config.cache.rules = [CacheRule(name: "r", tier: "L1")]
        #expect(config.summary.hasSuffix("cache enabled with 1 rule"))
    }

    @Test(arguments: [
        ("max_upstreem", "max_upstream"), ("maxUpstream", "max_upstream"), ("MAX-UPSTREAM", "max_upstream"),
        ("upstream_max", nil), ("hots", "host"),
    ])
    func suggestions(word: String, expected: String?) {
        let keys = ["host", "port", "max_upstream", "min_idle"]
        #expect(Suggestion.closest(to: word, in: keys) == expected)
    }
}
