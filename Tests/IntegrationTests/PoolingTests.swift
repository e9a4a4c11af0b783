import Foundation
import Testing

/// Issue 3 "Done when": transaction pooling under load. Every pooling suite is nested in
/// this one so that they run one after another (they start pgstash processes and load a
/// shared 2-core machine; timing checks would be meaningless in parallel).
@Suite(.serialized) struct PoolingTests {
    /// Settings of the load tests: the cap under test, plus trust authentication and a long
    /// startup timeout so that 500 simultaneous SCRAM logins on a loaded machine (libpq's
    /// PBKDF2 costs tens of ms per login there) do not fail for reasons unrelated to pooling.
    static let loadOverrides = [
        "pool.mode=transaction", "pool.max_upstream=20", "auth.type=trust",
        "listen.startup_timeout=40", "pool.acquire_timeout=10",
    ]

    @Test("500 concurrent clients share at most 20 servers, all succeed")
    func fiveHundredClients() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "many")
        defer { db.drop() }
        try db.connect().query("""
            CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);
            INSERT INTO counters SELECT g, 0 FROM generate_series(0, 49) g
            """)
        let proxy = try startPgStash(env, db, Self.loadOverrides)
        defer { proxy.stop() }

        let watcher = try BackendWatcher(env, database: db.name)
        let r = try runPython("many_clients.py", [scriptDSN(proxy, db), "500", "3", "counters"], timeout: 58)
        let watched = watcher.stop()
        let summary = try lastJSON(r)

        #expect(summary["errors"] as? Int == 0, "client errors: \(summary["first_errors"] ?? "")\n\(logTail(proxy))")
        #expect(summary["connected"] as? Int == 500)
        #expect(summary["clients_ok"] as? Int == 500)
        #expect(summary["ok_transactions"] as? Int == 1500)
        #expect(summary["wrong_results"] as? Int == 0)
        #expect(watched.error == nil)
        #expect(watched.samples >= 10, "the watcher must have sampled pg_stat_activity during the run")
        #expect(watched.max >= 1, "pgstash's servers were never seen in pg_stat_activity")
        #expect(watched.max <= 20, "PostgreSQL saw \(watched.max) backends of pgstash at once (pool.max_upstream = 20)")
        let total = try db.connect().int("SELECT sum(n) FROM counters")
        #expect(total == 1500, "every committed UPDATE must be there exactly once")
    }

    @Test("pgbench -M prepared -c 200 -j 2 -T 20: no failed or aborted transactions")
    func pgbenchPrepared() throws {
        try runPgbench(mode: "prepared", seconds: 20)
    }

    /// The same load with unnamed statements, to tell a prepared-statement problem apart
    /// from a pooling one.
    @Test("pgbench -M extended -c 200 -j 2 -T 8: no failed or aborted transactions")
    func pgbenchExtended() throws {
        try runPgbench(mode: "extended", seconds: 8)
    }

    private func runPgbench(mode: String, seconds: Int) throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "pgbench")
        defer { db.drop() }
        let initRun = try runCommand(["pgbench", "-i", "-q", "-s", "1", env.directDSN(db: db.name)], timeout: 60)
        try #require(initRun.status == 0, "pgbench -i failed: \(initRun.stderr)")
        let proxy = try startPgStash(env, db, Self.loadOverrides)
        defer { proxy.stop() }

        let watcher = try BackendWatcher(env, database: db.name)
        let dsn = scriptDSN(proxy, db)
        let r = try runCommand(["bash", "-c",
                                "ulimit -n 4096; exec pgbench -n -M \(mode) -c 200 -j 2 -T \(seconds) \"$1\"", "pgbench", dsn],
                               timeout: Double(seconds) + 30)
        let watched = watcher.stop()
        let output = r.stdout + r.stderr
        let failed = output.split(separator: "\n").first { $0.hasPrefix("number of failed transactions:") }
        let processed = output.split(separator: "\n").first { $0.hasPrefix("number of transactions actually processed:") }
            .flatMap { Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces).split(separator: "/").first ?? "") }

        #expect(r.status == 0, "pgbench exited with \(r.status)")
        #expect(failed?.hasPrefix("number of failed transactions: 0 ") == true, "\(failed ?? "no failed-transactions line")")
        #expect(!output.contains("aborted"), "pgbench clients aborted:\n\(output.suffix(3000))\npgstash log:\n\(logTail(proxy, lines: 10))")
        #expect((processed ?? 0) > 200, "transactions processed: \(processed.map(String.init) ?? "none")")
        #expect(watched.error == nil)
        #expect(watched.max >= 1 && watched.max <= 20, "PostgreSQL saw \(watched.max) backends of pgstash at once (pool.max_upstream = 20)")
    }
}
