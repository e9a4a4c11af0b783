import Foundation
import Glibc
import PostgresWire
import Testing

/// Session objects under transaction pooling with `pool.pin_on_session_state = true` (the
/// default): temporary tables, WITH HOLD cursors and session advisory locks work as with
/// PostgreSQL directly, the client keeps its server while it holds one, and releasing the
/// last one (DROP / DISCARD TEMP, CLOSE, pg_advisory_unlock_all) gives the server back.
/// Release is observed with `pool.max_upstream = 1`: another client can run only once the
/// server is free (before, it waits `acquire_timeout` and gets 53300).
extension PoolingTests {
    @Suite struct PinningTests {
        static let oneServer = ["pool.mode=transaction", "pool.max_upstream=1", "pool.acquire_timeout=2"]

        /// True when a fresh client gets a server (the pool's one server is not pinned).
        static func serverFree(_ proxy: PgStashProcess, _ db: TestDatabase) throws -> Bool {
            let c = try WireClient.connected(proxy, db)
            return c.query("SELECT 1").rows == [["1"]]
        }

        // MARK: Drivers

        @Test("psycopg and asyncpg: temp table, WITH HOLD cursor, advisory lock across transactions; max_pinned refuses a second pinned client until the first releases",
              arguments: ["psycopg", "asyncpg"])
        func drivers(_ driver: String) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_\(driver)")
            defer { db.drop() }
            let script = "\(clientsDirectory)/pin_drivers.py"
            let (direct, dr) = try DriverTests.runClient(["/usr/bin/python3", script, "127.0.0.1", "\(env.pgPort)",
                                                          env.pgPassword, db.name, driver, "direct"], timeout: 60)
            #expect(direct.count >= 8, "direct: only \(direct.count) checks\n\(dr.stderr.suffix(1500))")
            for c in direct where !c.ok { Issue.record("PostgreSQL directly: \(c.name) — \(c.detail)") }

            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=2", "pool.max_pinned=1",
                                                   "pool.acquire_timeout=5"])
            defer { proxy.stop() }
            let (checks, r) = try DriverTests.runClient(["/usr/bin/python3", script, "127.0.0.1", "\(proxy.port)",
                                                         env.pgPassword, db.name, driver, "pinned"], timeout: 60)
            #expect(checks.count >= 11, "through pgstash: only \(checks.count) checks\n\(r.stderr.suffix(1500))")
            for c in checks where !c.ok { Issue.record("through pgstash: \(c.name) — \(c.detail)\n\(logTail(proxy, lines: 15))") }
        }

        @Test("psql: a temp table, a WITH HOLD cursor and an advisory lock used over several transactions; the server is free again once each is released")
        func psqlSession() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_psql")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, Self.oneServer)
            defer { proxy.stop() }
            // `\!` runs a second psql in the middle of the session: through pgstash it gets
            // the pool's one server only once nothing pins it.
            func script(_ other: String) -> String {
                let probe = "\\! psql -X -A -t -q -d '\(other)' -c \"SELECT 'other ran'\" 2>&1 | grep -o 'other ran\\|saturated' | head -1"
                return """
                    CREATE TEMP TABLE psql_items (x int);
                    BEGIN; INSERT INTO psql_items VALUES (1); COMMIT;
                    INSERT INTO psql_items VALUES (2);
                    \\copy psql_items FROM program 'seq 3 5'
                    SELECT 'items ' || count(*) || ' ' || sum(x) FROM psql_items;
                    \(probe)
                    DROP TABLE psql_items;
                    \(probe)
                    BEGIN; DECLARE psql_cur CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 6) g; COMMIT;
                    FETCH 2 FROM psql_cur;
                    BEGIN; FETCH 2 FROM psql_cur; COMMIT;
                    \(probe)
                    CLOSE psql_cur;
                    \(probe)
                    SELECT pg_advisory_lock(616161);
                    BEGIN; SELECT 'locks ' || count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 616161; COMMIT;
                    \(probe)
                    SELECT pg_advisory_unlock_all();
                    \(probe)
                    """
            }
            func run(_ dsn: String) throws -> [String] {
                let r = try runCommand(["psql", "-X", "-A", "-t", "-q", "-d", dsn], stdin: script(dsn), timeout: 60)
                return r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
                    + (r.stderr.isEmpty ? [] : ["stderr: \(r.stderr)"])
            }
            let free = "other ran", busy = "saturated"
            let directOut = try run(env.directDSN(db: db.name))
            #expect(directOut == ["items 5 15", free, free, "1", "2", "3", "4", free, free, "locks 1", free, free],
                    "PostgreSQL directly: \(directOut)")
            let out = try run(proxy.dsn(db: db.name))
            #expect(out == ["items 5 15", busy, free, "1", "2", "3", "4", busy, free, "locks 1", busy, free],
                    "through pgstash (max_upstream 1; \(busy): the other psql waited for the pinned server): \(out)\n\(logTail(proxy, lines: 15))")
        }

        // MARK: Releases that PostgreSQL does by itself

        /// Each case leaves no session object behind in PostgreSQL (checked directly); through
        /// pgstash the server must then be free for another client.
        struct Release: CustomStringConvertible, Sendable {
            let name: String
            let sql: [String]
            var description: String { name }
        }

        static let releases = [
            Release(name: "temp table created in a transaction that rolls back",
                    sql: ["BEGIN", "CREATE TEMP TABLE rb_t (x int)", "ROLLBACK"]),
            Release(name: "temp table ON COMMIT DROP",
                    sql: ["BEGIN", "CREATE TEMP TABLE ocd_t (x int) ON COMMIT DROP", "INSERT INTO ocd_t VALUES (1)", "COMMIT"]),
            Release(name: "CREATE TEMP TABLE that fails",
                    sql: ["CREATE TEMP TABLE fail_t AS SELECT 1 / 0 AS x"]),
            Release(name: "WITH HOLD cursor declared in a transaction that rolls back",
                    sql: ["BEGIN", "DECLARE rb_cur CURSOR WITH HOLD FOR SELECT 1", "ROLLBACK"]),
            Release(name: "two temp tables, both dropped (one schema-qualified)",
                    sql: ["CREATE TEMP TABLE two_a (x int)", "CREATE TEMP TABLE two_b (x int)", "DROP TABLE two_a",
                          "DROP TABLE pg_temp.two_b"]),
            Release(name: "DISCARD TEMP", sql: ["CREATE TEMP TABLE dt_t (x int)", "DISCARD TEMP"]),
            Release(name: "DISCARD ALL", sql: ["CREATE TEMP TABLE da_t (x int)", "DECLARE da_c CURSOR WITH HOLD FOR SELECT 1",
                                               "SELECT pg_advisory_lock(1)", "DISCARD ALL"]),
            Release(name: "CLOSE ALL", sql: ["DECLARE ca_1 CURSOR WITH HOLD FOR SELECT 1", "DECLARE ca_2 CURSOR WITH HOLD FOR SELECT 2",
                                             "CLOSE ALL"]),
        ]

        static let leftovers = """
            SELECT (SELECT count(*) FROM pg_class WHERE relpersistence = 't')
                 + (SELECT count(*) FROM pg_cursors)
                 + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())
            """

        @Test("what PostgreSQL leaves no object of does not keep the client pinned", arguments: releases)
        func released(_ rel: Release) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_rel")
            defer { db.drop() }
            let directClient = try WireClient(port: env.pgPort)
            guard case .ready = directClient.login(user: "postgres", password: env.pgPassword, database: db.name) else {
                throw TestFailure("direct login failed")
            }
            for s in rel.sql { _ = directClient.query(s) }
            #expect(directClient.query(Self.leftovers).firstValue == "0", "PostgreSQL directly keeps something after \(rel.sql)")

            let proxy = try startPgStash(env, db, Self.oneServer)
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            for s in rel.sql { _ = a.query(s) }
            #expect(a.query(Self.leftovers).firstValue == "0", "through pgstash something is left after \(rel.sql)")
            #expect(try Self.serverFree(proxy, db),
                    "\(rel.name): the client still holds the pool's only server after \(rel.sql.joined(separator: "; "))\n\(logTail(proxy, lines: 8))")
        }

        @Test("a client still holding one of two temp tables stays pinned")
        func partialDropKeepsPin() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_partial")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, Self.oneServer)
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            #expect(a.query("CREATE TEMP TABLE p_a (x int); CREATE TEMP TABLE p_b (x int)").errors.isEmpty)
            #expect(a.query("DROP TABLE p_a").errors.isEmpty)
            let b = try WireClient.connected(proxy, db)
            let r = b.query("SELECT 1")
            #expect(r.errors.first?.sqlState == "53300", "another client got the server of a client still holding p_b: \(r)")
            #expect(a.query("INSERT INTO p_b VALUES (1); SELECT count(*) FROM p_b").firstValue == "1")
            #expect(a.query("DROP TABLE p_b").errors.isEmpty)
            // (b was disconnected by its acquire timeout.)
            #expect(try Self.serverFree(proxy, db), "not released after the last temp table was dropped")
        }

        // MARK: max_pinned

        @Test("max_pinned reached: 0A000 with a hint, the statement did not run, the client stays usable; a freed pin is counted back")
        func maxPinned() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_max")
            defer { db.drop() }
            // max_upstream 4: max_pinned defaults to 2.
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=4", "pool.acquire_timeout=5"])
            defer { proxy.stop() }
            var a: WireClient? = try WireClient.connected(proxy, db)
            let b = try WireClient.connected(proxy, db), c = try WireClient.connected(proxy, db)
            #expect(a!.query("CREATE TEMP TABLE m_a (x int)").errors.isEmpty)
            #expect(b.query("SELECT pg_advisory_lock(99)").errors.isEmpty)
            for (label, sql) in [("temp table", "CREATE TEMP TABLE m_c (x int)"),
                                 ("WITH HOLD cursor", "DECLARE m_cur CURSOR WITH HOLD FOR SELECT 1"),
                                 ("advisory lock", "SELECT pg_advisory_lock(100)")] {
                let r = c.query(sql)
                let e = r.errors.first
                #expect(e?.sqlState == "0A000", "\(label) past max_pinned: \(r.errorSummary)")
                #expect(e?["H"]?.isEmpty == false, "\(label): no hint: \(e.map { "\($0)" } ?? "no error")")
                #expect(c.query("SELECT 1").rows == [["1"]], "the refused client is not usable")
            }
            #expect(c.query("SELECT to_regclass('m_c') IS NULL, (SELECT count(*) FROM pg_cursors), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 100)").rows
                    == [["t", "0", "0"]], "a refused statement ran")
            // In a transaction block: the block fails as if the statement had.
            #expect(c.query("BEGIN").errors.isEmpty)
            #expect(c.query("CREATE TEMP TABLE m_tx (x int)").errors.first?.sqlState == "0A000")
            #expect(c.query("SELECT 1").errors.first?.sqlState == "25P02", "the block is not aborted after the refusal")
            let commit = c.query("COMMIT")
            #expect(commit.contains { if case .commandComplete("ROLLBACK") = $0 { return true }; return false }, "COMMIT: \(commit)")

            // A pinned client that leaves gives its pin back; one that releases, too.
            a = nil
            #expect(waitUntil(seconds: 5) { c.query("CREATE TEMP TABLE m_c (x int)").errors.isEmpty },
                    "the pin of a client that left was not counted back\n\(logTail(proxy, lines: 10))")
            let d = try WireClient.connected(proxy, db)
            #expect(d.query("CREATE TEMP TABLE m_d (x int)").errors.first?.sqlState == "0A000")
            #expect(b.query("SELECT pg_advisory_unlock_all()").errors.isEmpty)
            #expect(d.query("CREATE TEMP TABLE m_d (x int)").errors.isEmpty, "the pin released by pg_advisory_unlock_all was not counted back")
        }

        @Test("pin_on_session_state = false: a temp table is refused with 0A000 and the hint names pin_on_session_state")
        func pinningOff() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_off")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, Self.oneServer + ["pool.pin_on_session_state=false"])
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            let e = a.query("CREATE TEMP TABLE off_t (x int)").errors.first
            #expect(e?.sqlState == "0A000")
            #expect(e?["H"]?.contains("pin_on_session_state") == true, "hint: \(e?["H"] ?? "none")")
            #expect(try Self.serverFree(proxy, db), "a refused client holds the server")
        }

        /// PostgreSQL: `BEGIN; <failing statement>` sent as one query leaves the block aborted
        /// (status E): what follows fails with 25P02 and COMMIT answers ROLLBACK. A refusal
        /// must do the same, or the client's next statements run and commit outside its block.
        @Test("a refusal in the same query string as BEGIN leaves the block aborted, as a failing statement does in PostgreSQL",
              arguments: ["pool.max_pinned=1", "pool.pin_on_session_state=false"])
        func refusalAfterBeginInOneQuery(_ setting: String) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_begin")
            defer { db.drop() }
            try db.connect().query("CREATE TABLE ledger (x int)")
            let direct = try WireClient(port: env.pgPort)
            guard case .ready = direct.login(user: "postgres", password: env.pgPassword, database: db.name) else { throw TestFailure("login") }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=2", "pool.acquire_timeout=5", setting])
            defer { proxy.stop() }
            let holder = try WireClient.connected(proxy, db)
            if setting.hasPrefix("pool.max_pinned") { #expect(holder.query("CREATE TEMP TABLE held (x int)").errors.isEmpty) }
            let c = try WireClient.connected(proxy, db)
            for (target, client, failing) in [("PostgreSQL directly", direct, "SELECT 1/0"),
                                              ("through pgstash (\(setting))", c, "CREATE TEMP TABLE refused_t (x int)")] {
                let first = client.query("BEGIN; \(failing)")
                #expect(first.errors.count == 1, "\(target): \(first.errorSummary)")
                #expect(first.last == .readyForQuery(.failed), "\(target): status after `BEGIN; \(failing)`: \(first.last.map { "\($0)" } ?? "none")")
                let insert = client.query("INSERT INTO ledger VALUES (1)")
                #expect(insert.errors.first?.sqlState == "25P02", "\(target): the INSERT after the failed BEGIN ran: \(insert)")
                _ = client.query("COMMIT")
            }
            #expect(try db.connect().value("SELECT count(*) FROM ledger") == "0", "an INSERT meant for an aborted block was committed")
        }

        /// asyncpg's fetchval sends Execute with a row limit of 1: PostgreSQL answers with
        /// PortalSuspended, not CommandComplete. pg_advisory_unlock_all ran all the same.
        @Test("pg_advisory_unlock_all through Execute with maxRows 1 (asyncpg fetchval) releases the pin")
        func unlockAllWithRowLimit() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "pin_suspended")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, Self.oneServer)
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            #expect(a.query("SELECT pg_advisory_lock(7)").errors.isEmpty)
            var out = ByteBuffer()
            FrontendMessage.parse(name: "", query: "SELECT pg_advisory_unlock_all()", parameterTypes: []).encode(into: &out)
            FrontendMessage.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])).encode(into: &out)
            FrontendMessage.execute(portal: "", maxRows: 1).encode(into: &out)
            FrontendMessage.sync.encode(into: &out)
            a.send(Array(out.readableView))
            let r = a.readUntilReady()
            #expect(r.errors.isEmpty, "\(r.errorSummary)")
            #expect(a.query(Self.leftovers).firstValue == "0", "the lock is still held")
            #expect(try Self.serverFree(proxy, db), "still pinned after pg_advisory_unlock_all (answered \(r))\n\(logTail(proxy, lines: 6))")
        }
    }
}
