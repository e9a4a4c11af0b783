import PostgresWire
@testable import ProxyCore
import SQLAnalysis
import Testing

private let S0 = 0, S1 = 1
private let C0 = 0

/// Traces of session settings following a client from server to server. PostgreSQL's SET
/// is transactional: kept if its transaction (explicit or implicit) commits, undone by
/// ROLLBACK and by ROLLBACK TO a savepoint taken before it.
@Suite("SessionTracker")
struct SessionTrackerTests {
    static func settings(_ t: SessionTrace) -> [String: SettingValue] { t.clients[C0].session.settings.values }

    /// The client's next transaction lands on S1: what S1 is sent before the client's query.
    /// What the next server gets for `SELECT 1`: the settings replay, if any (answered here;
    /// the client's query waits for its ReadyForQuery), then the query.
    static func nextServerGets(_ t: inout SessionTrace) -> [String] {
        t.send(query("SELECT 1"))
        t.lease(S1)
        var got = t.serverGot(S1)
        if t.clients[C0].awaitingReplay {
            #expect(t.reply(S1, commandComplete("SET"), idle) == [], "the replay's answers are not the client's")
            got += t.serverGot(S1)
        }
        return got
    }

    @Test func setInAnImplicitTransactionIsKeptAndReplayedOnTheNextServer() {
        var t = SessionTrace()
        t.send(query("SET work_mem = '64MB'"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("SET"), idle) == ["CommandComplete SET", "ReadyForQuery I"])
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
        #expect(t.servers[S0].settings == t.clients[C0].session.settings)
        #expect(Self.nextServerGets(&t) == ["Query SET \"work_mem\" TO '64MB'\n", "Query SELECT 1"])
        #expect(t.reply(S1, commandComplete("SELECT 1"), idle)
                == ["CommandComplete SELECT 1", "ReadyForQuery I"])
        // Back on S0, which has the setting: nothing to replay.
        t.send(query("SELECT 2"))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query SET work_mem = '64MB'", "Query SELECT 2"])
    }

    @Test func setIsKeptOnCommit() {
        var t = SessionTrace()
        t.send(query("BEGIN"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), inBlock) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        t.send(query("SET work_mem = '64MB'"))
        #expect(t.reply(S0, commandComplete("SET"), inBlock) == ["CommandComplete SET", "ReadyForQuery T"])
        #expect(Self.settings(t) == [:])                  // not before the transaction ends
        t.send(query("COMMIT"))
        #expect(t.reply(S0, commandComplete("COMMIT"), idle) == ["CommandComplete COMMIT", "ReadyForQuery I"])
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
    }

    @Test func setIsDroppedOnRollback() {
        var t = SessionTrace()
        t.send(query("BEGIN"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), inBlock) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        t.send(query("SET work_mem = '64MB'"))
        #expect(t.reply(S0, commandComplete("SET"), inBlock) == ["CommandComplete SET", "ReadyForQuery T"])
        t.send(query("ROLLBACK"))
        #expect(t.reply(S0, commandComplete("ROLLBACK"), idle) == ["CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(Self.settings(t) == [:])
        #expect(Self.nextServerGets(&t) == ["Query SELECT 1"])
    }

    @Test func setIsDroppedWhenItsImplicitTransactionFails() {
        var t = SessionTrace()
        t.send(query("SET work_mem = '64MB'; SELECT 1/0"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("SET"), errorResponse("22012", "division by zero"), idle)
                == ["CommandComplete SET", "ErrorResponse 22012", "ReadyForQuery I"])
        #expect(Self.settings(t) == [:])
        #expect(Self.nextServerGets(&t) == ["Query SELECT 1"])
    }

    @Test func setIsKeptAcrossTwoPipelinedQueries() {
        var t = SessionTrace()
        t.send(query("SET work_mem = '64MB'"), query("SELECT 1/0"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("SET"), idle) == ["CommandComplete SET", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)                   // the second Query is outstanding
        #expect(t.reply(S0, errorResponse("22012"), idle) == ["ErrorResponse 22012", "ReadyForQuery I"])
        #expect(t.released == [S0])
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
    }

    @Test func setIsDroppedWhenTheRestOfItsExtendedBatchFails() {
        var t = SessionTrace()
        t.send(parse("", "SET work_mem = '64MB'"), bind(""), execute(), parse("", "SELECT 1/0"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, commandComplete("SET"), .parseComplete, .bindComplete,
                        errorResponse("22012"), idle)
                == ["ParseComplete", "BindComplete", "CommandComplete SET", "ParseComplete", "BindComplete",
                    "ErrorResponse 22012", "ReadyForQuery I"])
        #expect(Self.settings(t) == [:])
    }

    @Test(arguments: [("ROLLBACK", [String: SettingValue]()), ("COMMIT", ["work_mem": .sql("'64MB'")])])
    func beginAndSetInOneExtendedBatch(_ end: String, _ expected: [String: SettingValue]) {
        var t = SessionTrace()
        t.send(parse("", "BEGIN"), bind(""), execute(), parse("", "SET work_mem = '64MB'"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, commandComplete("BEGIN"), .parseComplete, .bindComplete,
                        commandComplete("SET"), inBlock)
                == ["ParseComplete", "BindComplete", "CommandComplete BEGIN", "ParseComplete", "BindComplete",
                    "CommandComplete SET", "ReadyForQuery T"])
        t.send(query(end))
        #expect(t.reply(S0, commandComplete(end), idle) == ["CommandComplete \(end)", "ReadyForQuery I"])
        #expect(Self.settings(t) == expected)
    }

    /// A named statement carries its effect to every Execute of a portal bound to it.
    @Test func namedSetStatementTakesEffectWhenExecuted() {
        var t = SessionTrace()
        t.send(parse("s", "SET work_mem = '64MB'"), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .closeComplete, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        #expect(Self.settings(t) == [:])                  // parsed, not run
        t.send(bind("s", portal: "p"), execute("p"), .sync)
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Close S pgstash_1", "Parse pgstash_1 SET work_mem = '64MB'", "Bind pgstash_1 portal p",
                                    "Execute p", "Sync"])
        #expect(t.reply(S1, .closeComplete, .parseComplete, .bindComplete, commandComplete("SET"), idle)
                == ["BindComplete", "CommandComplete SET", "ReadyForQuery I"])
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
    }

    @Test func rollbackToSavepointUndoesLaterSets() {
        var t = SessionTrace()
        t.send(query("BEGIN; SET work_mem = '64MB'; SAVEPOINT sp; SET statement_timeout = 5000; ROLLBACK TO SAVEPOINT sp; COMMIT"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), commandComplete("SET"), commandComplete("SAVEPOINT"), commandComplete("SET"),
                        commandComplete("ROLLBACK"), commandComplete("COMMIT"), idle).last == "ReadyForQuery I")
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
    }

    @Test func rollbackToSavepointAfterAnErrorKeepsEarlierSets() {
        var t = SessionTrace()
        t.send(query("BEGIN"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), inBlock) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        t.send(query("SET work_mem = '64MB'"))
        #expect(t.reply(S0, commandComplete("SET"), inBlock) == ["CommandComplete SET", "ReadyForQuery T"])
        t.send(query("SAVEPOINT sp"))
        #expect(t.reply(S0, commandComplete("SAVEPOINT"), inBlock) == ["CommandComplete SAVEPOINT", "ReadyForQuery T"])
        t.send(query("SET statement_timeout = 5000"))
        #expect(t.reply(S0, commandComplete("SET"), inBlock) == ["CommandComplete SET", "ReadyForQuery T"])
        t.send(query("SELECT 1/0"))
        #expect(t.reply(S0, errorResponse("22012"), failedBlock) == ["ErrorResponse 22012", "ReadyForQuery E"])
        t.send(query("ROLLBACK TO SAVEPOINT sp"))
        #expect(t.reply(S0, commandComplete("ROLLBACK"), inBlock) == ["CommandComplete ROLLBACK", "ReadyForQuery T"])
        t.send(query("COMMIT"))
        #expect(t.reply(S0, commandComplete("COMMIT"), idle) == ["CommandComplete COMMIT", "ReadyForQuery I"])
        #expect(Self.settings(t) == ["work_mem": .sql("'64MB'")])
    }

    @Test func setLocalIsNotKept() {
        var t = SessionTrace()
        t.send(query("BEGIN; SET LOCAL work_mem = '64MB'; COMMIT"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("BEGIN"), commandComplete("SET"), commandComplete("COMMIT"), idle)
        #expect(Self.settings(t) == [:])
    }

    /// RESET ALL returns every setting to its session default — the startup packet's value —
    /// but the role and the session user (GUC_NO_RESET_ALL).
    @Test func resetAllKeepsRoleAndSessionAuthorization() {
        var t = SessionTrace(settings: SessionSettings(startupParameters: [
            ("user", "alice"), ("application_name", "psql"), ("options", "-c statement_timeout=5s"),
        ]))
        t.send(query("SET application_name = 'batch'"))
        t.lease(S0)
        #expect(t.reply(S0, .parameterStatus(name: "application_name", value: "batch"), commandComplete("SET"), idle)
                == ["ParameterStatus application_name=batch", "CommandComplete SET", "ReadyForQuery I"])
        t.send(query("SET SESSION AUTHORIZATION bob"))
        t.lease(S0)
        _ = t.reply(S0, .parameterStatus(name: "session_authorization", value: "bob"), commandComplete("SET"), idle)
        t.send(query("SET ROLE reporting"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        t.send(query("SET statement_timeout = '1min'"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        #expect(Self.settings(t) == [
            "application_name": .sql("'batch'"), "statement_timeout": .sql("'1min'"),
            "session_authorization": .sql("bob"), "role": .sql("reporting"),
        ])
        t.send(query("RESET ALL"))
        t.lease(S0)
        #expect(t.reply(S0, .parameterStatus(name: "application_name", value: "psql"), commandComplete("RESET"), idle)
                == ["ParameterStatus application_name=psql", "CommandComplete RESET", "ReadyForQuery I"])
        #expect(Self.settings(t) == [
            "application_name": .literal("psql"), "statement_timeout": .literal("5s"),
            "session_authorization": .sql("bob"), "role": .sql("reporting"),
        ])
        // The next server (started with the startup values) gets the session user, then the role.
        #expect(Self.nextServerGets(&t) == [
            "Query SET \"session_authorization\" TO bob\n; SET \"role\" TO reporting\n",
            "Query SELECT 1",
        ])
    }

    @Test func resetOneSettingReturnsToItsStartupValue() {
        var t = SessionTrace(settings: SessionSettings(startupParameters: [("options", "-c statement_timeout=5s")]))
        t.send(query("SET statement_timeout = '1min'; SET work_mem = '64MB'"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), commandComplete("SET"), idle)
        t.send(query("RESET statement_timeout; SET work_mem TO DEFAULT"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("RESET"), commandComplete("SET"), idle)
        #expect(Self.settings(t) == ["statement_timeout": .literal("5s")])
    }

    @Test func discardAllReturnsEverythingToStartupValues() {
        var t = SessionTrace(settings: SessionSettings(startupParameters: [("application_name", "psql")]))
        t.send(query("SET ROLE reporting; SET application_name = 'batch'; PREPARE q AS SELECT 1"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), commandComplete("SET"), commandComplete("PREPARE"), idle)
        #expect(t.clients[C0].session.preparedStatements.keys.sorted() == ["q"])
        t.send(query("DISCARD ALL"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("DISCARD ALL"), idle)
        #expect(Self.settings(t) == ["application_name": .literal("psql")])
        #expect(t.clients[C0].session.preparedStatements.isEmpty)
    }

    /// pgjdbc's setTransactionIsolation.
    @Test func setSessionCharacteristicsSetsTheTransactionDefaults() {
        var t = SessionTrace()
        t.send(query("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        #expect(Self.settings(t) == [
            "default_transaction_isolation": .literal("serializable"), "default_transaction_read_only": .literal("on"),
        ])
        #expect(Self.nextServerGets(&t) == [
            "Query SELECT pg_catalog.set_config('default_transaction_isolation', 'serializable', false); "
                + "SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false)",
            "Query SELECT 1",
        ])
    }

    @Test func setTransactionIsNotASessionSetting() {
        var t = SessionTrace()
        t.send(query("BEGIN; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("BEGIN"), commandComplete("SET"), commandComplete("COMMIT"), idle)
        #expect(Self.settings(t) == [:])
    }

    /// A SET value runs to its statement's end, a trailing `-- comment` included: the replay
    /// ends each SET with a line break so the comment does not swallow the next statement.
    @Test func replaySurvivesATrailingComment() {
        var t = SessionTrace()
        t.send(query("SET search_path TO app, public -- tenant schema"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        t.send(query("SET work_mem = '64MB'"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        let sent = Self.nextServerGets(&t)
        #expect(sent == ["Query SET \"search_path\" TO app, public -- tenant schema\n; SET \"work_mem\" TO '64MB'\n",
                         "Query SELECT 1"])
        let replay = String(sent[0].dropFirst("Query ".count))
        #expect(SQLAnalyzer.analyze(replay).statements.map { $0.setting?.name } == ["search_path", "work_mem"])
    }

    // MARK: The replay order, as a pure function

    @Test func replayOrdersSessionAuthorizationThenRoleFirst() {
        var wanted = SessionSettings()
        wanted["application_name"] = .literal("app")
        wanted["role"] = .sql("reporting")
        wanted["search_path"] = .sql("app -- schema")
        wanted["session_authorization"] = .sql("bob")
        let sql = wanted.statements(from: SessionSettings())!
        #expect(sql == "SET \"session_authorization\" TO bob\n; SET \"role\" TO reporting\n; "
                + "SELECT pg_catalog.set_config('application_name', 'app', false); SET \"search_path\" TO app -- schema\n")
        #expect(SQLAnalyzer.analyze(sql).statements.count == 4)
    }

    @Test func replayResetsRoleBeforeTheRest() {
        var applied = SessionSettings()
        applied["role"] = .sql("reporting")
        applied["work_mem"] = .sql("'64MB'")
        var wanted = SessionSettings()
        wanted["statement_timeout"] = .sql("'1min'")
        #expect(wanted.statements(from: applied) == "RESET \"role\"; SET \"statement_timeout\" TO '1min'\n; RESET \"work_mem\"")
    }

    /// The client's statements never run on a server whose settings could not be restored
    /// (a role dropped meanwhile would otherwise leave it running as pgstash's own user).
    @Test func aFailedReplayEndsTheClientBeforeItsQueryRuns() {
        var t = SessionTrace()
        t.send(query("SET ROLE reporting"))
        t.lease(S0)
        _ = t.reply(S0, commandComplete("SET"), idle)
        t.send(query("DELETE FROM orders"))
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Query SET \"role\" TO reporting\n"])          // the DELETE waits
        _ = t.reply(S1, errorResponse("22023", "role \"reporting\" does not exist"), idle)
        #expect(t.serverGot(S1) == [])
        guard case .fail(let code, let message)? = t.outcomes[C0] else {
            Issue.record("the client goes on: \(String(describing: t.outcomes[C0]))")
            return
        }
        #expect(code == "22023")
        #expect(message.contains("role \"reporting\" does not exist"))
    }
}
