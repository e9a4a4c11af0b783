import Testing
@testable import ProxyConfig

/// `[redis]` connection, authentication and circuit-breaker keys.
@Suite struct RedisSectionTests {
    @Test func everyKey() throws {
        let config = try load(minimal + """

            [redis]
            unix_socket = "/run/redis/redis.sock"
            user = "pgstash"
            password = "s3cret"
            database = 3
            breaker_threshold = 8
            breaker_cooldown = "500ms"
            """)
        #expect(config.redis.unixSocket == "/run/redis/redis.sock")
        #expect(config.redis.user == "pgstash")
        #expect(config.redis.password == "s3cret")
        #expect(config.redis.database == 3)
        #expect(config.redis.breakerThreshold == 8)
        #expect(config.redis.breakerCooldown == 0.5)
    }

    @Test func defaults() throws {
        let redis = try load(minimal).redis
        #expect(redis.unixSocket == nil && redis.user == nil && redis.password == nil)
        #expect(redis.database == 0)
        #expect(redis.breakerThreshold == 5)
        #expect(redis.breakerCooldown == 1)
    }

    @Test(arguments: [
        ("[redis]\nuser = \"u\"", "redis.user is set but redis.password is not"),
        ("[redis]\ndatabase = -1", "redis.database must not be negative, got -1"),
        ("[redis]\nbreaker_threshold = 0", "redis.breaker_threshold must be at least 1, got 0"),
        ("[redis]\nbreaker_cooldown = -1", "redis.breaker_cooldown must not be negative, got -1"),
    ])
    func invalid(_ snippet: String, _ message: String) {
        let found = errors(minimal + "\n" + snippet)
        #expect(found.count == 1)
        #expect(found.first?.message.contains(message) == true, "\(found.map(\.message))")
    }
}
