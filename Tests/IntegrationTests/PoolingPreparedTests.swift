import Foundation
import PostgresWire
import Testing

extension PoolingTests {
    /// Drivers that use named server-side prepared statements, 10,000 queries over 100
    /// connections through pgstash in transaction mode (pool.max_upstream = 20).
    @Suite struct PreparedStatements {
        /// A long startup timeout: 100 SCRAM logins at once on a loaded 2-core machine.
        static let overrides = ["pool.mode=transaction", "pool.max_upstream=20", "listen.startup_timeout=40"]

        static func prepareTable(_ db: TestDatabase) throws {
            try db.connect().query("CREATE TABLE items (id int PRIMARY KEY, owner int NOT NULL, val int NOT NULL)")
        }

        static func expectClean(_ summary: [String: Any], _ proxy: PgStashProcess) {
            #expect(summary["errors"] as? Int == 0,
                    "errors: \(summary["first_errors"] ?? "")\npgstash log:\n\(logTail(proxy, lines: 15))")
            #expect(summary["queries"] as? Int == 10_000)
            #expect(summary["wrong_results"] as? Int == 0)
            #expect(summary["mismatched_rows"] as? Int == 0, "the table differs from what the clients committed")
            #expect((summary["transactions"] as? Int ?? 0) >= 1000)
            #expect((summary["rollbacks"] as? Int ?? 0) >= 500)
        }

        /// psycopg 3 prepares every statement (`prepare_threshold=0`); note that it also
        /// sends `DEALLOCATE ALL` after each ROLLBACK (psycopg/transaction.py), which pgstash
        /// must treat as "forget this client's statements", not forward to a shared server.
        @Test("psycopg prepare_threshold=0: 10,000 queries over 100 connections, no errors, right results")
        func psycopgPrepared() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "psycopg")
            defer { db.drop() }
            try Self.prepareTable(db)
            let proxy = try startPgStash(env, db, Self.overrides)
            defer { proxy.stop() }
            let r = try runPython("workload_psycopg.py",
                                  [scriptDSN(proxy, db), env.directDSN(db: db.name), "100", "10000", "items"], timeout: 58)
            Self.expectClean(try lastJSON(r), proxy)
        }

        /// The protocol-level core of the psycopg case: one client's `DEALLOCATE ALL` (or
        /// `DEALLOCATE name`) forgets that client's statements only; it must not drop the
        /// shared server-side statements other clients (and the same client, re-preparing)
        /// rely on. pool.max_upstream = 1: both clients share the one server.
        @Test("DEALLOCATE from one client forgets its own statements only")
        func deallocateIsPerClient() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "deallocate")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1"])
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            let b = try WireClient.connected(proxy, db)
            let sql = "SELECT 41 + 1 AS answer"

            #expect(a.extendedQuery(sql, statement: "a_stmt").rows == [["42"]])
            #expect(b.extendedQuery(sql, statement: "b_stmt").rows == [["42"]])

            for deallocate in ["DEALLOCATE ALL", "DEALLOCATE a_stmt", "DEALLOCATE PREPARE a_stmt"] {
                let r = a.query(deallocate)
                #expect(r.errors.isEmpty, "\(deallocate): \(r.errorSummary)")
                #expect(a.executePrepared("a_stmt").errors.first?.sqlState == "26000",
                        "after \(deallocate) the client's own statement must be gone, as in PostgreSQL")
                let other = b.executePrepared("b_stmt")
                #expect(other.rows == [["42"]], "after A's \(deallocate), B's statement fails: \(other.errorSummary)")
                let again = a.extendedQuery(sql, statement: "a_stmt")
                #expect(again.rows == [["42"]], "after \(deallocate), re-preparing a_stmt fails: \(again.errorSummary)")
                let other2 = b.extendedQuery(sql, statement: nil, name: "b_stmt")
                #expect(other2.rows == [["42"]], "B after A re-prepared: \(other2.errorSummary)")
            }
        }

        /// pgstash answers a Parse of a statement its server already holds itself; when that
        /// answer falls between rows it relays, the client must still get every message in
        /// order (the relay sends rows from the server's read and puts made-up answers after
        /// them). pool.max_upstream = 1: the second Parse lands where the first one was made.
        @Test("a made-up ParseComplete between relayed results keeps its place")
        func madeUpAnswerKeepsItsPlace() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "madeup")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1"])
            defer { proxy.stop() }
            let c = try WireClient.connected(proxy, db)
            #expect(c.extendedQuery("SELECT 1 AS one", statement: "s1").rows == [["1"]])

            var out = ByteBuffer()
            FrontendMessage.parse(name: "", query: "SELECT g FROM generate_series(1, 3) g", parameterTypes: []).encode(into: &out)
            FrontendMessage.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])).encode(into: &out)
            FrontendMessage.execute(portal: "", maxRows: 0).encode(into: &out)
            FrontendMessage.parse(name: "s2", query: "SELECT 1 AS one", parameterTypes: []).encode(into: &out)   // same text as s1
            FrontendMessage.bind(.init(portal: "", statement: "s2", parameterFormats: [], parameters: [], resultFormats: [])).encode(into: &out)
            FrontendMessage.execute(portal: "", maxRows: 0).encode(into: &out)
            FrontendMessage.sync.encode(into: &out)
            c.send(Array(out.readableView))
            #expect(c.readUntilReady().kinds == "12DDDC12DCZ")
        }

        @Test("asyncpg statement cache: 10,000 queries over 100 connections, no errors, right results")
        func asyncpgStatementCache() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "asyncpg")
            defer { db.drop() }
            try Self.prepareTable(db)
            // asyncpg computes SCRAM's PBKDF2 in Python: 100 logins take tens of seconds on
            // a loaded 2-core machine. Authentication is not under test here.
            let proxy = try startPgStash(env, db, Self.overrides + ["auth.type=trust"])
            defer { proxy.stop() }
            let r = try runPython("workload_asyncpg.py",
                                  ["\(proxy.port)", "\(env.pgPort)", env.pgPassword, db.name, "100", "10000", "items"],
                                  timeout: 58)
            Self.expectClean(try lastJSON(r), proxy)
        }
    }
}
