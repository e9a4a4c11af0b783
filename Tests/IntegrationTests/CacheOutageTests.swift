import Foundation
import Glibc
import Testing

/// Writes while Redis is down for longer than this instance's membership lease: each write set
/// is owed at once (no round trip), and every write is still acknowledged normally.
@Suite(.serialized) struct CacheOutageTests {
    @Test func writesOwedWhileRedisIsDownAreAcknowledged() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheowed")
        defer { db.drop() }
        _ = try db.connect().query("CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL)")
        _ = try db.connect().query("INSERT INTO hot VALUES (1, 0)")
        let redis = try TestRedis(env)
        let p = try startCachingPgStash(env, db, redisPort: redis.port)
        defer { p.stop() }
        let c = try WireClient.connected(p, db)
        #expect(c.query("SELECT v FROM hot WHERE id = 1").rows == [["0"]])
        redis.kill9()
        usleep(2_600_000)   // past the 2 s lease: the first write set is owed after its retries
        var failures: [String] = []
        for i in 1...5 {
            let r = c.query("UPDATE hot SET v = v + 1 WHERE id = 1 RETURNING v")
            if r.rows != [["\(i)"]] { failures.append("write \(i): \(r.rows) \(r.errors.map { $0.message ?? "" })") }
            let e = c.extendedQuery("UPDATE hot SET v = v + 0 WHERE id = 1")
            if !e.errors.isEmpty { failures.append("extended write \(i): \(e.errors.map { $0.message ?? "" })") }
        }
        #expect(failures.isEmpty, "\(failures)\n\(eventTail(p))")
        #expect(c.query("SELECT v FROM hot WHERE id = 1").rows == [["5"]])
        #expect(p.log.contains("could not publish writes"), "\(eventTail(p))")
    }
}
