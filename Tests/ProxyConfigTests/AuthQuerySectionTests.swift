import Testing
@testable import ProxyConfig

/// `[auth] auth_user`, `auth_query`, `auth_cache_ttl`, `auth_dbname`.
@Suite struct AuthQuerySectionTests {
    @Test func defaults() throws {
        let auth = try load(minimal).auth
        #expect(auth.authUser == nil)
        #expect(auth.authQuery == "SELECT usename, passwd, extract(epoch FROM valuntil) FROM pg_shadow WHERE usename = $1")
        #expect(auth.authCacheTTL == 30)
        #expect(auth.authDbname == nil)
    }

    /// auth_user alone is enough users: no auth file needed.
    @Test func authUserWithoutAuthFile() throws {
        let auth = try load("""
            [databases.app]
            user = "pgstash"
            password = "x"
            [auth]
            type = "scram-sha-256"
            auth_user = "pgstash"
            auth_query = "SELECT * FROM pgstash.user_lookup($1)"
            auth_cache_ttl = "2m"
            auth_dbname = "app"
            """).auth
        #expect(auth.authUser == "pgstash")
        #expect(auth.authQuery == "SELECT * FROM pgstash.user_lookup($1)")
        #expect(auth.authCacheTTL == 120)
        #expect(auth.authDbname == "app")
    }

    @Test func summaryNamesTheAuthUser() throws {
        let config = try load("[databases.app]\n[auth]\ntype = \"md5\"\nauth_user = \"pgstash\"")
        #expect(config.summary == "1 database, 0 users (others by auth_query as pgstash), pool mode transaction, max_upstream 20, cache disabled")
    }

    @Test func lookupKeysWithoutAuthUser() {
        let found = errors("[databases.app]\n[auth]\ntype = \"trust\"\nauth_query = \"SELECT 1\"")
        #expect(found.count == 1)
        #expect(found.first?.line == 4)
        #expect(found.first?.message.contains("auth.auth_query is set without auth.auth_user") == true)
    }

    @Test func authDbnameMustNameADatabase() {
        let found = errors("[databases.app]\n[auth]\ntype = \"md5\"\nauth_user = \"u\"\nauth_dbname = \"nope\"")
        #expect(found.count == 1)
        #expect(found.first?.line == 5)
        #expect(found.first?.message.contains("names no [databases] entry; known: app") == true)
    }
}
