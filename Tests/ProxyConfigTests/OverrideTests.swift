import Testing
@testable import ProxyConfig

@Suite struct OverrideTests {
    @Test func overridesApplyOnTopOfTheFile() throws {
        let config = try load(minimal + "\n[pool]\nmax_upstream = 10", overrides: [
            "pool.max_upstream=50", "listen.port=7000", "databases.app.host=10.0.0.2", "pool.mode=session",
            "pool.acquire_timeout=5s", "cache.enabled=true", "admin.users=[\"root\"]",
            "listen.max_message_size=8MB",
        ])
        #expect(config.pool.maxUpstream == 50)
        #expect(config.listen.port == 7000)
        #expect(config.databases["app"]?.host == "10.0.0.2")
        #expect(config.pool.mode == .session)
        #expect(config.pool.acquireTimeout == 5)
        #expect(config.cache.enabled)
        #expect(config.admin.users == ["root"])
        #expect(config.listen.maxMessageSize == 8 << 20)
    }

    @Test func overrideCanCreateADatabase() throws {
        let config = try load(minimal, overrides: ["databases.reports.port=5433", "databases.reports.dbname=rep"])
        #expect(config.databases["reports"]?.port == 5433)
        #expect(config.databases["reports"]?.dbname == "rep")
        #expect(config.databases.count == 2)
    }

    @Test func inlineTablesReplaceTheRules() throws {
        let base = minimal + "\n[[cache.rules]]\nname = \"old\"\ntier = \"L1\"\ntables = [\"a\"]"
        let config = try load(base, overrides: [#"cache.rules=[{ name = "new", tier = "L4", pattern = "ILIKE" }]"#])
        #expect(config.cache.rules.map(\.name) == ["new"])
        #expect(config.cache.rules.first?.pattern == "ILIKE")
        let found = errors(base, overrides: [#"cache.rules=[{ name = "bad", tier = "L9", pattern = "x" }]"#])
        #expect(found.count == 1)
        #expect(found.first?.file == "command line")
        #expect(found.first?.message.contains("unknown tier \"L9\"") == true)
    }

    @Test func laterOverrideWins() throws {
        let config = try load(minimal, overrides: ["listen.port=7000", "listen.port=7001"])
        #expect(config.listen.port == 7001)
    }

    @Test func numericTextForAStringKeyIsKeptAsWritten() throws {
        let config = try load(minimal, overrides: ["databases.app.user=u", "databases.app.password=0x1F",
            "databases.app.dbname=true", "pool.server_reset_query=\"RESET ALL\""])
        #expect(config.databases["app"]?.password == "0x1F")
        #expect(config.databases["app"]?.dbname == "true")
        #expect(config.pool.serverResetQuery == "RESET ALL")
    }

    @Test func quotedKeySegments() throws {
        let config = try load(minimal, overrides: ["databases.\"my db\".port=6000"])
        #expect(config.databases["my db"]?.port == 6000)
    }

    @Test func unknownKeyNamesTheCommandLine() {
        let found = errors(minimal, overrides: ["pool.max_upstreem=3"])
        #expect(found.map(\.description) == [
            "command line: -c pool.max_upstreem=3: unknown key pool.max_upstreem; did you mean max_upstream?",
        ])
        #expect(found.first?.line == nil)
        #expect(found.first?.file == "command line")
    }

    @Test(arguments: [
        ("pool.max_upstream=zero", "-c pool.max_upstream=zero: pool.max_upstream must be an integer, got string"),
        ("listen.port=0", "-c listen.port=0: listen.port must be between 1 and 65535, got 0"),
        ("nosuch.key=1", "-c nosuch.key=1: unknown section [nosuch]"),
        ("port=1", "-c port=1: a key needs its section; did you mean listen.port or redis.port or metrics.port?"),
        ("pool.max_upstream", "-c pool.max_upstream: expected section.key=value"),
        ("pool..x=1", "-c pool..x=1: invalid key \"pool..x\""),
        ("pool.mode.x=1", "-c pool.mode.x=1: cannot set a key inside pool.mode, which is a string"),
        ("cache.rules.name=x", "-c cache.rules.name=x: cannot set a key inside cache.rules, which is an array of tables"),
    ])
    func badOverrides(option: String, message: String) {
        let base = minimal + "\n[pool]\nmode = \"session\"\n[[cache.rules]]\ntier = \"L1\"\ntables = [\"t\"]"
        let found = errors(base, overrides: [option])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.file == "command line")
        #expect(found.first?.message.hasPrefix(message) == true, "\(found)")
    }

    @Test func fileAndCommandLineErrorsTogether() {
        let found = errors(minimal + "\n[pool]\nmax_upstream = 0", overrides: ["listen.port=x"])
        #expect(found.map(\.description) == [
            "test.conf:5: pool.max_upstream must be at least 1, got 0",
            "command line: -c listen.port=x: listen.port must be an integer, got string",
        ])
    }

    @Test(arguments: [
        ("10.1.2.3:7000", "10.1.2.3", 7000), ("[::1]:6433", "::1", 6433), (":6500", "127.0.0.1", 6500),
        ("6600", "127.0.0.1", 6600), ("localhost:1", "localhost", 1),
    ])
    func listenOption(text: String, host: String, port: Int) throws {
        let config = try load(minimal + "\n[listen]\nhost = \"0.0.0.0\"\nport = 9999", listen: text)
        #expect(config.listen.host == host)
        #expect(config.listen.port == port)
    }

    @Test func dashCWinsOverListen() throws {
        let config = try load(minimal, overrides: ["listen.port=7100"], listen: "0.0.0.0:7000")
        #expect(config.listen.host == "0.0.0.0")
        #expect(config.listen.port == 7100)
    }

    @Test(arguments: ["localhost", "::1:5432", "[::1]", "host:port", "h:70000"])
    func badListen(text: String) {
        let found = errors(minimal, listen: text)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("--listen \(text): ") == true, "\(found)")
    }
}
