import Foundation
import Glibc
import Testing

/// `SHOW CACHE ADVICE` and the session-dependent reasons of `EXPLAIN CACHE` against real
/// PostgreSQL and Redis: a psycopg workload (autocommit, extended protocol) through a caching
/// pgstash with query digests on, then psql on the console; a proposed rule block pasted into a
/// proxy.conf that `pgstash analyze --config` reads; and the console with metrics disabled.
@Suite(.serialized) struct CacheAdviceConsoleTests {
    /// A console command through psql: its rows (`|`-separated fields), or its error text.
    func console(_ p: PgStashProcess, _ command: String) throws -> (rows: [[String]], error: String?) {
        let r = try psql(p.dsn(db: "pgstash"), command, args: ["-X", "-A", "-t", "-q", "-v", "VERBOSITY=verbose"])
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        return (rows, r.status == 0 ? nil : r.stderr)
    }

    /// Runs `statements` (Python tuples of SQL and parameters) through psycopg 3 in autocommit.
    func psycopg(_ p: PgStashProcess, _ db: TestDatabase, _ statements: [String]) throws {
        let script = """
            import sys, psycopg
            with psycopg.connect(sys.argv[1], autocommit=True) as c:
                for sql, params, times in [\(statements.joined(separator: ", "))]:
                    for _ in range(times):
                        c.execute(sql, params).fetchall()
            print("ok")
            """
        let r = try runCommand(["/usr/bin/python3", "-c", script, p.dsn(db: db.name)], timeout: 60)
        guard r.stdout.contains("ok") else { throw TestFailure("psycopg workload failed: \(r.stderr)") }
    }

    @Test func adviceRulesReasonsAndRuntimeRefusals() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "cacheadvice")
        defer { db.drop() }
        let direct = try db.connect()
        _ = try direct.query("CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, note text)")
        _ = try direct.query("INSERT INTO orders SELECT g, 'new', repeat('x', 400) FROM generate_series(1, 10) g")
        _ = try direct.query("CREATE TABLE customers (id int PRIMARY KEY, name text)")
        _ = try direct.query("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g")
        let p = try startCachingPgStash(env, db, redisPort: env.redisPort, extra: [
            "admin.users=[\"postgres\"]", "admin.query_digests=100", "cache.max_result_bytes=\"2kB\"",
            #"cache.rules=[{ name = "orders", tier = "L1", tables = ["orders"] }]"#,
        ])
        defer { p.stop() }

        // Before any digest: nothing to advise, and not an error.
        #expect(try console(p, "SHOW CACHE ADVICE").error == nil)
        try psycopg(p, db, [
            #"("SELECT name FROM customers WHERE id = %s", (3,), 12)"#,     // no rule: a block to paste
            #"("SELECT id, note FROM orders", (), 3)"#,                      // ~4 kB > 2048: fills refused
            #"("SELECT id, random() FROM orders WHERE id = %s", (1,), 2)"#,  // volatile
            #"("SELECT status FROM orders WHERE id = %s", (1,), 1)"#,        // cached: a miss and its fill…
        ])
        usleep(300_000)
        try psycopg(p, db, [#"("SELECT status FROM orders WHERE id = %s", (1,), 2)"#])  // … then hits: not listed

        // database, fingerprint, calls, total_time, avg_time, cache_misses, advice, detail, query
        let advice = try console(p, "SHOW CACHE ADVICE")
        #expect(advice.error == nil, "\(advice.error ?? "")\n\(logTail(p))")
        // The detail of "add rule" spans lines: psql prints them as further rows; join back.
        let text = advice.rows.map { $0.joined(separator: "|") }.joined(separator: "\n")
        #expect(text.contains("|add rule|# ") && text.contains("[[cache.rules]]") && text.contains("tables = [\"public.customers\"]"), "\(text)")
        #expect(text.contains("|rule matches|rule \"orders\" caches it, but last fill refused: the result is too large (at least "), "\(text)")
        #expect(text.contains("|not cacheable|") && text.contains("random"), "\(text)")
        #expect(!text.contains("SELECT status FROM orders WHERE id = $1"), "a statement served from the cache is not advised: \(text)")
        let addRule = advice.rows.first { $0.count > 7 && $0[6] == "add rule" }
        #expect(addRule?[2] == "12", "\(advice.rows)")

        // EXPLAIN CACHE names the runtime refusal of the statement (any literal: its fingerprint).
        let explained = try console(p, "EXPLAIN CACHE SELECT id, note FROM orders")
        let fills = explained.rows.first { $0.first == "fills" }?[1] ?? ""
        #expect(fills.hasPrefix("last fill refused: the result is too large (at least ")
                && fills.contains("bytes > [cache] max_result_bytes 2048) at 20") && fills.contains("UTC (rule \"orders\""),
                "\(explained)")
        // … and, for a script, a table written earlier in the same transaction.
        let script = try console(p, "EXPLAIN CACHE BEGIN; UPDATE orders SET status = 'x' WHERE id = 1; SELECT status FROM orders WHERE id = 1")
        #expect(script.error == nil, "\(script.error ?? "")")
        let reason = script.rows.first { $0.first == "reason" }?[1] ?? ""
        #expect(reason.hasPrefix("written in this transaction: statement 2") && reason.contains("public.orders")
                && reason.contains("go to PostgreSQL"), "\(script.rows)")
        #expect(script.rows.contains(["decision", "not cached"]), "\(script.rows)")
        // Commands before EXPLAIN CACHE in the same query string still run on their own.
        let two = try console(p, "SHOW VERSION; EXPLAIN CACHE SELECT id FROM orders FOR UPDATE")
        #expect(two.rows.contains { $0.first == "reason" && $0[1].contains("FOR UPDATE") }, "\(two.rows)")
        let cte = try console(p, "EXPLAIN CACHE WITH gone AS (DELETE FROM orders WHERE id = 3 RETURNING id) SELECT id FROM gone")
        #expect(cte.rows.contains { $0.first == "reason" && $0[1].contains("data-modifying") }, "\(cte.rows)")
        let noRule = try console(p, "EXPLAIN CACHE SELECT name FROM customers")
        #expect(noRule.rows.contains(["reason", "no cache rule covers it"]), "\(noRule.rows)")

        // The block, pasted into a proxy.conf, makes `pgstash analyze --config` cache the statement.
        let start = try #require(text.range(of: "[[cache.rules]]"))
        // The block's lines up to its last, which psql ends with `|` and the query column.
        var lines: [String] = []
        for line in text[start.lowerBound...].split(separator: "\n") {
            if let bar = line.firstIndex(of: "|") { lines.append(String(line[..<bar])); break }
            lines.append(String(line))
        }
        let block = lines.joined(separator: "\n")
        let dir = "\(env.tmp)/advice-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = """
            [databases.\(db.name)]
            host = "127.0.0.1"
            port = \(env.pgPort)
            dbname = "\(db.name)"
            user = "postgres"
            password = "\(env.pgPassword)"
            [auth]
            type = "trust"
            [cache]
            enabled = true
            [[cache.rules]]
            name = "orders"
            tier = "L1"
            tables = ["orders"]
            \(block)

            """
        try conf.write(toFile: "\(dir)/proxy.conf", atomically: true, encoding: .utf8)
        let analyzed = try runCommand([env.binary, "analyze", "--config", "\(dir)/proxy.conf", "SELECT name FROM customers WHERE id = 9"])
        #expect(analyzed.stdout.contains("cached by rule \"customers-"), "\(conf)\n\(analyzed.stdout)\n\(analyzed.stderr)")
    }

    /// `[metrics] enabled = false` stops the instruments, not the console's counters: SHOW STATS
    /// and SHOW QUERIES (with its times, which share the request start with the metrics) go on.
    @Test func consoleCountsWithMetricsDisabled() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "nometrics")
        defer { db.drop() }
        let p = try startPgStash(env, db, ["metrics.enabled=false", "admin.users=[\"postgres\"]", "admin.query_digests=100"])
        defer { p.stop() }
        let c = try WireClient.connected(p, db)
        for i in 1...5 { #expect(c.query("SELECT \(i)").rows == [["\(i)"]]) }
        let stats = try console(p, "SHOW STATS")
        #expect(stats.error == nil, "\(stats.error ?? "")")
        let row = stats.rows.first { $0.first == db.name } ?? []
        // database, total_xact_count, total_query_count, total_received, total_sent, total_xact_time, total_query_time…
        #expect(row.count == 15 && (Int(row[1]) ?? 0) >= 5 && (Int(row[2]) ?? 0) >= 5 && (Int(row[3]) ?? 0) > 0
                && (Int(row[6]) ?? 0) > 0, "\(stats.rows)")
        let queries = try console(p, "SHOW QUERIES").rows
        let digest = queries.first { $0.last == "SELECT $1" } ?? []
        #expect(digest.count == 13 && digest[2] == "5" && (Int(digest[3]) ?? 0) > 0, "\(queries)")
    }
}
