import Testing
@testable import ProxyConfig

@Suite struct UpstreamTests {
    @Test func upstreamURLGivesOneDatabaseAndItsUser() throws {
        let config = try ConfigLoader.fromUpstream(url: "postgresql://app:s3cret@db.local:5433/shop", listen: nil)
        var database = DatabaseConfig(dbname: "shop")
        database.host = "db.local"
        database.port = 5433
        database.user = "app"
        database.password = "s3cret"
        var expected = ProxyConfiguration()
        expected.databases = ["shop": database]
        expected.auth.users = ["app": "s3cret"]
        #expect(config == expected)
        #expect(config.listen.host == "127.0.0.1")
        #expect(config.listen.port == 6432)
    }

    @Test func listenAndOverridesApply() throws {
        let config = try ConfigLoader.fromUpstream(
            url: "postgres://u:p@127.0.0.1/app", listen: "0.0.0.0:7432", overrides: ["pool.max_upstream=5"])
        #expect(config.listen.host == "0.0.0.0")
        #expect(config.listen.port == 7432)
        #expect(config.pool.maxUpstream == 5)
        #expect(config.databases["app"]?.port == 5432)
    }

    @Test func percentDecodingAndIPv6() throws {
        let url = "postgresql://us%40er:p%3Aw%2Fd%25@[::1]:6000/my%20db"
        let parsed = try UpstreamURL.parse(url).get()
        #expect(parsed == UpstreamURL(user: "us@er", password: "p:w/d%", host: "::1", port: 6000, database: "my db"))
        let bare = try UpstreamURL.parse("postgresql://u:p@[fe80::1]/d").get()
        #expect(bare.host == "fe80::1")
        #expect(bare.port == 5432)
    }

    @Test func databaseDefaultsToUserAndSSLModeDisableIsAccepted() throws {
        let parsed = try UpstreamURL.parse("postgresql://alice:pw@localhost?sslmode=disable").get()
        #expect(parsed.database == "alice")
        #expect(parsed.host == "localhost")
    }

    @Test func noPasswordMeansTrust() throws {
        let config = try ConfigLoader.fromUpstream(url: "postgresql://postgres@localhost/app", listen: nil)
        #expect(config.auth.type == .trust)
        #expect(config.auth.users.isEmpty)
        #expect(config.databases["app"]?.password == nil)
    }

    @Test(arguments: [
        "mysql://u:p@h/d", "postgresql://h/d", "postgresql://u:p@h:0/d", "postgresql://u:p@h:x/d",
        "postgresql://u%zz:p@h/d", "postgresql://u:p@h/d?sslmode=verify", "postgresql://:p@h/d",
    ])
    func badURLs(url: String) {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.fromUpstream(url: url, listen: nil) }
        do {
            _ = try ConfigLoader.fromUpstream(url: url, listen: nil)
        } catch {
            #expect(error.errors.first?.description.hasPrefix("command line: --upstream: ") == true, "\(error)")
        }
    }

    @Test func overrideErrorsInUpstreamMode() {
        do {
            _ = try ConfigLoader.fromUpstream(url: "postgresql://u:p@h/d", listen: "x", overrides: ["pool.mode=bad"])
            Issue.record("expected errors")
        } catch {
            #expect(error.errors.count == 2)
            #expect(error.errors.allSatisfy { $0.file == "command line" })
        }
    }
}
