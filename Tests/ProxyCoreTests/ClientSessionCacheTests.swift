import CachePolicy
import PostgresWire
@testable import ProxyCore
import Testing

private let S0 = 0, S1 = 1
private let C0 = 0

private let select = "SELECT id FROM orders WHERE id = $1"

/// The batch at the head of `messages` (it must be a cache candidate).
private func batch(_ messages: FrontendMessage...) -> CacheBatch? {
    guard case .candidate(let b) = CacheBatch.scan(messages.flatMap(\.encoded)[...], maxMessageSize: 1 << 20,
                                                   maxBatchBytes: 64 * 1024) else {
        Issue.record("not a cache candidate")
        return nil
    }
    return b
}

private func statement(_ query: String, _ types: [Int32] = []) -> ClientSession.CachedStatement {
    .init(query: query, parameterTypes: types)
}

/// The client runs `sql` on S0, answered by `answers` (CommandComplete SET and ReadyForQuery
/// 'I' when none are given).
private func run(_ t: inout SessionTrace, _ sql: String, _ answers: [BackendMessage] = []) {
    t.send(query(sql))
    t.lease(S0)
    _ = t.serverGot(S0)
    let replies = answers.isEmpty ? [commandComplete("SET"), idle] : answers
    for r in replies { _ = t.reply(S0, r) }
    #expect(t.server(of: C0) == nil, "\(sql): S0 not released")
}

/// What the result cache asks of a client session: the statement a batch runs, the context
/// its key depends on, and the statement a hit's Parse creates.
@Suite("ClientSessionCache")
struct ClientSessionCacheTests {
    // MARK: cacheStatement

    @Test func simpleQueryRunsItsText() {
        let t = SessionTrace()
        #expect(t.clients[C0].cacheStatement(for: batch(query("SELECT 1"))!) == statement("SELECT 1"))
    }

    @Test func parseInTheBatchRunsItsText() {
        let t = SessionTrace()
        let b = batch(parse("", select, [23]), bind(""), execute(), .sync)!
        #expect(t.clients[C0].cacheStatement(for: b) == statement(select, [23]))
        let named = batch(parse("s1", select), bind("s1"), execute(), .sync)!
        #expect(t.clients[C0].cacheStatement(for: named) == statement(select))
    }

    @Test func bindOfTheUnnamedStatementRunsTheClientsLastParse() {
        var t = SessionTrace()
        let b = batch(bind(""), execute(), .sync)!
        #expect(t.clients[C0].cacheStatement(for: b) == nil)      // no unnamed statement yet
        t.send(parse("", select, [23]), bind("", [Array("1".utf8)]), execute(), .sync)
        t.lease(S0)
        _ = t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
        #expect(t.clients[C0].cacheStatement(for: b) == statement(select, [23]))
        #expect(t.clients[C0].statementText("") == select)
        // A simple Query destroys the unnamed statement.
        run(&t, "SELECT 2", [commandComplete("SELECT 1"), idle])
        #expect(t.clients[C0].cacheStatement(for: b) == nil)
        #expect(t.clients[C0].statementText("") == nil)
    }

    @Test func bindOfANamedStatement() {
        var t = SessionTrace()
        t.send(parse("s1", select, [23]), .sync)
        t.lease(S0)
        _ = t.reply(S0, .closeComplete, .parseComplete, idle)
        let b = batch(bind("s1", [Array("1".utf8)]), execute(), .sync)!
        #expect(t.clients[C0].cacheStatement(for: b) == statement(select, [23]))
        #expect(t.clients[C0].statementText("s1") == select)
        #expect(t.clients[C0].cacheStatement(for: batch(bind("s9"), execute(), .sync)!) == nil)
        #expect(t.clients[C0].statementText("s9") == nil)
    }

    /// PostgreSQL answers a Parse of a live name with 42P05: the cache must not answer it.
    @Test func namedParseOfALiveNameIsNotAnswered() {
        var t = SessionTrace()
        t.send(parse("s1", "SELECT 1"), .sync)
        t.lease(S0)
        _ = t.reply(S0, .closeComplete, .parseComplete, idle)
        #expect(t.clients[C0].cacheStatement(for: batch(parse("s1", select), bind("s1"), execute(), .sync)!) == nil)
        #expect(t.clients[C0].cacheStatement(for: batch(parse("s2", select), bind("s2"), execute(), .sync)!) == statement(select))
        // The unnamed statement may be replaced at will.
        #expect(t.clients[C0].cacheStatement(for: batch(parse("", select), bind(""), execute(), .sync)!) == statement(select))
    }

    @Test func namedParseOfAnSQLPreparedNameIsNotAnswered() {
        var t = SessionTrace()
        run(&t, "PREPARE q AS SELECT 1", [commandComplete("PREPARE"), idle])
        #expect(t.clients[C0].session.preparedStatements["q"] != nil)
        #expect(t.clients[C0].cacheStatement(for: batch(parse("q", select), bind("q"), execute(), .sync)!) == nil)
        // An SQL-PREPAREd statement is not looked into.
        #expect(t.clients[C0].cacheStatement(for: batch(bind("q"), execute(), .sync)!) == nil)
        #expect(t.clients[C0].statementText("q") == nil)
    }

    // MARK: cacheContext

    @Test func contextOfAFreshSession() {
        let t = SessionTrace(settings: SessionSettings(startupParameters: [
            ("user", "alice"), ("database", "shop"), ("TimeZone", "UTC"), ("application_name", "psql"),
        ]))
        let c = t.clients[C0].cacheContext(database: "shop", loginUser: "alice")
        #expect(c == SessionContext(database: "shop", role: "alice", settings: ["timezone": "UTC"]))
    }

    @Test func searchPathAsWritten() {
        var t = SessionTrace()
        run(&t, "SET search_path TO app, public")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.settings["search_path"] == "app, public")
    }

    @Test func searchPathFromStartupIsALiteral() {
        let t = SessionTrace(settings: SessionSettings(startupParameters: [("options", "-c search_path=app,public")]))
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.settings["search_path"] == "app,public")
    }

    /// A literal (startup packet, ParameterStatus) is the value as SHOW gives it: quotes in it
    /// are the list's own syntax, read by SearchPath.
    @Test func quotedSearchPathLiteralIsKept() {
        let t = SessionTrace(settings: SessionSettings(startupParameters: [("options", "-c search_path=\"App\",public")]))
        let c = t.clients[C0].cacheContext(database: "shop", loginUser: "alice")
        #expect(c?.settings["search_path"] == "\"App\",public")
        #expect(c?.searchPath.schemas == ["pg_catalog", "App", "public"])
    }

    @Test func startupIsolationAboveReadCommittedHasNoContext() {
        let t = SessionTrace(settings: SessionSettings(startupParameters: [("options", "-c default_transaction_isolation=serializable")]))
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice") == nil)
    }

    /// A quoted or computed search_path is not parsed: no context, the cache is bypassed.
    @Test(arguments: [
        "SET search_path TO 'app'",
        "SET search_path = \"$user\", public",
        "SET search_path TO E'app\\\\x'",
    ])
    func searchPathNotFollowed(_ sql: String) {
        var t = SessionTrace()
        run(&t, sql)
        #expect(t.clients[C0].session.settings["search_path"] != nil)
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice") == nil)
    }

    @Test(arguments: [
        "SET default_transaction_isolation TO 'serializable'",
        "SET default_transaction_isolation = 'repeatable read'",
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ])
    func isolationAboveReadCommittedHasNoContext(_ sql: String) {
        var t = SessionTrace()
        run(&t, sql)
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice") == nil)
    }

    @Test func readCommittedKeepsTheContext() {
        var t = SessionTrace()
        run(&t, "SET default_transaction_isolation TO 'read committed'")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice") != nil)
    }

    @Test func setRoleIsTheRole() {
        var t = SessionTrace()
        run(&t, "SET ROLE reporting")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "reporting")
        run(&t, "SET ROLE NONE")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "alice")
        run(&t, "SET ROLE 'auditor'")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "auditor")
        run(&t, "RESET ROLE", [commandComplete("RESET"), idle])
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "alice")
    }

    /// The role names the schema `$user` stands for: it is the role PostgreSQL uses, an
    /// identifier folded to lower case unless double-quoted, or a string literal as written.
    @Test(arguments: [
        ("SET ROLE Reporting", "reporting"),
        ("SET ROLE \"Reporting\"", "Reporting"),
        ("SET ROLE 'Reporting'", "Reporting"),
        ("SET ROLE \"a\"\"b\"", "a\"b"),
        ("SET SESSION AUTHORIZATION Bob", "bob"),
    ])
    func roleIsTheNamePostgreSQLUses(_ sql: String, _ role: String) {
        var t = SessionTrace()
        run(&t, sql)
        let c = t.clients[C0].cacheContext(database: "shop", loginUser: "alice")
        #expect(c?.role == role)
        #expect(c?.searchPath.schemas == ["pg_catalog", role, "public"])
    }

    @Test func sessionAuthorizationIsTheRoleUnlessARoleIsSet() {
        var t = SessionTrace()
        run(&t, "SET SESSION AUTHORIZATION bob")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "bob")
        run(&t, "SET ROLE reporting")
        #expect(t.clients[C0].cacheContext(database: "shop", loginUser: "alice")?.role == "reporting")
    }

    // MARK: cacheHitServed

    @Test func hitWithANamedParseCreatesTheStatement() {
        var t = SessionTrace()
        let b = batch(parse("s2", select, [23]), bind("s2", [Array("1".utf8)]), execute(), .sync)!
        t.clients[C0].cacheHitServed(b, names: &t.names)
        #expect(t.clients[C0].statementText("s2") == select)
        #expect(t.clients[C0].cacheStatement(for: batch(bind("s2"), execute(), .sync)!) == statement(select, [23]))
        // Its name is live now.
        #expect(t.clients[C0].cacheStatement(for: b) == nil)
        // A later Bind on a server prepares it there.
        t.send(bind("s2", [Array("1".utf8)]), execute(), .sync)
        t.lease(S0)
        let sent = t.serverGot(S0)
        #expect(sent.contains("Parse pgstash_1 \(select) [23]"))
        #expect(sent.suffix(3) == ["Bind pgstash_1", "Execute", "Sync"])
    }

    @Test func hitWithAnUnnamedParseReplacesTheUnnamedStatement() {
        var t = SessionTrace()
        t.send(parse("", "SELECT 1"), bind(""), execute(), .sync)
        t.lease(S0)
        _ = t.serverGot(S0)
        _ = t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
        let b = batch(parse("", select, [23]), bind("", [Array("1".utf8)]), execute(), .sync)!
        t.clients[C0].cacheHitServed(b, names: &t.names)
        #expect(t.clients[C0].statementText("") == select)
        #expect(t.clients[C0].cacheStatement(for: batch(bind(""), execute(), .sync)!) == statement(select, [23]))
        // S0 holds the old unnamed statement: a later Bind "" parses the new one first.
        t.send(bind("", [Array("1".utf8)]), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" \(select) [23]", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    /// The unnamed statement a hit replaces had a session effect (a SET): the hit's statement
    /// has none, so executing it later must not apply the old one.
    @Test func hitReplacingAnUnnamedSETForgetsItsEffect() {
        var t = SessionTrace()
        t.send(parse("", "SET search_path TO app"), bind(""), execute(), .sync)
        t.lease(S0)
        _ = t.serverGot(S0)
        _ = t.reply(S0, .parseComplete, .bindComplete, commandComplete("SET"), idle)
        #expect(t.clients[C0].session.settings["search_path"] == .sql("app"))
        run(&t, "SET search_path TO other")
        #expect(t.clients[C0].session.settings["search_path"] == .sql("other"))
        t.clients[C0].cacheHitServed(batch(parse("", "SELECT 1"), bind(""), execute(), .sync)!, names: &t.names)
        t.send(bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 1", "Bind \"\"", "Execute", "Sync"])
        _ = t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
        #expect(t.clients[C0].session.settings["search_path"] == .sql("other"))
    }

    @Test func hitWithoutParseChangesNoStatement() {
        var t = SessionTrace()
        t.clients[C0].cacheHitServed(batch(query("SELECT 1"))!, names: &t.names)
        t.clients[C0].cacheHitServed(batch(bind("s1"), execute(), .sync)!, names: &t.names)
        #expect(t.clients[C0].statements.isEmpty)
        #expect(t.clients[C0].statementText("") == nil)
    }
}
