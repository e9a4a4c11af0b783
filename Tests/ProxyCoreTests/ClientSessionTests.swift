import PostgresWire
@testable import ProxyCore
import Testing

private let S0 = 0, S1 = 1, S2 = 2
private let C0 = 0, C1 = 1

/// Traces of a client session under transaction pooling: the lease lifecycle, the client's
/// unnamed statement across servers, refusals of session-bound features, COPY in the
/// extended protocol, and what a client without a server is answered.
@Suite("ClientSession")
struct ClientSessionTests {
    // MARK: Lease lifecycle

    @Test func simpleQueryReleasesAtReadyForQueryIdle() {
        var t = SessionTrace()
        t.send(query("SELECT 1"))
        #expect(t.isWaiting())
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query SELECT 1"])
        #expect(t.reply(S0, oneColumn, row, commandComplete("SELECT 1"), idle)
                == ["RowDescription", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.server(of: C0) == nil)
        #expect(t.released == [S0])
    }

    @Test func transactionBlockKeepsTheServerUntilCommit() {
        var t = SessionTrace()
        t.send(query("BEGIN"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), inBlock) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        #expect(t.server(of: C0) == S0)
        t.send(query("SELECT 1/0"))
        #expect(t.reply(S0, errorResponse("22012"), failedBlock) == ["ErrorResponse 22012", "ReadyForQuery E"])
        #expect(t.server(of: C0) == S0)
        t.send(query("COMMIT"))
        #expect(t.serverGot(S0) == ["Query BEGIN", "Query SELECT 1/0", "Query COMMIT"])
        #expect(t.reply(S0, commandComplete("ROLLBACK"), idle) == ["CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    /// pg-cursor and libpq's pipeline mode read a portal in pieces with Execute + Flush: the
    /// server answers every request, the last ReadyForQuery said 'I', yet the implicit
    /// transaction holding the portal is open until Sync.
    @Test func executeAndFlushKeepTheServerUntilSync() {
        var t = SessionTrace()
        t.send(parse("", "SELECT g FROM generate_series(1, 3) g"), bind(""), describePortal(),
               .execute(portal: "", maxRows: 2), .flush)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT g FROM generate_series(1, 3) g", "Bind \"\"", "Describe P \"\"",
                                    "Execute", "Flush"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, oneColumn, row, row, .portalSuspended)
                == ["ParseComplete", "BindComplete", "RowDescription", "DataRow", "DataRow", "PortalSuspended"])
        #expect(t.servers[S0].tracker.isIdle)
        #expect(t.servers[S0].transactionStatus == .idle)
        #expect(!t.clients[C0].shouldRelease(t.servers[S0]))
        #expect(t.server(of: C0) == S0)

        t.send(.execute(portal: "", maxRows: 2), .flush)
        #expect(t.reply(S0, row, commandComplete("SELECT 3")) == ["DataRow", "CommandComplete SELECT 3"])
        #expect(!t.clients[C0].shouldRelease(t.servers[S0]))
        #expect(t.server(of: C0) == S0)

        t.send(.sync)
        #expect(t.serverGot(S0) == ["Execute", "Flush", "Sync"])
        #expect(t.reply(S0, idle) == ["ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    /// libpq pipeline mode: a synced batch, then one ended by Flush. The first batch's
    /// ReadyForQuery 'I' comes while the second is outstanding; once the second is answered
    /// the tracker is idle and the last status 'I', but the second batch is not synced.
    @Test func pipelineEndingInFlushIsNotReleasedAfterAnEarlierIdleReadyForQuery() {
        var t = SessionTrace()
        t.send(parse("", "INSERT INTO t VALUES (1)"), bind(""), execute(), .sync,
               parse("", "INSERT INTO t VALUES (2)"), bind(""), execute(), .flush)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, commandComplete("INSERT 0 1"), idle)
                == ["ParseComplete", "BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, commandComplete("INSERT 0 1"))
                == ["ParseComplete", "BindComplete", "CommandComplete INSERT 0 1"])
        #expect(t.servers[S0].tracker.isIdle)
        #expect(t.servers[S0].unsynced)
        // A cancel completing now is the other place the glue asks whether to release.
        t.servers[S0].cancelsInFlight = 1
        t.cancelCompleted(S0)
        #expect(t.server(of: C0) == S0)
        t.send(.sync)
        #expect(t.reply(S0, idle) == ["ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    /// A CancelRequest sent for this backend may land late: until its connection closes, the
    /// server is not given to another client, whose query it could cancel.
    @Test func noReleaseWhileACancelIsInFlight() {
        var t = SessionTrace()
        t.send(query("SELECT pg_sleep(60)"))
        t.lease(S0)
        #expect(t.clients[C0].shouldCancel(t.servers[S0]))
        t.servers[S0].cancelsInFlight += 1            // the glue sent a CancelRequest
        #expect(t.reply(S0, errorResponse("57014", "canceling statement due to user request"), idle)
                == ["ErrorResponse 57014", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)
        #expect(!t.clients[C0].shouldCancel(t.servers[S0]))     // nothing of the client's is running
        t.cancelCompleted(S0)
        #expect(t.server(of: C0) == nil)
        #expect(t.released == [S0])
    }

    @Test func pinnedClientKeepsItsServer() {
        var t = SessionTrace(pinOnSessionState: true)
        t.send(query("LISTEN jobs"))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query LISTEN jobs"])
        #expect(t.reply(S0, commandComplete("LISTEN"), idle) == ["CommandComplete LISTEN", "ReadyForQuery I"])
        #expect(t.clients[C0].pinned)
        #expect(t.server(of: C0) == S0)
        #expect(t.events == ["pinned to its server for LISTEN"])
        // Its notifications reach it.
        #expect(t.reply(S0, .notificationResponse(processID: 7, channel: "jobs", payload: "x")) == ["NotificationResponse"])
        t.send(query("SELECT 1"))
        #expect(t.reply(S0, commandComplete("SELECT 1"), idle) == ["CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.released.isEmpty)
    }

    @Test func sessionModeNeverReleasesAndPassesMessagesUnchanged() {
        var t = SessionTrace(transactionPooling: false)
        t.send(parse("s1", "SELECT 1"), bind("s1"), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse s1 SELECT 1", "Bind s1", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        t.send(query("LISTEN jobs"))
        #expect(t.serverGot(S0) == ["Query LISTEN jobs"])
        #expect(t.reply(S0, commandComplete("LISTEN"), idle) == ["CommandComplete LISTEN", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)
        #expect(t.released.isEmpty)
    }

    @Test func notificationOnAPooledServerReachesNobody() {
        var t = SessionTrace()
        t.send(query("SELECT 1"))
        t.lease(S0)
        #expect(t.reply(S0, .notificationResponse(processID: 7, channel: "jobs", payload: "x")) == [])
    }

    // MARK: The unnamed statement

    @Test func unnamedStatementIsReparsedOnTheNextServer() {
        var t = SessionTrace()
        t.send(parse("", "SELECT $1::int", [23]), bind("", [Array("7".utf8)]), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT $1::int [23]", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])

        t.send(bind("", [Array("8".utf8)]), execute(), .sync)
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Parse \"\" SELECT $1::int [23]", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S1, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])

        // Back on S1, which still holds it: no second Parse.
        t.send(bind(""), execute(), .sync)
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Bind \"\"", "Execute", "Sync"])
    }

    @Test func bindOfAnUnnamedStatementNeverParsedFailsWith26000() {
        var t = SessionTrace()
        t.send(bind(""), describePortal(), execute(), .sync)
        t.lease(S0)
        let sent = t.serverMessages(S0)
        #expect(SessionTrace.renderFrontend(sent.flatMap(\.encoded)) == ["Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
        if case .parse(_, let sql, _)? = sent.first {
            #expect(sql.contains("MESSAGE = 'unnamed prepared statement does not exist'"))
        }
        #expect(t.clients[C0].skippingToSync == false)     // the Sync ended the skip
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("26000"), idle)
                == ["ErrorResponse 26000", "ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    @Test func messagesAfterARaisedErrorAreSkippedToSync() {
        var t = SessionTrace()
        t.send(bind(""), execute(), parse("s1", "SELECT 1"), bind("s1"), describePortal(), execute(), .sync,
               query("SELECT 2"))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync", "Query SELECT 2"])
        #expect(t.clients[C0].statements["s1"] == nil)
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("26000"), idle)
                == ["ErrorResponse 26000", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)         // the Query is outstanding
        #expect(t.reply(S0, commandComplete("SELECT 1"), idle) == ["CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    @Test func aQueryDestroysTheUnnamedStatement() {
        var t = SessionTrace()
        t.send(parse("", "SELECT 1"), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(query("SELECT 2"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("SELECT 1"), idle) == ["CommandComplete SELECT 1", "ReadyForQuery I"])
        t.send(bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 1", "Sync", "Query SELECT 2", "Parse \"\" raise 26000", "Bind \"\"",
                                    "Execute", "Sync"])
    }

    @Test func closeOfTheUnnamedStatementDestroysIt() {
        var t = SessionTrace()
        t.send(parse("", "SELECT 1"), closeStatement(""), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 1", "Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .parseComplete, .bindComplete, errorResponse("26000"), idle)
                == ["ParseComplete", "CloseComplete", "ErrorResponse 26000", "ReadyForQuery I"])
    }

    @Test func unnamedStatementOfAnotherClientIsNotTheClientsOwn() {
        var t = SessionTrace(clients: 2)
        t.send(parse("", "SELECT 'mine'"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.reply(S0, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(bind(""), execute(), .sync, from: C1)        // C1 never parsed ""
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 'mine'", "Sync", "Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("26000"), idle) == ["ErrorResponse 26000", "ReadyForQuery I"])
    }

    /// Two clients whose unnamed statements have the same generation: the server's unnamed
    /// statement is tagged with its client, so neither binds the other's.
    @Test func anotherClientsUnnamedStatementIsNeverUsed() {
        var t = SessionTrace(clients: 2)
        t.send(parse("", "SELECT 'mine'"), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.reply(S0, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(parse("", "SELECT 'theirs'"), .sync, from: C1)
        t.lease(S1, to: C1)
        #expect(t.reply(S1, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        _ = (t.serverGot(S0), t.serverGot(S1))

        t.send(bind(""), execute(), .sync, from: C1)
        t.lease(S0, to: C1)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 'theirs'", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])

        t.send(bind(""), execute(), .sync, from: C0)
        t.lease(S0, to: C0)
        #expect(t.serverGot(S0) == ["Parse \"\" SELECT 'mine'", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    /// PostgreSQL ignores every message up to Sync after an error (postgres.c,
    /// ignore_till_sync): a Parse "" skipped there never runs, so the unnamed statement parsed
    /// before it survives, and a later Bind "" binds it.
    @Test func parseSkippedAfterAServerErrorLeavesTheEarlierUnnamedStatement() {
        var t = SessionTrace()
        t.send(parse("", "SELECT $1::int", [23]), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(bind("", [Array("x".utf8)]), execute(), parse("", "SELECT 2"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0).suffix(6) == ["Bind \"\"", "Execute", "Parse \"\" SELECT 2", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, errorResponse("22P02", "invalid input syntax for type integer"), idle)
                == ["ErrorResponse 22P02", "ReadyForQuery I"])
        t.send(bind("", [Array("7".utf8)]), execute(), .sync)
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Parse \"\" SELECT $1::int [23]", "Bind \"\"", "Execute", "Sync"])
    }

    /// exec_parse_message drops the old unnamed statement before it parses the new text, so
    /// a Parse "" that fails — here refused by pgstash — leaves the client with none.
    @Test func refusedParseOfTheUnnamedStatementLeavesNone() {
        var t = SessionTrace()
        t.send(parse("", "SELECT 1"), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, idle) == ["ParseComplete", "ReadyForQuery I"])
        t.send(parse("", "LISTEN jobs"), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("0A000"), idle) == ["ErrorResponse 0A000", "ReadyForQuery I"])
        t.send(bind(""), execute(), .sync)
        t.lease(S1)
        #expect(t.serverGot(S1) == ["Parse \"\" raise 26000", "Bind \"\"", "Execute", "Sync"])
    }

    // MARK: Refusals of session-bound features

    static let sessionBound = [
        "LISTEN jobs",
        "CREATE TEMP TABLE t (x int)",
        "CREATE TABLE pg_temp.x (a int)",
        "DO $$ BEGIN LISTEN jobs; END $$",
        "SELECT set_config('a.b', 'c', false)",
    ]

    @Test(arguments: sessionBound)
    func sessionBoundQueryIsRaisedByTheServer(_ sql: String) {
        var t = SessionTrace()
        t.send(query(sql))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query raise 0A000"])
        #expect(t.reply(S0, errorResponse("0A000"), idle) == ["ErrorResponse 0A000", "ReadyForQuery I"])
        #expect(!t.clients[C0].pinned)
        #expect(t.released == [S0])
        #expect(t.events.count == 1 && t.events[0].hasPrefix("refused "))
    }

    @Test(arguments: sessionBound)
    func sessionBoundParseIsRaisedByTheServerAndSkipsToSync(_ sql: String) {
        var t = SessionTrace()
        t.send(parse("", sql), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Parse \"\" raise 0A000", "Bind \"\"", "Execute", "Sync"])
        #expect(t.reply(S0, .parseComplete, .bindComplete, errorResponse("0A000"), idle) == ["ErrorResponse 0A000", "ReadyForQuery I"])
        #expect(!t.clients[C0].pinned)
    }

    @Test(arguments: sessionBound)
    func sessionBoundQueryPinsWithPinOnSessionState(_ sql: String) {
        var t = SessionTrace(pinOnSessionState: true)
        t.send(query(sql))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query \(sql)"])
        #expect(t.reply(S0, commandComplete("OK"), idle) == ["CommandComplete OK", "ReadyForQuery I"])
        #expect(t.clients[C0].pinned)
        #expect(t.server(of: C0) == S0)
    }

    @Test func sessionBoundStatementInABlockAbortsTheBlock() {
        var t = SessionTrace()
        t.send(query("BEGIN"))
        t.lease(S0)
        #expect(t.reply(S0, commandComplete("BEGIN"), inBlock) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        t.send(query("LISTEN jobs"))
        #expect(t.serverGot(S0) == ["Query BEGIN", "Query raise 0A000"])
        #expect(t.reply(S0, errorResponse("0A000"), failedBlock) == ["ErrorResponse 0A000", "ReadyForQuery E"])
        #expect(t.server(of: C0) == S0)
    }

    @Test(arguments: ["SELECT set_config('a.b', 'c', true)", "SELECT pg_advisory_xact_lock(1)", "UPDATE t SET x = 1"])
    func transactionScopedStatementsPass(_ sql: String) {
        var t = SessionTrace()
        t.send(query(sql))
        t.lease(S0)
        #expect(t.serverGot(S0) == ["Query \(sql)"])
        #expect(t.reply(S0, commandComplete("SELECT 1"), idle) == ["CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(!t.clients[C0].pinned)
        #expect(t.released == [S0])
        #expect(t.events.isEmpty)
    }

    // MARK: COPY FROM STDIN in the extended protocol

    /// The client pipelines Parse/Bind/Execute/Sync, then its COPY data and a second Sync.
    /// The server ignores the first Sync (it arrives in copy-in mode), so the batch gets one
    /// ReadyForQuery; the next batch's answers must line up behind it.
    @Test func copyInThroughTheExtendedProtocolAnsweredAsItArrives() {
        var t = SessionTrace()
        t.send(parse("", "COPY t FROM STDIN"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, copyIn) == ["ParseComplete", "BindComplete", "CopyInResponse"])
        t.send(.copyData(Array("1\n".utf8)), .copyData(Array("2\n".utf8)), .copyDone, .sync)
        #expect(t.serverGot(S0) == ["Parse \"\" COPY t FROM STDIN", "Bind \"\"", "Execute", "Sync", "CopyData", "CopyData",
                                    "CopyDone", "Sync"])
        #expect(t.reply(S0, commandComplete("COPY 2"), idle) == ["CommandComplete COPY 2", "ReadyForQuery I"])
        #expect(t.released == [S0])

        t.send(parse("", "SELECT 1"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.released == [S0, S0])
    }

    @Test func copyInThroughTheExtendedProtocolAllPipelined() {
        var t = SessionTrace()
        t.send(parse("", "COPY t FROM STDIN"), bind(""), execute(), .sync,
               .copyData(Array("1\n".utf8)), .copyDone, .sync,
               parse("", "SELECT 1"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, copyIn, commandComplete("COPY 1"), idle)
                == ["ParseComplete", "BindComplete", "CopyInResponse", "CommandComplete COPY 1", "ReadyForQuery I"])
        #expect(t.server(of: C0) == S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, row, commandComplete("SELECT 1"), idle)
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.released == [S0])
        #expect(t.servers[S0].tracker.outstandingSyncs == 0)
    }

    @Test func copyFailInTheExtendedProtocolSkipsToTheSecondSync() {
        var t = SessionTrace()
        t.send(parse("", "COPY t FROM STDIN"), bind(""), execute(), .sync)
        t.lease(S0)
        #expect(t.reply(S0, .parseComplete, .bindComplete, copyIn) == ["ParseComplete", "BindComplete", "CopyInResponse"])
        t.send(.copyFail("client gave up"), .sync)
        #expect(t.reply(S0, errorResponse("57014", "COPY from stdin failed"), idle) == ["ErrorResponse 57014", "ReadyForQuery I"])
        #expect(t.released == [S0])
    }

    // MARK: Without a server

    /// The glue bounds this by back-pressure; the machine answers each Sync at once.
    @Test func syncsWithoutAServerAreEachAnsweredReadyForQuery() {
        var t = SessionTrace()
        for _ in 0..<1000 { t.send(.sync) }
        let got = t.clientGot()
        #expect(got.count == 1000)
        #expect(Set(got) == ["ReadyForQuery I"])
        #expect(!t.isWaiting())
        #expect(t.servers.allSatisfy { $0.tracker.isIdle })
    }

    @Test func flushAndStrayCopyMessagesWithoutAServerAreDropped() {
        var t = SessionTrace()
        t.send(.flush, .copyData([1, 2, 3]), .copyDone, .copyFail("late"), .flush)
        #expect(t.clientGot() == [])
        #expect(!t.isWaiting())
    }

    @Test(arguments: [FrontendMessage.terminate, .query("SELECT 1"), .functionCall(.init(functionOID: 1, argumentFormats: [], arguments: [], resultFormat: 0)),
                      .execute(portal: "", maxRows: 0), bind("s1")])
    func messagesThatNeedAServerAreLeftUnread(_ m: FrontendMessage) {
        var session = SessionTrace().clients[C0]
        var names = StatementNames()
        var out = SessionOutput()
        #expect(session.inputWithoutServer(m.encoded[...], maxMessageSize: 1 << 20, names: &names, out: &out) == 0)
        #expect(out.toClient.isEmpty)
    }

    /// `needsServer` is the relay's shortcut past `inputWithoutServer`: wherever it says a
    /// server is needed, `inputWithoutServer` must answer nothing and consume nothing, for
    /// every message type, body and skipping state.
    @Test func needsServerNeverSkipsAnAnswer() {
        var checked = 0
        for id in FrontendMessageID.allCases {
            for body: [UInt8] in [[], [0], [0, 0], [0x53], [0x53, 0x61, 0], [0x50, 0], [0x61, 0, 0x73, 0, 0, 0]] {
                for skipping in [false, true] {
                    var session = SessionTrace().clients[C0]
                    session.skippingToSync = skipping
                    guard session.needsServer(id, firstBodyByte: body.first ?? 0) else { continue }
                    var frame: [UInt8] = [id.rawValue]
                    let length = UInt32(body.count + 4)
                    frame += [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
                    var names = StatementNames()
                    var out = SessionOutput()
                    #expect(session.inputWithoutServer(frame[...], maxMessageSize: 1 << 20, names: &names, out: &out) == 0,
                            "\(id) \(body) skipping \(skipping)")
                    #expect(out.toClient.isEmpty && out.toServer.isEmpty)
                    checked += 1
                }
            }
        }
        // Query, Terminate, Password, FunctionCall always; Parse "", Bind, Describe, Execute
        // when not skipping.
        #expect(checked > 40)
        // And it stays out of the way of what is answered without a server.
        let session = SessionTrace().clients[C0]
        for id: FrontendMessageID in [.sync, .flush, .close, .copyData, .copyDone, .copyFail] {
            #expect(!session.needsServer(id, firstBodyByte: 0))
        }
        #expect(!session.needsServer(.parse, firstBodyByte: 0x61), "a named Parse may be answered without a server")
    }

    /// Bind's portal and statement names as bytes: both unnamed (the shortcut that reads two
    /// NULs), a name without its NUL, none at all, and a Bind cut short after the names.
    @Test func malformedBindsFailAndATruncatedUnnamedOneGoesToTheServer() {
        var t = SessionTrace()
        t.send(parse("", "SELECT 1"), .sync)
        t.lease(S0)
        _ = t.reply(S0, .parseComplete, idle)
        for body: [UInt8] in [[], [0], [0x61], [0x61, 0], [0x61, 0, 0x62]] {
            var session = t.clients[C0]
            var server = t.servers[S0]
            var names = StatementNames()
            var out = SessionOutput()
            let frame = Self.frame(.bind, body)
            #expect(session.messageReceived(.bind, body: frame.dropFirst(5), frame: frame[...], server: &server,
                                            names: &names, out: &out)
                    == .fail(sqlState: "08P01", message: "invalid Bind message"), "\(body)")
        }
        // Both names unnamed but nothing after them: the client's own statement is there, so
        // the frame goes as it is, and PostgreSQL answers the protocol error.
        var session = t.clients[C0]
        var server = t.servers[S0]
        var names = StatementNames()
        var out = SessionOutput()
        let frame = Self.frame(.bind, [0, 0])
        #expect(session.messageReceived(.bind, body: frame.dropFirst(5), frame: frame[...], server: &server,
                                        names: &names, out: &out) == .consumed)
        #expect(Array(out.toServer.readableView) == frame)
    }

    static func frame(_ id: FrontendMessageID, _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 4)
        return [id.rawValue, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
    }

    @Test func passwordAfterLoginIsAProtocolViolation() {
        var t = SessionTrace()
        t.send(query("SELECT 1"))
        t.lease(S0)
        t.send(.passwordData(Array("secret\0".utf8)))
        #expect(t.outcomes[C0] == .fail(sqlState: "08P01", message: "unexpected password message after authentication"))
    }
}
