import Foundation
import Testing

extension PoolingTests {
    /// `pool.mode = session`: a client keeps its server, so LISTEN/NOTIFY work; a server is
    /// reset (server_reset_query, DISCARD ALL by default) before another client gets it.
    @Suite struct SessionMode {
        @Test("session mode: LISTEN/NOTIFY between clients, and from outside pgstash")
        func listenNotify() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "session_listen")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=session", "pool.max_upstream=4"])
            defer { proxy.stop() }
            let listener = try WireClient.connected(proxy, db)
            let notifier = try WireClient.connected(proxy, db)

            let listen = listener.query("LISTEN pool_events")
            #expect(listen.errors.isEmpty, "\(listen.errorSummary)")
            let pid = listener.backendPID()
            #expect(notifier.query("NOTIFY pool_events, 'from a client'").errors.isEmpty)
            try DirectConnection(env, db: db.name).query("NOTIFY pool_events, 'from outside'")
            var received: [(channel: String, payload: String)] = []
            // Notifications are sent as soon as they are committed; collect them with the
            // next statements' answers.
            _ = waitUntil(seconds: 5) {
                received += listener.query("SELECT 1").notifications
                return received.count >= 2
            }
            #expect(received.map(\.channel) == ["pool_events", "pool_events"])
            #expect(Set(received.map(\.payload)) == ["from a client", "from outside"])
            #expect(listener.backendPID() == pid, "a session-mode client changed server")
            #expect(listener.query("SELECT count(*) FROM pg_listening_channels()").firstValue == "1")
        }

        @Test("session mode: the next client of a server finds none of the previous client's state")
        func serverResetBeforeReuse() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "session_reset")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=session", "pool.max_upstream=1"])
            defer { proxy.stop() }
            let direct = try DirectConnection(env)
            let key = Int.random(in: 100_000...999_999_999)
            let temp = "tmp_session_\(key)"
            let defaults = try db.connect().query("SELECT current_setting('search_path'), current_setting('statement_timeout')")[0]

            var first: WireClient? = try WireClient.connected(proxy, db)
            let setup = first!.query("""
                CREATE TEMP TABLE \(temp) (x int); INSERT INTO \(temp) VALUES (1);
                SET search_path = pg_catalog; SET statement_timeout = '123s';
                PREPARE session_stmt AS SELECT 1;
                LISTEN session_channel;
                SELECT pg_advisory_lock(\(key));
                BEGIN; DECLARE session_cursor CURSOR WITH HOLD FOR SELECT 1; COMMIT
                """)
            try #require(setup.errors.isEmpty, "\(setup.errorSummary)")
            let firstPID = try #require(first!.backendPID())
            #expect(try direct.int("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(key)") == 1)
            first = nil   // disconnect

            let second = try WireClient.connected(proxy, db)
            let secondPID = second.backendPID()
            #expect(secondPID == firstPID, "with max_upstream = 1 the server should be reused (reset), not replaced")
            let state = second.query("""
                SELECT (SELECT count(*) FROM pg_class WHERE relname = '\(temp)'),
                       current_setting('search_path'), current_setting('statement_timeout'),
                       (SELECT count(*) FROM pg_prepared_statements),
                       (SELECT count(*) FROM pg_listening_channels()),
                       (SELECT count(*) FROM pg_cursors),
                       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(key))
                """)
            #expect(state.errors.isEmpty, "\(state.errorSummary)")
            let row = state.rows.first ?? []
            #expect(row == ["0", defaults[0], defaults[1], "0", "0", "0", "0"],
                    "state left by the previous client (temp table, search_path, statement_timeout, prepared statements, listens, cursors, advisory locks): \(row)")
            #expect(second.query("EXECUTE session_stmt").errors.first?.sqlState == "26000")
        }
    }
}
