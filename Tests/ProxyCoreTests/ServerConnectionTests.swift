import PostgresWire
@testable import ProxyCore
import Testing

private let S0 = 0
private let C0 = 0

/// Traces of a server whose client disconnected: what PostgreSQL would do with the client's
/// work decides the server's fate (ServerConnection.clientLeft / drainingMessageReceived).
@Suite("ServerConnection")
struct ServerConnectionTests {
    /// A client leased S0 and sent `messages`; the server answered `answers`.
    static func leased(_ messages: FrontendMessage..., answers: [BackendMessage] = [],
                       pinOnSessionState: Bool = false) -> SessionTrace {
        var t = SessionTrace(pinOnSessionState: pinOnSessionState)
        t.send(messages)
        t.lease(S0)
        for a in answers { _ = t.reply(S0, a) }
        return t
    }

    static func frame(_ m: BackendMessage) -> (UInt8, ArraySlice<UInt8>) {
        let f = m.encoded
        return (f[0], f[5...])
    }

    static func drained(_ server: inout ServerConnection, _ m: BackendMessage) -> ServerConnection.Disposition? {
        let (id, body) = frame(m)
        return server.drainingMessageReceived(id, body: body)
    }

    // MARK: Quiescent

    @Test func quiescentServerIsReleased() {
        var s = ServerConnection(maxPreparedStatements: 10)
        #expect(s.clientLeft(carriesSessionState: false) == .release)
    }

    @Test func quiescentServerWithSessionStateIsReset() {
        var s = ServerConnection(maxPreparedStatements: 10)
        #expect(s.clientLeft(carriesSessionState: true) == .reset)
    }

    @Test func pinnedClientsServerIsResetWhenItLeaves() {
        var t = Self.leased(query("LISTEN jobs"), answers: [commandComplete("LISTEN"), idle], pinOnSessionState: true)
        #expect(t.clients[C0].pinned)
        #expect(t.server(of: C0) == S0)
        #expect(t.servers[S0].clientLeft(carriesSessionState: t.clients[C0].pinned) == .reset)
    }

    @Test func resetForgetsWhatTheServerHeld() {
        var s = ServerConnection(maxPreparedStatements: 10)
        _ = s.statements.insert("pgstash_1")
        s.settings["work_mem"] = .sql("'64MB'")
        s.sqlPrepared["q"] = "PREPARE q AS SELECT 1"
        s.unnamedOwner = UnnamedTag(client: 1, generation: 1)
        s.resetSent()
        #expect(s.statements.count == 0)
        #expect(s.settings == SessionSettings())
        #expect(s.sqlPrepared.isEmpty)
        #expect(s.unnamedOwner == nil)
    }

    // MARK: A statement in flight is drained

    @Test func queryInFlightIsDrainedThenReleased() {
        var t = Self.leased(query("UPDATE t SET x = 1"))
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(t.servers[S0].draining)
        #expect(Self.drained(&t.servers[S0], commandComplete("UPDATE 3")) == nil)
        #expect(Self.drained(&t.servers[S0], .noticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hi"))) == nil)
        #expect(Self.drained(&t.servers[S0], idle) == .release)
        #expect(!t.servers[S0].draining)
    }

    @Test func pipelinedQueriesAreAllDrained() {
        var t = Self.leased(query("SELECT 1"), query("SELECT 2"))
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(Self.drained(&t.servers[S0], commandComplete("SELECT 1")) == nil)
        #expect(Self.drained(&t.servers[S0], idle) == nil)
        #expect(Self.drained(&t.servers[S0], commandComplete("SELECT 1")) == nil)
        #expect(Self.drained(&t.servers[S0], idle) == .release)
    }

    @Test func syncedExtendedBatchInFlightIsDrained() {
        var t = Self.leased(parse("", "SELECT 1"), bind(""), execute(), .sync, answers: [.parseComplete])
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(Self.drained(&t.servers[S0], .bindComplete) == nil)
        #expect(Self.drained(&t.servers[S0], row) == nil)
        #expect(Self.drained(&t.servers[S0], commandComplete("SELECT 1")) == nil)
        #expect(Self.drained(&t.servers[S0], idle) == .release)
    }

    @Test func drainedStatementThatLeftATransactionOpenCloses() {
        var t = Self.leased(query("BEGIN; UPDATE t SET x = 1"))
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(Self.drained(&t.servers[S0], commandComplete("BEGIN")) == nil)
        #expect(Self.drained(&t.servers[S0], commandComplete("UPDATE 1")) == nil)
        #expect(Self.drained(&t.servers[S0], inBlock) == .close)
    }

    @Test func drainWaitsForACancelInFlight() {
        var t = Self.leased(query("SELECT pg_sleep(60)"))
        t.servers[S0].cancelsInFlight = 1
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(Self.drained(&t.servers[S0], errorResponse("57014")) == nil)
        #expect(Self.drained(&t.servers[S0], idle) == nil)
        #expect(t.servers[S0].drainedDisposition() == nil)          // the cancel may still land
        t.servers[S0].cancelsInFlight -= 1
        #expect(t.servers[S0].drainedDisposition() == .release)
        #expect(t.servers[S0].drainedDisposition() == nil)          // once
    }

    @Test func idleServerWithACancelInFlightWaitsForIt() {
        var t = Self.leased(query("SELECT 1"))
        t.servers[S0].cancelsInFlight = 1
        _ = t.reply(S0, commandComplete("SELECT 1"), idle)
        #expect(t.server(of: C0) == S0)                              // not released: cancel in flight
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(t.servers[S0].drainedDisposition() == nil)
        t.servers[S0].cancelsInFlight = 0
        #expect(t.servers[S0].drainedDisposition() == .release)
    }

    // MARK: Work that dies with the client

    @Test func openTransactionCloses() {
        var t = Self.leased(query("BEGIN"), answers: [commandComplete("BEGIN"), inBlock])
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .close)
    }

    @Test func failedTransactionCloses() {
        var t = Self.leased(query("BEGIN; SELECT 1/0"), answers: [commandComplete("BEGIN"), errorResponse("22012"), failedBlock])
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .close)
    }

    /// Execute + Flush answered: the implicit transaction is open until a Sync that will
    /// never come. PostgreSQL rolls it back when the client disconnects.
    @Test func unsyncedWorkCloses() {
        var t = Self.leased(parse("", "INSERT INTO t VALUES (1)"), bind(""), execute(), .flush,
                            answers: [.parseComplete, .bindComplete, commandComplete("INSERT 0 1")])
        #expect(t.servers[S0].tracker.isIdle)
        #expect(t.servers[S0].transactionStatus == .idle)
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .close)
    }

    /// Doomed work still running is cancelled before the close, so its locks go now.
    @Test func unsyncedWorkInFlightIsCancelledAndClosed() {
        var t = Self.leased(parse("", "SELECT pg_sleep(60)"), bind(""), execute(), .flush)
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .cancelAndClose)
    }

    @Test func statementInFlightWithSessionStateIsCancelledAndClosed() {
        var t = Self.leased(query("SELECT pg_sleep(60)"))
        #expect(t.servers[S0].clientLeft(carriesSessionState: true) == .cancelAndClose)
    }

    @Test func drainForgetsStatementsWhoseParseFailed() {
        var t = Self.leased(parse("s1", "SELEC 1"), .sync)
        #expect(t.servers[S0].statements.contains("pgstash_1"))
        #expect(t.servers[S0].clientLeft(carriesSessionState: false) == .drain)
        #expect(Self.drained(&t.servers[S0], .closeComplete) == nil)
        #expect(Self.drained(&t.servers[S0], errorResponse("42601")) == nil)
        #expect(!t.servers[S0].statements.contains("pgstash_1"))
        #expect(Self.drained(&t.servers[S0], idle) == .release)
    }
}
