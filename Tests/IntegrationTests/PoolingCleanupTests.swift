import Foundation
import Testing

extension PoolingTests {
    /// A client killed inside a transaction leaves nothing behind for the next client of
    /// that server: no lock, no open transaction (pool.max_upstream = 1, so the next client
    /// necessarily gets the server the killed one had, or its replacement).
    @Suite struct KilledClients {
        @Test("client SIGKILLed in a transaction leaves no lock and no open transaction",
              arguments: ["row", "table", "busy"])
        func killedInTransaction(mode: String) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "kill_\(mode)")
            defer { db.drop() }
            try db.connect().query("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)")
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1"])
            defer { proxy.stop() }
            let direct = try DirectConnection(env)

            let child = try SpawnedProcess(["/usr/bin/python3", "\(clientsDirectory)/lock_and_hang.py",
                                            scriptDSN(proxy, db), mode, "t"])
            let line = try #require(child.readLine(timeout: 20), "the client never reported its lock\n\(logTail(proxy))")
            let parts = line.split(separator: " ")
            try #require(parts.count == 3 && parts[0] == "LOCKED", "unexpected output: \(line)")
            let heldBy = String(parts[1])
            // The state the kill must clean up really exists upstream.
            let wanted = mode == "busy" ? "active" : "idle in transaction"
            if mode == "busy" { #expect(child.readLine(timeout: 10) == "SLEEPING") }
            let seen = waitUntil(seconds: 10) {
                (try? direct.value("SELECT state FROM pg_stat_activity WHERE pid = \(heldBy)")) == wanted
            }
            try #require(seen, "backend \(heldBy) never reached state '\(wanted)'")

            child.kill9()
            let killedAt = Date()
            let next = try WireClient.connected(proxy, db)
            let fresh = next.query("SELECT now() = statement_timestamp(), txid_current_if_assigned() IS NULL, pg_backend_pid()")
            #expect(fresh.errors.isEmpty, "\(fresh.errorSummary)")
            let row = fresh.rows.first ?? []
            #expect(row.count == 3 && row[0] == "t", "the next client runs inside an old transaction (now() is not its own)")
            #expect(row.count == 3 && row[1] == "t", "the next client's transaction already has an xid: the killed client's transaction")
            let lock = next.query("""
                BEGIN; SET LOCAL lock_timeout = '1s';
                SELECT id FROM t WHERE id = 1 FOR UPDATE;
                LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
                COMMIT
                """)
            #expect(lock.errors.isEmpty, "the killed client's lock is still held: \(lock.errorSummary)\n\(logTail(proxy))")
            #expect(lock.rows == [["1"]])
            let took = Date().timeIntervalSince(killedAt)
            #expect(took < 5, "the next client needed \(took) s after the kill")

            // Seen from PostgreSQL itself: no backend of this database is left in a
            // transaction, and none holds a lock (the next client has committed).
            let backends = "SELECT pid FROM pg_stat_activity WHERE datname = '\(db.name)'"
            let clean = waitUntil(seconds: 5) {
                (try? direct.int("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(db.name)' AND state <> 'idle'")) == 0
                    && (try? direct.int("SELECT count(*) FROM pg_locks WHERE pid IN (\(backends))")) == 0
            }
            let leftovers = (try? direct.query("""
                SELECT a.pid, a.state, l.locktype, l.mode FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid
                WHERE a.datname = '\(db.name)'
                """)) ?? []
            #expect(clean, "leftover backends/locks upstream: \(leftovers)")
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(50_000)
    }
}
