import PostgresWire
import ProxyConfig
import ProxyCore
import Testing

/// The console's command table, columns and wire traces, without sockets.
@Suite("AdminConsole")
struct AdminConsoleTests {
    static func snapshot() -> AdminSnapshot {
        var cfg = ProxyConfiguration()
        cfg.databases["app"] = DatabaseConfig(dbname: "appdb")
        cfg.databases["other"] = DatabaseConfig(dbname: "other")
        var rule = CacheRule(name: "orders", tier: "L1")
        rule.tables = ["orders", "order_items"]
        cfg.cache.rules = [rule]
        var s = AdminSnapshot(version: "pgstash 0.1.0", wallClock: 0, config: cfg)
        var pool = AdminSnapshot.PoolRow(database: "app", user: "app", mode: "transaction")
        pool.clientsActive = 3
        pool.clientsWaiting = 1
        pool.maxWait = 2.5
        s.pools = [pool]
        var t = TrafficCounters()
        t.transactions = 7
        t.received = 1234
        s.stats = [AdminSnapshot.Stats(database: "app", totals: t, averages: TrafficAverages())]
        return s
    }

    static func rows(_ command: String) -> AdminResultSet? {
        guard case .success(let c) = AdminCommand.parse(command),
              case .outcome(.rows(let set)) = AdminConsole.run(c, snapshot()) else { return nil }
        return set
    }

    // MARK: Parsing

    @Test(arguments: [
        ("show pools", AdminCommand.show(.pools)), ("  SHOW   Stats ; ", .show(.stats)), ("pause", .pause(database: nil)),
        ("PAUSE app", .pause(database: "app")), ("resume \"My Db\"", .resume(database: "My Db")),
        ("KILL app;", .kill(database: "app")), ("reload", .reload), ("shutdown", .shutdown),
        ("show queries", .show(.queries)), ("show cache advice", .show(.cacheAdvice)),
    ])
    func parses(text: String, command: AdminCommand) {
        #expect(AdminCommand.parse(text) == .success(command))
    }

    @Test(arguments: ["select 1", "SHOW", "SHOW FOO", "RELOAD now", "KILL", "PAUSE a b", ""])
    func refusesWithTheCommandList(text: String) throws {
        guard case .failure(let e) = AdminCommand.parse(text) else { Issue.record("parsed \(text)"); return }
        #expect(e.sqlState == "42601")
        #expect(e.hint?.contains("SHOW POOLS") == true || text == "KILL")
    }

    @Test func splitsStatementsOutsideQuotes() {
        #expect(AdminCommand.statements(in: "SHOW POOLS; PAUSE \"a;b\";;") == ["SHOW POOLS", " PAUSE \"a;b\""])
        #expect(AdminCommand.statements(in: " ; ") == [])
    }

    // MARK: PgBouncer 1.18's columns

    @Test func poolColumnsAreThoseOfPgBouncer() throws {
        let set = try #require(Self.rows("SHOW POOLS"))
        #expect(set.columns.map(\.name) == ["database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
            "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
            "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"])
        #expect(set.columns.map(\.type.rawValue) == [25, 25] + Array(repeating: 23, count: 13) + [25])
        #expect(set.rows == [["app", "app", "3", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "2", "500000", "transaction"]])
    }

    @Test func statsCountersAreNumeric() throws {
        let set = try #require(Self.rows("SHOW STATS"))
        #expect(set.columns.count == 15)
        #expect(set.columns.dropFirst().allSatisfy { $0.type == .numeric })
        #expect(set.rows.first?[1] == "7")
        #expect(set.rows.first?[3] == "1234")
    }

    @Test func clientAndServerColumnsMatch() throws {
        let names = AdminConsole.columns(of: .clients).map(\.name)
        #expect(names == ["type", "user", "database", "state", "addr", "port", "local_addr", "local_port", "connect_time",
                          "request_time", "wait", "wait_us", "close_needed", "ptr", "link", "remote_pid", "tls", "application_name"])
        #expect(AdminConsole.columns(of: .servers) == AdminConsole.columns(of: .clients))
    }

    @Test func databasesListsEachDatabaseAndTheConsole() throws {
        let set = try #require(Self.rows("SHOW DATABASES"))
        #expect(set.rows.map { $0[0] } == ["app", "other", "pgstash"])
        #expect(set.rows[0][3] == "appdb")
        #expect(set.columns.last?.name == "disabled")
    }

    @Test func rulesShowTheConfiguredRulesWithTheirTTL() throws {
        let set = try #require(Self.rows("SHOW RULES"))
        #expect(set.rows == [["orders", "L1", "300", "orders,order_items", nil, nil, "no", "yes"]])
    }

    @Test func configShowsValueAndDefault() throws {
        let set = try #require(Self.rows("SHOW CONFIG"))
        #expect(set.rows.contains { $0 == ["pool.max_upstream", "20", "20", "yes"] })
        #expect(set.rows.contains { $0 == ["listen.port", "6432", "6432", "no"] })
    }

    // MARK: Actions

    @Test func cacheAdviceNeedsDigestsThenTheCache() {
        var s = Self.snapshot()
        guard case .outcome(.error(let off)) = AdminConsole.run(.show(.cacheAdvice), s) else { Issue.record("not an error"); return }
        #expect(off.sqlState == "55000")
        #expect(off.message.contains("query digests") && off.hint?.contains("query_digests") == true)
        s.queries = []
        guard case .outcome(.error(let noCache)) = AdminConsole.run(.show(.cacheAdvice), s) else { Issue.record("not an error"); return }
        #expect(noCache.sqlState == "55000" && noCache.message.contains("cache is off"))
        s.cache = CacheFigures()
        #expect(AdminConsole.run(.show(.cacheAdvice), s) == .perform(.cacheAdvice))
    }

    @Test func showQueriesListsDigestsAndSaysWhenTheyAreOff() throws {
        var s = Self.snapshot()
        guard case .outcome(.error(let off)) = AdminConsole.run(.show(.queries), s) else { Issue.record("not an error"); return }
        #expect(off.sqlState == "55000" && off.hint?.contains("query_digests") == true)
        var d = QueryDigests(capacity: 10)
        let key = QueryDigestKey(database: "app", query: "SELECT $1")
        d.record(key, fingerprint: "abc", QueryExecution(seconds: 0.002, rows: 1))
        d.record(key, fingerprint: "abc", QueryExecution(seconds: 0.004, rows: 1, failed: true))
        s.queries = d.sortedByTotalTime()
        guard case .outcome(.rows(let set)) = AdminConsole.run(.show(.queries), s) else { Issue.record("no rows"); return }
        #expect(set.columns.map(\.name) == ["database", "fingerprint", "calls", "total_time", "avg_time", "p50_time", "p99_time",
                                            "max_time", "rows", "errors", "cache_hits", "cache_misses", "query"])
        #expect(set.rows == [["app", "abc", "2", "6000", "3000", "2000", "4000", "4000", "2", "1", "0", "0", "SELECT $1"]])
    }

    @Test func pauseAndResumeCheckTheState() {
        var s = Self.snapshot()
        #expect(AdminConsole.run(.pause(database: "app"), s) == .perform(.pause(database: "app")))
        #expect(AdminConsole.run(.pause(database: "nope"), s).errorState == "3D000")
        #expect(AdminConsole.run(.resume(database: nil), s).errorState == "55000")
        s.pausedDatabases = ["app"]
        #expect(AdminConsole.run(.pause(database: "app"), s).errorState == "55000")
        #expect(AdminConsole.run(.resume(database: "app"), s) == .perform(.resume(database: "app")))
        #expect(AdminConsole.run(.resume(database: "other"), s).errorState == "55000")
        s.pausedAll = true
        #expect(AdminConsole.run(.pause(database: nil), s).errorState == "55000")
        #expect(AdminConsole.run(.kill(database: "app"), s) == .perform(.kill(database: "app")))
    }

    // MARK: Wire

    @Test func simpleQueryRunsEachCommandThenReadyForQuery() throws {
        var session = AdminSession()
        var out = ByteBuffer()
        let step = session.messageReceived(.query, body: body("SHOW VERSION; PAUSE")[...], out: &out)
        #expect(step == .execute(.show(.version)))
        #expect(session.isRunning)
        let set = AdminResultSet(columns: [AdminColumn("version", .text)], rows: [["pgstash 0.1.0"]])
        #expect(session.commandFinished(.rows(set), out: &out) == .execute(.pause(database: nil)))
        #expect(session.commandFinished(.done(tag: "PAUSE"), out: &out) == .wait)
        let messages = try decode(out)
        #expect(messages.count == 5)
        #expect(messages[1] == .dataRow([Array("pgstash 0.1.0".utf8)]))
        #expect(messages[3] == .commandComplete(tag: "PAUSE"))
        #expect(messages[4] == .readyForQuery(.idle))
    }

    @Test func anErrorEndsTheRestOfTheQuery() throws {
        var session = AdminSession()
        var out = ByteBuffer()
        #expect(session.messageReceived(.query, body: body("BOGUS; SHOW POOLS")[...], out: &out) == .wait)
        let messages = try decode(out)
        #expect(messages.count == 2)
        guard case .errorResponse(let f) = messages[0] else { Issue.record("no error"); return }
        #expect(f.sqlState == "42601")
        #expect(messages[1] == .readyForQuery(.idle))
    }

    @Test func extendedProtocolDescribesBindsAndExecutes() throws {
        var session = AdminSession()
        var out = ByteBuffer()
        #expect(session.messageReceived(.parse, body: frontendBody(.parse(name: "", query: "SHOW LISTS", parameterTypes: [])), out: &out) == .wait)
        let bind = FrontendMessage.Bind(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [0, 1])
        #expect(session.messageReceived(.bind, body: frontendBody(.bind(bind)), out: &out) == .wait)
        #expect(session.messageReceived(.describe, body: frontendBody(.describe(kind: UInt8(ascii: "P"), name: "")), out: &out) == .wait)
        #expect(session.messageReceived(.execute, body: frontendBody(.execute(portal: "", maxRows: 0)), out: &out) == .execute(.show(.lists)))
        let set = AdminResultSet(columns: AdminConsole.columns(of: .lists), rows: [["pools", "258"]])
        #expect(session.commandFinished(.rows(set), out: &out) == .wait)
        #expect(session.messageReceived(.sync, body: [][...], out: &out) == .wait)
        let messages = try decode(out)
        #expect(messages.count == 6)
        #expect(messages[0] == .parseComplete)
        #expect(messages[1] == .bindComplete)
        guard case .rowDescription(let fields) = messages[2] else { Issue.record("no RowDescription"); return }
        #expect(fields.map(\.dataTypeOID) == [25, 23])
        #expect(fields.map(\.format) == [0, 1])
        #expect(messages[3] == .dataRow([Array("pools".utf8), [0, 0, 1, 2]]))
        #expect(messages[4] == .commandComplete(tag: "SHOW"))
        #expect(messages[5] == .readyForQuery(.idle))
    }

    @Test func extendedErrorDiscardsUntilSync() throws {
        var session = AdminSession()
        var out = ByteBuffer()
        _ = session.messageReceived(.parse, body: frontendBody(.parse(name: "s", query: "SHOW NOTHING", parameterTypes: [])), out: &out)
        let bind = FrontendMessage.Bind(portal: "", statement: "s", parameterFormats: [], parameters: [], resultFormats: [])
        #expect(session.messageReceived(.bind, body: frontendBody(.bind(bind)), out: &out) == .wait)
        #expect(session.messageReceived(.execute, body: frontendBody(.execute(portal: "", maxRows: 0)), out: &out) == .wait)
        _ = session.messageReceived(.sync, body: [][...], out: &out)
        let messages = try decode(out)
        #expect(messages.count == 2)
        #expect(messages.last == .readyForQuery(.idle))
    }

    @Test func describeOfAnActionIsNoData() throws {
        var session = AdminSession()
        var out = ByteBuffer()
        _ = session.messageReceived(.parse, body: frontendBody(.parse(name: "p", query: "PAUSE", parameterTypes: [])), out: &out)
        _ = session.messageReceived(.describe, body: frontendBody(.describe(kind: UInt8(ascii: "S"), name: "p")), out: &out)
        #expect(try decode(out) == [.parseComplete, .parameterDescription([]), .noData])
    }

    @Test(arguments: [("0", [0, 0, 0, 0, 0, 0, 0, 0]), ("1234", [0, 1, 0, 0, 0, 0, 0, 0, 4, 210]),
                      ("123456789", [0, 3, 0, 2, 0, 0, 0, 0, 0, 1, 9, 41, 26, 133]),
                      ("-12.5", [0, 2, 0, 0, 0x40, 0, 0, 1, 0, 12, 19, 136])])
    func numericBinaryIsNumericSend(text: String, bytes: [UInt8]) {
        #expect(AdminWire.dataRow([text], columns: [AdminColumn("n", .numeric)], formats: [1]) == .dataRow([bytes]))
    }

    @Test func timesAreFormattedLikePgBouncer() {
        #expect(AdminTime.format(0) == "1970-01-01 00:00:00 UTC")
        #expect(AdminTime.format(1_795_848_753.7) == "2026-11-28 06:52:33 UTC")
    }

    // MARK: Helpers

    private func body(_ sql: String) -> [UInt8] { Array(sql.utf8) + [0] }

    private func frontendBody(_ m: FrontendMessage) -> ArraySlice<UInt8> { m.encoded.dropFirst(5) }

    private func decode(_ out: ByteBuffer) throws -> [BackendMessage] {
        var b = out
        var messages: [BackendMessage] = []
        while let f = try Framing.nextFrame(&b, maxBodyLength: 1 << 20) {
            messages.append(try BackendMessage.decode(id: f.id, body: f.body[...]))
        }
        return messages
    }
}

private extension AdminConsole.Decision {
    var errorState: String? {
        if case .outcome(.error(let e)) = self { return e.sqlState }
        return nil
    }
}
