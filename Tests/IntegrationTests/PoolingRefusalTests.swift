import Foundation
import PostgresWire
import Testing

extension PoolingTests {
    /// Session state that cannot follow a client across servers, in transaction mode: with
    /// pool.pin_on_session_state = false the statement is refused with 0A000 and a message
    /// naming transaction pooling, and nothing of it happens upstream; with true (the default),
    /// it works and the client keeps its server. LISTEN is such state only without the
    /// notification relay (pool.max_listeners = 0); with it, LISTEN is relayed, never refused.
    @Suite struct SessionStateInTransactionMode {
        /// A statement creating session state, and how to see that state on a server.
        struct Stateful: CustomStringConvertible, Sendable {
            let name: String
            let sql: String
            /// A count, run on the server of the asking client: 0 when the state is absent.
            let probe: String
            /// LISTEN is session state only without the relay.
            var overrides: [String] = []
            var description: String { name }
        }

        static let lockKey = 424_242
        static let advisoryProbe = """
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(lockKey)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """

        static let statements = [
            Stateful(name: "LISTEN", sql: "LISTEN pool_channel", probe: "SELECT count(*) FROM pg_listening_channels()",
                     overrides: ["pool.max_listeners=0"]),
            Stateful(name: "session advisory lock", sql: "SELECT pg_advisory_lock(\(lockKey))", probe: advisoryProbe),
            Stateful(name: "WITH HOLD cursor", sql: "DECLARE pool_cursor CURSOR WITH HOLD FOR SELECT 1",
                     probe: "SELECT count(*) FROM pg_cursors"),
            Stateful(name: "temporary table", sql: "CREATE TEMP TABLE pool_temp (x int)",
                     probe: "SELECT count(*) FROM pg_class WHERE relname = 'pool_temp'"),
        ]

        static func expectRefusal(_ r: [BackendMessage], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let e = r.errors.first
            #expect(r.errors.count == 1, "\(what): expected one ErrorResponse, got \(r.errors.count): \(r.errorSummary)",
                    sourceLocation: sourceLocation)
            #expect(e?.sqlState == "0A000", "\(what): SQLSTATE \(e?.sqlState ?? "none"), message \(e?.message ?? "none")",
                    sourceLocation: sourceLocation)
            #expect(e?.message?.lowercased().contains("transaction pooling") == true,
                    "\(what): the message must name transaction pooling: \(e?.message ?? "none")", sourceLocation: sourceLocation)
            if case .readyForQuery(.idle)? = r.last {} else {
                Issue.record("\(what): no ReadyForQuery(idle) after the refusal: \(r.last.map { "\($0)" } ?? "connection closed")",
                             sourceLocation: sourceLocation)
            }
        }

        @Test("refused in transaction mode with 0A000; nothing happens upstream; the client stays usable",
              arguments: statements)
        func refused(_ s: Stateful) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "refuse")
            defer { db.drop() }
            // One server: the probes run where the statement would have run.
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1",
                                                   "pool.pin_on_session_state=false"] + s.overrides)
            defer { proxy.stop() }
            let c = try WireClient.connected(proxy, db)

            Self.expectRefusal(c.query(s.sql), "simple query \(s.sql)")
            #expect(c.query("SELECT 1").rows == [["1"]], "the client is not usable after the refusal\n\(logTail(proxy))")
            #expect(c.query(s.probe).firstValue == "0", "the refused statement ran upstream")

            // The same statement through the extended protocol (what psycopg, asyncpg, JDBC… send).
            Self.expectRefusal(c.extendedQuery(s.sql), "extended protocol \(s.sql)")
            #expect(c.extendedQuery("SELECT 2").rows == [["2"]], "the client is not usable after the refusal")
            #expect(c.query(s.probe).firstValue == "0", "the refused statement ran upstream")
        }

        /// What must not be refused: the transaction-scoped forms of the same features, and
        /// statements that only mention them.
        @Test("transaction-scoped locks, cursors and look-alikes are not refused in transaction mode")
        func notRefused() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "not_refused")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1",
                                                   "pool.pin_on_session_state=false"])
            defer { proxy.stop() }
            let c = try WireClient.connected(proxy, db)
            for sql in [
                "BEGIN; SELECT pg_advisory_xact_lock(\(Self.lockKey)); COMMIT",
                "BEGIN; DECLARE plain_cursor CURSOR FOR SELECT 1; FETCH ALL FROM plain_cursor; COMMIT",
                "SELECT 'LISTEN x; CREATE TEMP TABLE y (z int)' AS text_only",
                "CREATE TABLE regular_table (x int)",
                "SELECT pg_advisory_unlock_all()",
            ] {
                let r = c.query(sql)
                #expect(r.errors.isEmpty, "\(sql): \(r.errorSummary)")
            }
        }

        @Test("pin_on_session_state = true: the statement works and the client keeps its server",
              arguments: statements)
        func pinned(_ s: Stateful) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=2",
                                                   "pool.pin_on_session_state=true", "pool.acquire_timeout=5"] + s.overrides)
            defer { proxy.stop() }
            var a: WireClient? = try WireClient.connected(proxy, db)
            let b = try WireClient.connected(proxy, db)

            let r = a!.query(s.sql)
            try #require(r.errors.isEmpty, "\(s.sql) with pin_on_session_state = true: \(r.errorSummary)")
            let pinnedPID = try #require(a!.backendPID())
            for round in 1...3 {
                _ = b.query("BEGIN")
                let bPID = b.backendPID()
                #expect(bPID != pinnedPID, "round \(round): another client got the pinned server \(pinnedPID)")
                #expect(a!.backendPID() == pinnedPID, "round \(round): the pinned client changed server")
                #expect(a!.query("BEGIN; SELECT 1; COMMIT").errors.isEmpty)
                #expect(a!.backendPID() == pinnedPID, "round \(round): the pinned client changed server after a transaction")
                _ = b.query("COMMIT")
            }
            #expect(a!.query(s.probe).firstValue == "1", "the state is not on the pinned server")

            // The state works as it does without a proxy.
            switch s.name {
            case "LISTEN":
                #expect(b.query("NOTIFY pool_channel, 'pinned'").errors.isEmpty)
                var got: [(channel: String, payload: String)] = []
                _ = waitUntil(seconds: 5) { got += a!.query("SELECT 1").notifications; return !got.isEmpty }
                #expect(got.first?.payload == "pinned", "the pinned listener got no notification")
            case "session advisory lock":
                let holder = try DirectConnection(env).value("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = \(Self.lockKey)")
                #expect(holder == pinnedPID)
                // (A transaction-level try: a session-level one would pin b too, past max_pinned.)
                #expect(b.query("BEGIN; SELECT pg_try_advisory_xact_lock(\(Self.lockKey)); COMMIT").firstValue == "f")
            case "WITH HOLD cursor":
                #expect(a!.query("FETCH ALL FROM pool_cursor").rows == [["1"]])
            default:
                #expect(a!.query("INSERT INTO pool_temp VALUES (1)").errors.isEmpty)
                #expect(a!.query("SELECT count(*) FROM pool_temp").firstValue == "1")
                #expect(b.query("SELECT to_regclass('pool_temp') IS NULL").firstValue == "t", "another client sees the temp table")
            }

            // Once the pinned client is gone, no server keeps its state.
            a = nil
            let c = try WireClient.connected(proxy, db)
            var leftovers: [String] = []
            let clean = waitUntil(seconds: 5) {
                _ = b.query("BEGIN")
                _ = c.query("BEGIN")
                leftovers = [b.query(s.probe).firstValue ?? "error", c.query(s.probe).firstValue ?? "error"]
                _ = b.query("COMMIT")
                _ = c.query("COMMIT")
                return leftovers == ["0", "0"]
            }
            #expect(clean, "the pinned client's \(s.name) outlived it on a pooled server: \(leftovers)\n\(logTail(proxy))")
        }

        @Test("LISTEN is relayed, not refused, in transaction mode (pin_on_session_state = false too) and does not pin")
        func listenRelayed() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "listen_relayed")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1",
                                                   "pool.pin_on_session_state=false", "pool.acquire_timeout=2"])
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db), b = try WireClient.connected(proxy, db)
            let simple = a.query("LISTEN relayed_simple")
            #expect(simple.errors.isEmpty, "simple-query LISTEN: \(simple.errorSummary)")
            let extended = a.extendedQuery("LISTEN relayed_extended")
            #expect(extended.errors.isEmpty, "extended-protocol LISTEN: \(extended.errorSummary)")
            // Not pinned: the pool's one server serves b.
            #expect(b.query("SELECT 1").rows == [["1"]], "a LISTENing client holds the only server\n\(logTail(proxy))")
            usleep(300_000)
            #expect(b.query("NOTIFY relayed_simple, 's'; NOTIFY relayed_extended, 'e'").errors.isEmpty)
            let got = a.notifications(within: 3, until: 2).map(\.payload)
            #expect(got == ["s", "e"], "relayed notifications: \(got)\n\(logTail(proxy))")
        }
    }
}
