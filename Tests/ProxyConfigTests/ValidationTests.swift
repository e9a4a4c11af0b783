import Testing
@testable import ProxyConfig

/// `(line, message fragment)` of each error, for compact expectations.
private func located(_ errors: [ConfigError]) -> [(Int?, String)] {
    errors.map { ($0.line, $0.message) }
}

private func expectSingleError(
    _ text: String, line: Int, _ fragment: String, key: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    let found = errors(text)
    #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
    guard let error = found.first else { return }
    #expect(error.file == "test.conf", sourceLocation: sourceLocation)
    #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
    if let key { #expect(error.key == key, sourceLocation: sourceLocation) }
}

@Suite struct ValidationTests {
    @Test func unknownKeySuggestsTheClosest() {
        expectSingleError(minimal + "\n[pool]\nmax_upstreem = 3", line: 5,
            "unknown key pool.max_upstreem; did you mean max_upstream?", key: "pool.max_upstreem")
    }

    @Test func unknownKeyWithoutSuggestionListsValidKeys() {
        expectSingleError(minimal + "\n[redis]\nfoo = 1", line: 5, "unknown key redis.foo (valid keys: host, port")
    }

    @Test func unknownSectionSuggestsTheClosest() {
        expectSingleError(minimal + "\n[lisen]\nport = 1", line: 4, "unknown section [lisen]; did you mean [listen]?")
    }

    @Test func keyOutsideAnySection() {
        expectSingleError("max_clients = 5\n" + minimal, line: 1, "did you mean listen.max_clients?")
    }

    @Test func wrongType() {
        expectSingleError(minimal + "\n[pool]\nmax_upstream = \"20\"", line: 5,
            "pool.max_upstream must be an integer, got string")
        expectSingleError(minimal + "\n[redis]\nenabled = 1", line: 5, "redis.enabled must be a boolean")
        expectSingleError(minimal + "\n[admin]\nusers = \"root\"", line: 5, "admin.users must be an array of strings")
        expectSingleError(minimal + "\n[admin]\nusers = [\"a\", 1]", line: 5, "admin.users must be an array of strings")
        expectSingleError(minimal + "\nhost = 1", line: 4, "databases.app.host must be a string, got integer")
        expectSingleError(minimal + "\n[pool]\nacquire_timeout = true", line: 5,
            "pool.acquire_timeout must be a duration")
        expectSingleError("listen = 3\n" + minimal, line: 1, "listen must be a table, got integer")
        expectSingleError(minimal + "\n[cache]\nrules = [1]", line: 5, "cache.rules must be an array of tables")
    }

    @Test(arguments: [
        ("[listen]\nport = 0", "listen.port must be between 1 and 65535, got 0"),
        ("[listen]\nport = 70000", "listen.port must be between 1 and 65535, got 70000"),
        ("[metrics]\nport = -1", "metrics.port must be between 1 and 65535"),
        ("[redis]\nport = 65536", "redis.port must be between 1 and 65535"),
        ("[pool]\nmax_upstream = 0", "pool.max_upstream must be at least 1, got 0"),
        ("[pool]\nmin_idle = -1", "pool.min_idle must not be negative, got -1"),
        ("[pool]\nacquire_timeout = -1", "pool.acquire_timeout must not be negative, got -1"),
        ("[pool]\nidle_timeout = \"-5s\"", "pool.idle_timeout must not be negative, got -5"),
        ("[redis]\ncommand_timeout = -0.5", "redis.command_timeout must not be negative, got -0.5"),
        ("[listen]\nmax_clients = 0", "listen.max_clients must be at least 1"),
        ("[listen]\nmax_message_size = 1000", "listen.max_message_size must be between 1024"),
        ("[listen]\nmax_message_size = \"4GB\"", "listen.max_message_size must be between 1024 and 2147483647"),
        ("[pool]\nmode = \"statement\"", "pool.mode must be \"transaction\" or \"session\", got \"statement\""),
        ("[pool]\nmax_upstream = 5\nmin_idle = 6", "pool.min_idle (6) must not exceed max_upstream (5)"),
        ("[cache]\nmax_result_bytes = \"12XB\"", "cache.max_result_bytes: invalid size \"12XB\""),
        ("[cache.tiers]\nL1 = 0", "cache.tiers.L1 must be positive, got 0"),
        ("[pool]\nconnect_timeout = \"5 parsecs\"", "pool.connect_timeout: invalid duration \"5 parsecs\""),
    ])
    func outOfRange(section: String, fragment: String) {
        let text = minimal + "\n" + section
        let lastLine = text.split(separator: "\n", omittingEmptySubsequences: false).count
        expectSingleError(text, line: lastLine, fragment)
    }

    @Test func minIdleAboveAnOverriddenMaxUpstream() {
        let text = minimal + """

            max_upstream = 2
            [pool]
            min_idle = 3
            [pool.users.bob]
            max_upstream = 1
            """
        let found = errors(text)
        #expect(found.map(\.line) == [4, 8])
        #expect(found[0].message == "databases.app.min_idle (3) must not exceed max_upstream (2)")
        #expect(found[1].message == "pool.users.bob.min_idle (3) must not exceed max_upstream (1)")
    }

    @Test func noDatabases() {
        let found = errors("[auth]\ntype = \"trust\"")
        #expect(found.count == 1)
        #expect(found.first?.line == nil)
        #expect(found.first?.description == "test.conf: no databases defined; add a [databases.NAME] section "
            + "with the upstream host, port and dbname")
    }

    @Test func reservedDatabaseName() {
        expectSingleError(minimal + "\n[databases.pgstash]", line: 4, "reserved for the admin console")
    }

    @Test func passwordWithoutUser() {
        expectSingleError(minimal + "\npassword = \"x\"", line: 4, "databases.app.password is set without")
    }

    @Test func bothModeSpellings() {
        expectSingleError(minimal + "\nmode = \"session\"\npool_mode = \"session\"", line: 5, "set only one of")
    }

    @Test func cacheRuleWithUnknownTier() {
        expectSingleError(minimal + """

            [[cache.rules]]
            name = "x"
            tier = "L7"
            tables = ["orders"]
            """, line: 6, "cache.rules[1].tier names unknown tier \"L7\" (tiers: L1, L2, L3, L4)")
    }

    @Test func cacheRuleTierDefinedInTheFileIsKnown() throws {
        let config = try load(minimal + """

            [cache.tiers]
            L7 = "1m"
            [[cache.rules]]
            tier = "L7"
            tables = ["orders"]
            """)
        #expect(config.cache.rules.first?.tier == "L7")
    }

    @Test func cacheRuleProblems() {
        let found = errors(minimal + """

            [[cache.rules]]
            name = "a"
            tables = ["orders"]
            [[cache.rules]]
            name = "a"
            tier = "L1"
            tables = []
            """)
        #expect(located(found).map(\.0) == [4, 7, 8])
        #expect(found[0].message.contains("has no tier"))
        #expect(found[1].message.contains("matches every query"))
        #expect(found[2].message == "duplicate cache rule name \"a\" (first on line 4)")
    }

    @Test func authWithoutUsers() {
        expectSingleError("[databases.app]\n[auth]\ntype = \"md5\"", line: 3, "no users are defined")
    }

    @Test func metricsPortCollidesWithListen() {
        expectSingleError(minimal + "\n[metrics]\nport = 6432", line: 5, "metrics.port 6432 is also listen.port")
    }

    @Test func collectsEveryErrorInLineOrder() {
        let found = errors("""
            [pool]
            max_upstream = 0
            mode = 3
            [listen]
            port = "x"
            bogus = 1
            """)
        #expect(found.map(\.line) == [2, 3, 5, 6, nil, nil])
        #expect(found[4].message.contains("no databases defined"))
        #expect(found[5].message.contains("no users are defined"))
        #expect(found.map(\.description)[0] == "test.conf:2: pool.max_upstream must be at least 1, got 0")
    }

    @Test func syntaxErrorNamesFileAndLine() {
        let found = errors("[pool]\nmax_upstream = = 3")
        #expect(found.map(\.description) == ["test.conf:2: expected a value, found '='"])
    }
}
