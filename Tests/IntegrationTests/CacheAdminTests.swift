import Foundation
import Glibc
import PostgresWire
import Testing

/// The admin console's cache commands against real PostgreSQL and Redis (docs/admin.md):
/// `SHOW CACHE` counts, `SHOW RULES`, `EXPLAIN CACHE` of a cached read, a bypass and a write,
/// and `INVALIDATE` of a table and of everything, seen by a second instance.
@Suite(.serialized) struct CacheAdminTests {
    /// A caching pgstash whose console `postgres` may use, with query digests on.
    func start(_ env: TestEnvironment, _ db: TestDatabase) throws -> PgStashProcess {
        try startCachingPgStash(env, db, redisPort: env.redisPort,
                                extra: ["admin.users=[\"postgres\"]", "admin.query_digests=100"])
    }

    /// A console command through psql: its rows (`|`-separated fields), or its error text.
    func console(_ p: PgStashProcess, _ command: String) throws -> (rows: [[String]], error: String?) {
        let r = try psql(p.dsn(db: "pgstash"), command, args: ["-X", "-A", "-t", "-q", "-v", "VERBOSITY=verbose"])
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        return (rows, r.status == 0 ? nil : r.stderr)
    }

    func table(_ db: TestDatabase) throws {
        let direct = try db.connect()
        _ = try direct.query("CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, note text)")
        _ = try direct.query("INSERT INTO orders SELECT g, 'new', '' FROM generate_series(1, 10) g")
    }

    @Test func showCacheShowRulesAndExplainCache() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheadmin")
        defer { db.drop() }
        try table(db)
        let p = try start(env, db)
        defer { p.stop() }
        let c = try WireClient.connected(p, db)
        let sql = "SELECT status FROM orders WHERE id = 1"
        #expect(c.query(sql).rows == [["new"]])
        usleep(200_000)  // the fill lands in Redis after the answer was relayed
        #expect(c.query(sql).rows == [["new"]])

        let cache = try console(p, "SHOW CACHE")
        #expect(cache.error == nil, "\(cache.error ?? "")")
        let all = cache.rows.first { $0.first == "all" } ?? []
        // rule, tier, ttl, hits, misses, hit_ratio, fills, fills_refused, bytes_stored
        #expect(all.count == 9 && all[1] == "L1" && all[2] == "300" && all[3] == "1" && all[4] == "1" && all[5] == "0.500"
                && all[6] == "1" && (Int(all[8]) ?? 0) > 0, "\(cache.rows)\n\(logTail(p))")
        #expect(cache.rows.last?.first == "total" && cache.rows.last?[3] == "1", "\(cache.rows)")
        let status = try console(p, "SHOW CACHE STATUS").rows
        #expect(status.contains(["redis_up", "1", ""]) && status.contains { $0.first == "joined" && $0[1] == "1" }, "\(status)")

        let rules = try console(p, "SHOW RULES").rows
        #expect(rules == [["all", "L1", "300", "*", "", "", "no", "yes"]], "\(rules)")

        // The hit is a call of its digest, and counted as a hit.
        let queries = try console(p, "SHOW QUERIES").rows
        let digest = queries.first { $0.last == "SELECT status FROM orders WHERE id = $1" } ?? []
        #expect(digest.count == 13 && digest[2] == "2" && digest[10] == "1" && digest[11] == "1", "\(queries)")

        func explain(_ sql: String) throws -> [String: [String]] {
            var out: [String: [String]] = [:]
            let r = try console(p, "EXPLAIN CACHE \(sql)")
            #expect(r.error == nil, "\(sql): \(r.error ?? "")")
            for row in r.rows where row.count == 2 { out[row[0], default: []].append(row[1]) }
            return out
        }
        let read = try explain(sql)
        #expect(read["decision"] == ["cached"] && read["rule"] == ["all"] && read["ttl"] == ["300 s"], "\(read)")
        #expect(read["key: role"] == ["postgres"] && read["key: statement"] == [sql], "\(read)")
        #expect(read["depends on"] == ["epoch", "public.orders (rows)", "public.orders.id", "public.orders.status"], "\(read)")
        let volatile = try explain("SELECT random() FROM orders")
        #expect(volatile["decision"] == ["not cached"] && volatile["reason"]?.first?.contains("random") == true, "\(volatile)")
        let write = try explain("UPDATE orders SET note = 'x' WHERE id = 1")
        #expect(write["invalidates"] == ["public.orders (any column)", "public.orders.note"], "\(write)")
        let on = try explain("ON \(db.name) SELECT id FROM orders FOR UPDATE")
        #expect(on["reason"]?.first?.contains("FOR UPDATE") == true, "\(on)")
        let nosuch = try console(p, "EXPLAIN CACHE ON nosuch SELECT 1")
        #expect(nosuch.error?.contains("3D000") == true, "\(nosuch)")
    }

    /// An entry made stale behind pgstash's back (the row changed directly in PostgreSQL) is
    /// served until `INVALIDATE orders`; `INVALIDATE ALL` on one instance does the same for
    /// another instance's reads (a bump in the shared Redis).
    @Test func invalidateMakesStaleEntriesFreshOnEveryInstance() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheinval")
        defer { db.drop() }
        try table(db)
        let a = try start(env, db)
        defer { a.stop() }
        let b = try start(env, db)
        defer { b.stop() }
        let direct = try db.connect()
        let ca = try WireClient.connected(a, db)
        let cb = try WireClient.connected(b, db)

        let one = "SELECT status FROM orders WHERE id = 1"
        #expect(ca.query(one).rows == [["new"]])
        usleep(200_000)
        _ = try direct.query("UPDATE orders SET status = 'changed' WHERE id = 1")
        #expect(ca.query(one).rows == [["new"]], "the entry is stale by design (the write bypassed pgstash)")
        let inval = try console(a, "INVALIDATE orders")
        #expect(inval.error == nil, "\(inval.error ?? "")\n\(logTail(a))")
        #expect(ca.query(one).rows == [["changed"]], "INVALIDATE orders did not invalidate")
        #expect(a.log.contains("INVALIDATE"), "\(logTail(a))")

        let two = "SELECT status FROM orders WHERE id = 2"
        #expect(cb.query(two).rows == [["new"]])
        usleep(200_000)
        _ = try direct.query("UPDATE orders SET status = 'changed' WHERE id = 2")
        #expect(cb.query(two).rows == [["new"]], "the entry is stale by design on instance B")
        let all = try console(a, "INVALIDATE ALL")
        #expect(all.error == nil, "\(all.error ?? "")")
        #expect(cb.query(two).rows == [["changed"]], "INVALIDATE ALL on A did not reach B's reads")

        // The asynchronous answer through both protocols: INVALIDATE followed by another command
        // in one simple Query (the second runs once the first answered), and the extended protocol.
        let admin = try WireClient(port: a.port)
        guard case .ready = admin.login(user: "postgres", password: env.pgPassword, database: "pgstash") else {
            throw TestFailure("cannot log in to the console")
        }
        let simple = admin.query("INVALIDATE orders; SHOW CACHE STATUS")
        #expect(simple.contains(.commandComplete(tag: "INVALIDATE")) && simple.contains(.commandComplete(tag: "SHOW"))
                && simple.last == .readyForQuery(.idle), "\(simple)")
        let extended = admin.extendedQuery("INVALIDATE ALL ON \(db.name)")
        #expect(extended.contains(.commandComplete(tag: "INVALIDATE")) && extended.last == .readyForQuery(.idle), "\(extended)")
        let explained = admin.extendedQuery("EXPLAIN CACHE SELECT id FROM orders")
        #expect(explained.rows.contains { $0 == ["decision", "cached"] }, "\(explained)")

        let unknown = try console(a, "INVALIDATE nosuch")
        #expect(unknown.error?.contains("42P01") == true, "\(unknown)")
        let status = try console(a, "SHOW CACHE STATUS").rows
        #expect(status.contains { $0.first == "epoch_bumps" && (Int($0[1]) ?? 0) >= 1 }, "\(status)")
    }
}
