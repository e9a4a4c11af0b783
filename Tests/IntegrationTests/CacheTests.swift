import Foundation
import Glibc
import Testing

/// The result cache against real PostgreSQL and Redis, through two pgstash instances that
/// share one Redis (docs/caching.md): hits, invalidation by writes on either instance, keys,
/// transactions, drivers in their usual modes, and Redis failures — never a stale read after
/// an acknowledged write, never a failed client query because of the cache.
@Suite(.serialized) struct CacheTests {
    /// `clients/cache_checks.py`: every check passes.
    @Test func checksThroughTwoInstances() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cache")
        defer { db.drop() }
        let setup = try runPython("cache_checks.py", ["setup", env.directDSN(db: db.name)], timeout: 60)
        try #require(setup.status == 0, "setup failed: \(setup.stderr)")
        let a = try startCachingPgStash(env, db, redisPort: env.redisPort)
        let b = try startCachingPgStash(env, db, redisPort: env.redisPort)
        let r = try runPython("cache_checks.py", [scriptDSN(a, db), scriptDSN(b, db), env.directDSN(db: db.name)], timeout: 180)
        let obj = try lastJSON(r)
        let checks = obj["checks"] as? [[String: Any]] ?? []
        #expect(checks.count >= 25, "\(r.stdout.suffix(2000)) \(r.stderr.suffix(2000))")
        for c in checks where c["ok"] as? Bool != true {
            Issue.record("\(c["name"] ?? "?"): \(c["detail"] ?? "")\nA:\n\(logTail(a))\nB:\n\(logTail(b))")
        }
    }

    /// A hit answers with exactly the messages PostgreSQL sent for the miss (simple and
    /// extended protocol), only ReadyForQuery's status being the client's.
    @Test func hitsReplayTheSameMessages() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cachebytes")
        defer { db.drop() }
        let direct = try db.connect()
        _ = try direct.query("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, tags text[], seen timestamptz)")
        _ = try direct.query("INSERT INTO items SELECT g, 'item ' || g, g * 1.5, ARRAY['a', 'b'], '2026-11-28 10:00+00' FROM generate_series(1, 50) g")
        let p = try startCachingPgStash(env, db, redisPort: env.redisPort)
        let c = try WireClient.connected(p, db)
        let sql = "SELECT id, name, price, tags, seen FROM items WHERE id <= 20 ORDER BY id"
        let miss = c.query(sql)
        _ = try direct.query("UPDATE items SET name = 'changed behind pgstash' WHERE id = 1")
        let hit = c.query(sql)
        #expect(miss.rows.count == 20 && miss.rows.first?[1] == "item 1", "\(miss)")
        #expect(hit == miss, "the hit differs from the miss:\n\(hit)\n\(miss)")
        let extMiss = c.extendedQuery("SELECT id, name FROM items WHERE id BETWEEN 30 AND 33 ORDER BY id")
        _ = try direct.query("UPDATE items SET name = 'changed again' WHERE id = 30")
        let extHit = c.extendedQuery("SELECT id, name FROM items WHERE id BETWEEN 30 AND 33 ORDER BY id")
        #expect(extMiss.rows.count == 4 && extHit == extMiss, "\(extHit)\n\(extMiss)")
        // Inside a transaction the client's status shows, and reads go to PostgreSQL.
        _ = c.query("BEGIN")
        let inTx = c.query(sql)
        #expect(inTx.rows.first?[1] == "changed behind pgstash", "\(inTx)")
        _ = c.query("COMMIT")
    }

    /// 16 clients over two instances on hot rows: reads, autocommit and transactional writes.
    @Test func noStaleReadsUnderConcurrency() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cachestale")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE stale_hot (id int PRIMARY KEY, v bigint NOT NULL)")
        let a = try startCachingPgStash(env, db, redisPort: env.redisPort)
        let b = try startCachingPgStash(env, db, redisPort: env.redisPort)
        let r = try runPython("stale_check.py", [env.directDSN(db: db.name), "16", "4000", scriptDSN(a, db), scriptDSN(b, db)],
                              timeout: 300)
        let s = try StaleCheck(r)
        #expect(s.operations == 4000 && s.reads > 1000 && s.writes > 500, "\(s.raw) \(r.stderr.suffix(1000))")
        #expect(s.stale == 0 && s.lost == 0 && s.failed == 0, "\(s.raw)\n\(logTail(a))")
    }

    /// Redis killed and restarted under load: no client query fails, nothing stale is served
    /// (the restarted Redis has a new run id; the epoch is bumped before serving again).
    @Test func redisKilledAndRestartedUnderLoad() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheredis")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE stale_hot (id int PRIMARY KEY, v bigint NOT NULL)")
        let redis = try TestRedis(env)
        let a = try startCachingPgStash(env, db, redisPort: redis.port)
        let b = try startCachingPgStash(env, db, redisPort: redis.port)
        let load = try SpawnedProcess(["/usr/bin/python3", "\(clientsDirectory)/stale_check.py", env.directDSN(db: db.name),
                                       "8", "6000", scriptDSN(a, db), scriptDSN(b, db)])
        usleep(1_500_000)
        redis.kill9()
        usleep(1_000_000)
        try redis.start()
        guard let line = load.readLine(timeout: 240) else { throw TestFailure("stale_check.py printed nothing") }
        let s = try StaleCheck(ProcessResult(status: 0, stdout: line, stderr: ""))
        #expect(s.operations == 6000, "\(s.raw)")
        #expect(s.stale == 0 && s.lost == 0 && s.failed == 0, "\(s.raw)\nA:\n\(eventTail(a))\nB:\n\(eventTail(b))")
        #expect(a.log.contains("Redis connection lost") || b.log.contains("Redis connection lost"), "\(logTail(a))")
    }

    /// FLUSHALL and eviction under a tiny `maxmemory` (volatile-lru) never resurrect a stale
    /// entry: a lost version tag comes back above every value it had.
    @Test func flushAndEvictionServeNothingStale() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheevict")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE stale_hot (id int PRIMARY KEY, v bigint NOT NULL)")
        // Filler entries so that eviction happens while the checker runs.
        _ = try db.connect().query("CREATE TABLE filler AS SELECT g AS id, repeat('x', 2000) AS pad FROM generate_series(1, 3000) g")
        let redis = try TestRedis(env, extra: ["--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru"])
        let a = try startCachingPgStash(env, db, redisPort: redis.port)
        let b = try startCachingPgStash(env, db, redisPort: redis.port)
        let load = try SpawnedProcess(["/usr/bin/python3", "\(clientsDirectory)/stale_check.py", env.directDSN(db: db.name),
                                       "8", "5000", scriptDSN(a, db), scriptDSN(b, db)])
        let c = try WireClient.connected(a, db)
        for i in 0..<600 { _ = c.query("SELECT pad FROM filler WHERE id = \(i * 5 + 1)") }
        try redis.cli(["FLUSHALL"])
        for i in 0..<600 { _ = c.query("SELECT pad FROM filler WHERE id = \(i * 5 + 2)") }
        try redis.cli(["FLUSHALL"])
        guard let line = load.readLine(timeout: 240) else { throw TestFailure("stale_check.py printed nothing") }
        let s = try StaleCheck(ProcessResult(status: 0, stdout: line, stderr: ""))
        let info = try redis.cli(["INFO", "stats"])
        #expect(s.operations == 5000 && s.stale == 0 && s.lost == 0 && s.failed == 0, "\(s.raw)\n\(logTail(a))")
        #expect(info.contains("evicted_keys:") && !info.contains("evicted_keys:0\r"), "no key was evicted: \(info)")
    }
}

/// The last lines of an instance's log other than client connects and disconnects.
func eventTail(_ p: PgStashProcess, lines: Int = 40) -> String {
    p.log.split(separator: "\n").filter { !$0.contains("client connected") && !$0.contains("client disconnected") }
        .suffix(lines).joined(separator: "\n")
}
