import Foundation
import Glibc
import Testing

/// The local copy of hot entries (docs/caching.md, "Local copies") against real PostgreSQL and
/// Redis: it serves a solo instance with no Redis round trip and nothing stale, and a second
/// instance joining makes it stop before any write through the newcomer is acknowledged.
@Suite(.serialized) struct LocalCacheTests {
    func start(_ env: TestEnvironment, _ db: TestDatabase, redisPort: Int) throws -> PgStashProcess {
        try startCachingPgStash(env, db, redisPort: redisPort, extra: ["admin.users=[\"postgres\"]"])
    }

    /// `SHOW CACHE STATUS` as item → value.
    func status(_ p: PgStashProcess) throws -> [String: String] {
        let r = try psql(p.dsn(db: "pgstash"), "SHOW CACHE STATUS", args: ["-X", "-A", "-t", "-q"])
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            if f.count >= 2, out[f[0]] == nil { out[f[0]] = f[1] }
        }
        return out
    }

    /// Waits until the instance says it is solo (its first heartbeats came back alone).
    func waitSolo(_ p: PgStashProcess, timeout: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try status(p)["local_solo"] == "1" { return }
            usleep(100_000)
        }
        throw TestFailure("the instance never became solo:\n\(logTail(p))")
    }

    /// One instance alone on its Redis: the stale checker's reads are answered locally, and
    /// none is stale.
    @Test func soloInstanceServesLocallyAndNothingStale() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "localstale")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE stale_hot (id int PRIMARY KEY, v bigint NOT NULL)")
        let redis = try TestRedis(env)
        let a = try start(env, db, redisPort: redis.port)
        defer { a.stop() }
        try waitSolo(a)
        let r = try runPython("stale_check.py", [env.directDSN(db: db.name), "16", "4000", scriptDSN(a, db)], timeout: 300)
        let s = try StaleCheck(r)
        #expect(s.operations == 4000 && s.reads > 1000 && s.writes > 500, "\(s.raw) \(r.stderr.suffix(1000))")
        #expect(s.stale == 0 && s.lost == 0 && s.failed == 0, "\(s.raw)\n\(logTail(a))")
        let st = try status(a)
        #expect((Int(st["local_hits"] ?? "") ?? 0) > 0, "the local copy answered nothing: \(st)")
    }

    /// Instance A serves a row from its local copy; B starts on the same Redis and at once
    /// writes the row again and again: after each acknowledgement from B, a read through A
    /// sees the new value (B holds its first acknowledgements until A's solo lease lapsed).
    @Test func aJoiningInstanceNeverLetsALocalCopyGoStale() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "localjoin")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL)")
        _ = try db.connect().query("INSERT INTO hot VALUES (1, 0)")
        let redis = try TestRedis(env)
        let a = try start(env, db, redisPort: redis.port)
        defer { a.stop() }
        try waitSolo(a)
        let ca = try WireClient.connected(a, db)
        let read = "SELECT v FROM hot WHERE id = 1"
        for _ in 0..<5 { _ = ca.query(read); usleep(50_000) }
        let before = Int(try status(a)["local_hits"] ?? "") ?? 0
        #expect(ca.query(read).rows == [["0"]])
        let hitsNow = Int(try status(a)["local_hits"] ?? "") ?? 0
        let st = try status(a)
        try #require(hitsNow > before, "A does not serve the row from its local copy: \(st)\n\(logTail(a))")

        let started = Date()
        let b = try startPgStash(env, db, cacheOverrides(redisPort: redis.port))
        defer { b.stop() }
        let cb = try WireClient.connected(b, db)
        var writes = 0, stale: [String] = [], firstAck: Double?
        while Date().timeIntervalSince(started) < 4 {
            let w = cb.query("UPDATE hot SET v = v + 1 WHERE id = 1 RETURNING v").rows
            guard let written = w.first?.first.flatMap({ $0 }).flatMap({ Int($0) }) else {
                Issue.record("the write through B failed: \(w)\n\(logTail(b))"); break
            }
            if firstAck == nil { firstAck = Date().timeIntervalSince(started) }
            writes += 1
            let r = ca.query(read).rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? -1
            if r < written { stale.append("read \(r) after \(written) was acknowledged") }
        }
        print("local copy join: \(writes) writes through B, first acknowledged \(firstAck ?? -1) s after B started")
        #expect(writes > 3 && stale.isEmpty, "\(stale.prefix(5))\nA:\n\(logTail(a))\nB:\n\(logTail(b))")
        let after = try status(a)
        #expect(after["local_solo"] == "0", "\(after)")
    }

    /// psql and pgbench (`-M simple`, `extended`, `prepared`) through a caching pgstash: psql's
    /// output of a hit equals PostgreSQL's own; each pgbench transaction writes a row, reads it
    /// back (a read the cache answers) and fails with a division by zero if the read is older
    /// than the write it was acknowledged — none may fail.
    @Test func psqlAndPgbenchReadTheirWrites() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "localpgbench")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL, note text)")
        _ = try db.connect().query("INSERT INTO hot SELECT g, 0, 'row ' || g FROM generate_series(1, 20) g")
        let redis = try TestRedis(env)
        let p = try start(env, db, redisPort: redis.port)
        defer { p.stop() }
        try waitSolo(p)

        let read = "SELECT id, v, note FROM hot WHERE id <= 5 ORDER BY id"
        let direct = try psql(env.directDSN(db: db.name), read, args: ["-X"])
        let miss = try psql(scriptDSN(p, db), read, args: ["-X"])
        usleep(100_000)
        let hit = try psql(scriptDSN(p, db), read, args: ["-X"])
        #expect(miss.status == 0 && miss.stdout == direct.stdout && hit.stdout == direct.stdout,
                "psql through the cache differs:\n\(direct.stdout)\n\(miss.stdout)\n\(hit.stdout)")
        let w = try psql(scriptDSN(p, db), "UPDATE hot SET note = 'changed' WHERE id = 2; " + read, args: ["-X", "-A", "-t"])
        #expect(w.stdout.contains("2|0|changed"), "\(w.stdout)")

        let script = "\(env.tmp)/localpgbench-\(db.name).sql"
        try """
            \\set id random(1, 20)
            UPDATE hot SET v = v + 1 WHERE id = :id RETURNING v AS w \\gset
            SELECT v FROM hot WHERE id = :id \\gset
            SELECT 1 / (CASE WHEN :v >= :w THEN 1 ELSE 0 END) AS fresh;
            SELECT note FROM hot WHERE id = :id;

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let before = Int(try status(p)["local_hits"] ?? "") ?? 0
        for mode in ["simple", "extended", "prepared"] {
            let r = try runCommand(["pgbench", "-n", "-M", mode, "-c", "4", "-t", "150", "-f", script, scriptDSN(p, db)],
                                   env: ["PGPASSWORD": env.pgPassword], timeout: 180)
            #expect(r.status == 0 && r.stdout.contains("number of failed transactions: 0"),
                    "pgbench -M \(mode):\n\(r.stdout.suffix(1500))\n\(r.stderr.suffix(1500))\n\(logTail(p))")
        }
        let hits = (Int(try status(p)["local_hits"] ?? "") ?? 0) - before
        #expect(hits > 300, "the reads were not answered from the cache (\(hits) local hits)")
        let total = try db.connect().query("SELECT sum(v) FROM hot")
        #expect(total.first?.first == "1800", "\(total)")
    }
}
