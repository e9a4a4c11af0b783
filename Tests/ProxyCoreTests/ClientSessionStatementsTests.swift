import PostgresWire
@testable import ProxyCore
import Testing

private let S0 = 0, S1 = 1, S2 = 2
private let C0 = 0, C1 = 1, C2 = 2

/// Traces of named prepared statements under transaction pooling: shared server names
/// (`pgstash_N`), answers pgstash makes up, and PostgreSQL's errors for names a client
/// reuses or never prepared.
@Suite("ClientSession statements")
struct ClientSessionStatementsTests {
    /// C0 prepares `s1` on S0 and executes it.
    static func prepared(clients: Int = 2, _ sql: String = "SELECT 1") -> SessionTrace {
        var t = SessionTrace(clients: clients)
        t.send(parse("s1", sql), bind("s1"), execute(), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Close S pgstash_1", "Parse pgstash_1 \(sql)", "Bind pgstash_1", "Execute", "Sync"])
        #expect(t.reply(S0, .closeComplete, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.released == [S0])
        return t
    }

    @Test func clientsShareTheServersStatement() {
        var t = Self.prepared()
        t.send(parse("q", "SELECT 1"), bind("q"), execute(), .sync, from: C1)
        #expect(t.isWaiting(C1))
        t.lease(S0, to: C1)
        #expect(t.clientGot(C1) == ["ParseComplete"])              // made up: S0 has pgstash_1
        #expect(t.serverGot(S0) == ["Bind pgstash_1", "Execute", "Sync"])
        #expect(t.reply(S0, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.clients[C1].statements["q"]?.serverName == "pgstash_1")
    }

    @Test func madeUpParseCompleteKeepsItsPlaceInAPipeline() {
        var t = Self.prepared()
        t.send(parse("a", "SELECT 2"), bind("a"), execute(), parse("q", "SELECT 1"), bind("q"), execute(), .sync, from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Close S pgstash_2", "Parse pgstash_2 SELECT 2", "Bind pgstash_2", "Execute",
                                    "Bind pgstash_1", "Execute", "Sync"])
        #expect(t.clientGot(C1) == [])
        #expect(t.reply(S0, .closeComplete, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"),
                        .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1",
                    "ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test func statementIsPreparedAgainWhereTheNextBindLands() {
        var t = Self.prepared()
        t.send(bind("s1"), execute(), .sync, from: C0)
        t.lease(S1, to: C0)
        #expect(t.serverGot(S1) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Bind pgstash_1", "Execute", "Sync"])
        #expect(t.reply(S1, .closeComplete, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test func parseOfALiveNameFailsWith42P05() {
        var t = Self.prepared()
        t.send(parse("s1", "SELECT 2"), bind("s1"), execute(), .sync, from: C0)
        t.lease(S1, to: C0)
        let sent = t.serverMessages(S1)
        #expect(SessionTrace.renderFrontend(sent.flatMap(\.encoded)) == ["Parse \"\" raise 42P05", "Bind \"\"", "Execute", "Sync"])
        if case .parse(_, let sql, _)? = sent.first { #expect(sql.contains("prepared statement \"s1\" already exists")) }
        #expect(t.reply(S1, .parseComplete, .bindComplete, errorResponse("42P05"), idle) == ["ErrorResponse 42P05", "ReadyForQuery I"])
        // s1 is still the first statement.
        t.send(bind("s1"), execute(), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Bind pgstash_1", "Execute", "Sync"])
    }

    /// PREPARE and the protocol's Parse share one namespace.
    @Test func parseOfASQLPreparedNameFailsWith42P05() {
        var t = SessionTrace()
        t.send(query("PREPARE s1 AS SELECT 1"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("PREPARE"), idle) == ["CommandComplete PREPARE", "ReadyForQuery I"])
        t.send(parse("s1", "SELECT 2"), bind("s1"), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query PREPARE s1 AS SELECT 1", "Parse \"\" raise 42P05", "Bind \"\"", "Execute", "Sync"])
    }

    /// Same as above, but the text is one some server already parsed, so PQprepare is
    /// answered without a server.
    @Test func knownParseOfASQLPreparedNameFailsWith42P05() {
        var t = Self.prepared(clients: 2, "SELECT 2")
        t.send(query("PREPARE s1 AS SELECT 1"), from: C1)
        t.lease(S0, to: C1)
        #expect(t.reply(S0, commandComplete("PREPARE"), idle) == ["CommandComplete PREPARE", "ReadyForQuery I"])
        t.send(parse("s1", "SELECT 2"), .sync, from: C1)
        let answered = t.clientGot(C1), waiting = t.isWaiting(C1)
        #expect(answered == [])                     // got ParseComplete, ReadyForQuery I
        #expect(waiting)
    }

    @Test func closeThenParseAgain() {
        var t = Self.prepared()
        t.send(closeStatement("s1"), .sync, from: C0)                  // no server needed
        #expect(t.clientGot(C0) == ["CloseComplete", "ReadyForQuery I"])
        #expect(!t.isWaiting(C0))
        #expect(t.clients[C0].statements["s1"] == nil)
        t.send(parse("s1", "SELECT 2"), bind("s1"), execute(), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Close S pgstash_2", "Parse pgstash_2 SELECT 2", "Bind pgstash_2", "Execute", "Sync"])
        #expect(t.reply(S0, .closeComplete, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test func closeWhileLeasedIsAnsweredInItsPlace() {
        var t = Self.prepared()
        t.send(bind("s1"), closeStatement("s1"), execute(), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Bind pgstash_1", "Execute", "Sync"])      // S0 keeps pgstash_1 for others
        #expect(t.reply(S0, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "CloseComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.servers[S0].statements.contains("pgstash_1"))
    }

    @Test func failedParseRemovesTheClientsName() {
        var t = SessionTrace(clients: 2)
        t.send(parse("s1", "SELEC 1"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Close S pgstash_1", "Parse pgstash_1 SELEC 1", "Sync"])
        #expect(t.reply(S0, .closeComplete, errorResponse("42601", "syntax error at or near \"SELEC\""), idle)
                == ["ErrorResponse 42601", "ReadyForQuery I"])
        #expect(t.clients[C0].statements["s1"] == nil)
        #expect(!t.servers[S0].statements.contains("pgstash_1"))

        // A Bind of it is an unknown statement (the server, which holds no such name, says
        // so itself); a new Parse of the name is no 42P05.
        t.send(bind("s1"), execute(), .sync, parse("s1", "SELECT 1"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Bind s1", "Execute", "Sync",
                                    "Close S pgstash_2", "Parse pgstash_2 SELECT 1", "Sync"])
        // The bad text was never confirmed: another client's PQprepare of it needs a server.
        t.send(parse("x", "SELEC 1"), .sync, from: C1)
        #expect(t.isWaiting(C1))
    }

    @Test func failedParseInAPipelineRemovesOnlyWhatTheServerSkipped() {
        var t = SessionTrace()
        t.send(parse("a", "SELECT 1"), parse("b", "SELEC 2"), parse("c", "SELECT 3"), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .closeComplete, .parseComplete, .closeComplete, errorResponse("42601"), idle)
                == ["ParseComplete", "ErrorResponse 42601", "ReadyForQuery I"])
        #expect(t.clients[C0].statements.keys.sorted() == ["a"])
        #expect(t.servers[S0].statements.contains("pgstash_1"))
        #expect(!t.servers[S0].statements.contains("pgstash_2"))
        #expect(!t.servers[S0].statements.contains("pgstash_3"))
    }

    /// pgstash_1 is on S0 (C0's `s1`); C1 never prepared a statement of that name: the
    /// server must not see it. (A name the server does not hold goes through: the server
    /// answers PostgreSQL's own 26000.)
    @Test func bindOfANameTheServerHoldsForAnotherClientFailsWith26000() {
        let name = "pgstash_1"
        var t = Self.prepared()
        t.send(bind(name), execute(), .sync, from: C1)
        t.lease(S0, to: C1)
        let sent = t.serverMessages(S0)
        #expect(SessionTrace.renderFrontend(sent.flatMap(\.encoded)) == ["Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
        if case .parse(_, let sql, _)? = sent.first { #expect(sql.contains("prepared statement \"\(name)\" does not exist")) }
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("26000"), idle) == ["ErrorResponse 26000", "ReadyForQuery I"])
    }

    @Test func describeOfANameTheClientNeverPreparedFailsWith26000() {
        var t = Self.prepared()
        t.send(describeStatement("pgstash_1"), .sync, from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
    }

    @Test func describeOfTheClientsStatementUsesTheServerName() {
        var t = Self.prepared()
        t.send(describeStatement("s1"), .sync, from: C0)
        t.lease(S1, to: C0)
        #expect(t.serverGot(S1) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Describe S pgstash_1", "Sync"])
        #expect(t.reply(S1, .closeComplete, .parseComplete, .parameterDescription([]), oneColumn, idle)
                == ["ParameterDescription", "RowDescription", "ReadyForQuery I"])
    }

    // MARK: PQprepare answered without a server

    @Test func knownPrepareIsAnsweredWithoutAServerOnlyOnceAServerConfirmedIt() {
        var t = SessionTrace(clients: 3)
        t.send(parse("s1", "SELECT 1"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Sync"])
        // Not confirmed yet: C1 needs a server.
        t.send(parse("a", "SELECT 1"), .sync, from: C1)
        #expect(t.isWaiting(C1))
        #expect(t.reply(S0, .closeComplete, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])

        // Confirmed: C2's PQprepare is answered at once.
        t.send(parse("b", "SELECT 1"), .sync, from: C2)
        #expect(!t.isWaiting(C2))
        #expect(t.clientGot(C2) == ["ParseComplete", "ReadyForQuery I"])
        #expect(t.clients[C2].statements["b"]?.serverName == "pgstash_1")

        // …and prepared wherever its Bind lands.
        t.send(bind("b"), execute(), .sync, from: C2)
        t.lease(S1, to: C2)
        #expect(t.serverGot(S1) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Bind pgstash_1", "Execute", "Sync"])
        #expect(t.reply(S1, .closeComplete, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test(arguments: [
        [parse("b", "SELECT 1", [23]), .sync],                        // other parameter types: another statement
        [parse("b", "SELECT 1"), bind("b"), .sync],                    // not Parse… Sync
        [parse("b", "SELECT 1"), .flush],                              // no Sync
        [parse("s1", "SELECT 1"), .sync],                              // a name the client has: 42P05 from a server
        [parse("", "SELECT 1"), .sync],                                // the unnamed statement
    ])
    func prepareThatNeedsAServer(_ messages: [FrontendMessage]) {
        var t = Self.prepared()
        if messages.first == parse("s1", "SELECT 1") {
            t.send(messages, from: C0)
            #expect(t.isWaiting(C0))
        } else {
            t.send(messages, from: C1)
            #expect(t.isWaiting(C1))
        }
    }

    @Test func confirmedParseOfASessionStatementStillNeedsAServer() {
        var t = SessionTrace(clients: 2)
        t.send(parse("s", "SET work_mem = '64MB'"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.reply(S0, .closeComplete, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(parse("t", "SET work_mem = '64MB'"), .sync, from: C1)
        #expect(t.isWaiting(C1))
    }

    // MARK: Statements the server's cache evicts

    @Test func serverCacheEvictsTheLeastRecentlyUsedStatement() {
        var t = SessionTrace(maxPreparedStatements: 2)
        t.send(parse("a", "SELECT 1"), parse("b", "SELECT 2"), parse("c", "SELECT 3"), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1",
                                    "Close S pgstash_2", "Parse pgstash_2 SELECT 2",
                                    "Close S pgstash_1", "Close S pgstash_3", "Parse pgstash_3 SELECT 3", "Sync"])
        #expect(t.reply(S0, .closeComplete, .parseComplete, .closeComplete, .parseComplete, .closeComplete, .closeComplete,
                        .parseComplete, idle)
                == ["ParseComplete", "ParseComplete", "ParseComplete", "ReadyForQuery I"])
        t.send(bind("a"), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Close S pgstash_2", "Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Bind pgstash_1", "Execute", "Sync"])
    }

    // MARK: SQL-level names

    /// psycopg deallocates its protocol statements with SQL: the server knows them by the
    /// shared name, which goes; a client still holding it prepares it again where it binds.
    @Test func deallocateOfAProtocolStatementDropsTheSharedOne() {
        var t = Self.prepared()
        t.send(parse("q", "SELECT 1"), .sync, from: C1)              // answered: confirmed on S0
        #expect(t.clientGot(C1) == ["ParseComplete", "ReadyForQuery I"])
        t.send(query("DEALLOCATE s1"), from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Query DEALLOCATE \"pgstash_1\""])
        #expect(t.reply(S0, commandComplete("DEALLOCATE"), idle) == ["CommandComplete DEALLOCATE", "ReadyForQuery I"])
        #expect(t.clients[C0].statements["s1"] == nil)
        #expect(!t.servers[S0].statements.contains("pgstash_1"))
        t.send(bind("q"), execute(), .sync, from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Close S pgstash_1", "Parse pgstash_1 SELECT 1", "Bind pgstash_1", "Execute", "Sync"])
    }

    @Test func bindOfANameNobodyHoldsGetsTheServersOwnError() {
        var t = Self.prepared()
        t.send(bind("s1"), execute(), .sync, from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Bind s1", "Execute", "Sync"])
        #expect(t.reply(S0, errorResponse("26000"), idle) == ["ErrorResponse 26000", "ReadyForQuery I"])
    }

    @Test(arguments: ["EXECUTE pgstash_1", "DEALLOCATE pgstash_1", "EXPLAIN EXECUTE pgstash_1"])
    func sqlReferenceToANameTheClientNeverPreparedFailsWith26000(_ sql: String) {
        var t = Self.prepared()
        t.send(query(sql), from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Query raise 26000"])
        #expect(t.reply(S0, errorResponse("26000"), idle) == ["ErrorResponse 26000", "ReadyForQuery I"])
    }

    @Test func sqlPreparedStatementFollowsTheClient() {
        var t = SessionTrace()
        t.send(query("PREPARE q AS SELECT 1"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("PREPARE"), idle) == ["CommandComplete PREPARE", "ReadyForQuery I"])
        t.send(query("EXECUTE q"))
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Parse \"\" PREPARE q AS SELECT 1", "Bind \"\"", "Execute", "Query EXECUTE q"])
        #expect(t.reply(S1, .parseComplete, .bindComplete, commandComplete("PREPARE"), row, commandComplete("SELECT 1"), idle)
                == ["DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    /// C0's SQL-level `s1` is on S0; C1 never prepared it. EXPLAIN ANALYZE runs it.
    @Test func explainExecuteOfAnotherClientsStatementFailsWith26000() {
        var t = SessionTrace(clients: 2)
        t.send(query("PREPARE s1 AS DELETE FROM orders"), from: C0)
        t.lease(S0, to: C0)
        #expect(t.reply(S0, commandComplete("PREPARE"), idle) == ["CommandComplete PREPARE", "ReadyForQuery I"])
        t.send(query("EXPLAIN ANALYZE EXECUTE s1"), from: C1)
        t.lease(S0, to: C1)
        let sent = t.serverGot(S0).last
        #expect(sent == "Query raise 26000")         // got: Query EXPLAIN ANALYZE EXECUTE s1
    }

    @Test func explainExecuteOfTheClientsStatementPreparesItOnTheNextServer() {
        var t = SessionTrace()
        t.send(query("PREPARE q AS SELECT 1"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("PREPARE"), idle) == ["CommandComplete PREPARE", "ReadyForQuery I"])
        t.send(query("EXPLAIN EXECUTE q"))
        t.lease(S1)
        let sent = t.serverGot(S1)
        #expect(sent == ["Parse \"\" PREPARE q AS SELECT 1", "Bind \"\"", "Execute", "Query EXPLAIN EXECUTE q"])
    }

    // MARK: Disconnect

    @Test func clientClosedReleasesItsReferences() {
        var t = Self.prepared()
        t.clients[C0].clientClosed(names: &t.names)
        #expect(t.clients[C0].statements.isEmpty)
        // The entry stays known (unreferenced) so the next client reuses the server copies.
        #expect(t.names.knownServerName(for: StatementKey(query: "SELECT 1", parameterTypes: [])) == "pgstash_1")
    }

    /// The NUL search that splits Parse and Bind bodies (memchr on the slice's own indices).
    @Test func nulIsFoundOnTheSlicesIndices() {
        let bytes: [UInt8] = [9, 9, 0x61, 0, 0x62, 0x63, 0, 0x64]
        let body = bytes[2...]                               // a body never starts at index 0
        #expect(ClientSession.nul(in: body, from: body.startIndex) == 3)
        #expect(ClientSession.nul(in: body, from: 4) == 6)
        #expect(ClientSession.nul(in: body, from: 7) == nil)  // no NUL after it
        #expect(ClientSession.nul(in: body, from: body.endIndex) == nil)
        #expect(ClientSession.nul(in: bytes[2..<3], from: 2) == nil)
    }

    /// `SessionOutput.reset` gives back storage a burst grew, keeps small storage for reuse,
    /// and leaves what is due to the client when only `toServer` is reset.
    @Test func outputResetShrinksOnlyWhatGrew() {
        var out = SessionOutput()
        out.toServer.append([UInt8](repeating: 1, count: 40_000))
        out.toClient.append([UInt8](repeating: 2, count: 100))
        let small = out.toClient.capacity
        out.resetToServer()
        #expect(out.toServer.isEmpty && out.toServer.capacity == 0)
        #expect(out.toClient.readableBytes == 100)
        out.reset()
        #expect(out.toClient.isEmpty && out.toClient.capacity == small)
        out.reset()                                           // nothing written since: nothing changes
        #expect(out.toClient.capacity == small && out.toServer.capacity == 0)
    }
}

