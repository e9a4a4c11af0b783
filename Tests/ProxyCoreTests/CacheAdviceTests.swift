import CachePolicy
import ProxyConfig
import ProxyCore
import SQLAnalysis
import Testing

/// `SHOW CACHE ADVICE` and `EXPLAIN CACHE` of a script, without sockets: digests in, rows out;
/// a proposed rule block pasted into a configuration file makes the policy cache the statement.
@Suite("CacheAdvice")
struct CacheAdviceTests {
    static let orders: Oid = 3001, customers: Oid = 3002, items: Oid = 3003, notifications: Oid = 3004

    static let catalog = CatalogSnapshot(relations: [
        RelationInfo(oid: orders, schema: "public", name: "orders", columns: ["id", "status", "note", "customer_id"]),
        RelationInfo(oid: customers, schema: "public", name: "customers", columns: ["id", "name"]),
        RelationInfo(oid: items, schema: "public", name: "order_items", columns: ["id", "order_id", "status"]),
        RelationInfo(oid: notifications, schema: "public", name: "notifications", columns: ["id"]),
    ])

    static let file = """
        [auth]
        type = "trust"
        [databases.app]
        [cache]
        enabled = true
        [cache.tiers]
        L1 = "5m"
        L2 = "15m"
        L3 = "30m"
        L4 = "2m"
        [[cache.rules]]
        name = "orders"
        tier = "L1"
        tables = ["orders"]
        [[cache.rules]]
        name = "notifications"
        tables = ["notifications"]
        cache = false

        """

    static func policy(_ text: String = file) throws -> CachePolicy {
        CachePolicy(config: try ConfigLoader.parse(text: text, fileName: "proxy.conf", baseDirectory: "").cache)
    }

    static let session = SessionContext(database: "appdb@h:5432", role: "web")

    /// Digests as the proxy records them: under the normalized text, `calls` each of `micros`.
    static func digests(_ runs: [(sql: String, calls: Int, micros: Double, hits: Int, misses: Int)]) -> [QueryDigest] {
        var d = QueryDigests(capacity: 100)
        for r in runs {
            let text = SQLText.normalize(r.sql)
            let key = QueryDigestKey(database: "app", query: text)
            let fp = SQLAnalyzer.analyze(text).statements.map(\.fingerprint).joined(separator: ";")
            for _ in 0..<r.calls { d.record(key, fingerprint: fp, QueryExecution(seconds: r.micros / 1_000_000)) }
            for _ in 0..<r.hits { d.recordCacheResult(key, fingerprint: fp, hit: true) }
            for _ in 0..<r.misses { d.recordCacheResult(key, fingerprint: fp, hit: false) }
        }
        return d.sortedByTotalTime()
    }

    static let join = "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = 42"

    static func advice(_ refusals: FillRefusals = FillRefusals()) throws -> [[String?]] {
        let digests = Self.digests([
            (join, 10, 900, 0, 0),                                                     // 9,000 µs: no rule
            ("SELECT status, count(*) FROM order_items GROUP BY status", 2, 4000, 0, 0),  // 8,000: no rule, aggregate
            ("SELECT id FROM orders WHERE id = 7 FOR UPDATE", 5, 1400, 0, 0),          // 7,000: FOR UPDATE
            ("SELECT random() FROM orders", 3, 2000, 0, 0),                            // 6,000: volatile
            ("WITH gone AS (DELETE FROM orders WHERE id = 3 RETURNING id) SELECT id FROM gone", 1, 5000, 0, 0),
            ("SELECT id FROM notifications", 4, 1000, 0, 0),                           // 4,000: excluded
            ("SELECT id FROM orders WHERE status = 'big'", 3, 1000, 0, 3),             // 3,000: refused fills
            ("SELECT note FROM orders WHERE id = 1", 100, 1000, 90, 10),              // served from the cache
            ("UPDATE orders SET note = 'x' WHERE id = 1", 50, 1000, 0, 0),             // a write
        ])
        return CacheAdvice.rows(digests, policy: try policy(), databases: ["app": .init(session: session, catalog: catalog)],
                                refusals: refusals, analysis: SQLAnalyzer.analyze)
    }

    @Test func ranksUncachedReadsByTimeWithARuleOrAReason() throws {
        var refusals = FillRefusals()
        let big = SQLAnalyzer.analyze("SELECT id FROM orders WHERE status = 'x'").statements[0].fingerprint
        refusals.record(.init(prefix: Self.session.database, fingerprint: big),
                        reason: "the result is too large (at least 1048600 bytes > [cache] max_result_bytes 1048576)",
                        rule: "orders", at: 1_795_000_000)
        let rows = try Self.advice(refusals)
        #expect(rows.map { $0[6]! } == ["add rule", "add rule", "not cacheable", "not cacheable", "not cacheable", "excluded", "rule matches"])
        #expect(rows.map { $0[3]! } == ["9000", "8000", "7000", "6000", "5000", "4000", "3000"])
        #expect(rows[0][2] == "10" && rows[0][4] == "900" && rows[0][8] == "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = $1")
        let block = rows[0][7]!
        #expect(block.contains("[[cache.rules]]") && block.contains("tier = \"L1\"") && block.contains("rule \"orders\""))
        #expect(block.contains("tables = [\"public.customers\", \"public.orders\"]"))
        #expect(rows[1][7]!.contains("tier = \"L3\""), "an aggregate over tables no rule lists: the longest TTL")
        #expect(rows[2][7]!.contains("FOR UPDATE"))
        #expect(rows[3][7]!.contains("random"))
        #expect(rows[4][7]!.lowercased().contains("data-modifying"))
        #expect(rows[5][7] == "cache rule \"notifications\" excludes it")
        #expect(rows[6][7]!.contains("last fill refused: the result is too large (at least 1048600 bytes") && rows[6][7]!.contains("2026-"))
    }

    @Test func aProposedBlockPastedIntoTheFileMakesTheStatementCached() throws {
        let analysis = SQLAnalyzer.analyze(Self.join)
        #expect(try Self.policy().decide(analysis, session: Self.session, catalog: Self.catalog).reason == "no cache rule covers it")
        let rows = try Self.advice()
        let block = try #require(rows.first { $0[8]?.hasPrefix("SELECT c.name") == true }?[7])
        let pasted = try Self.policy(Self.file + block + "\n")
        let decision = pasted.decide(analysis, session: Self.session, catalog: Self.catalog)
        #expect(decision.plan?.rule.hasPrefix("customers-") == true, "\(decision)")
        #expect(decision.plan?.tier == "L1")
        // Another literal is the same statement; another statement is not caught by the rule.
        let other = "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = 7"
        #expect(pasted.decide(SQLAnalyzer.analyze(other), session: Self.session, catalog: Self.catalog).plan != nil)
        #expect(pasted.decide(SQLAnalyzer.analyze("SELECT name FROM customers"), session: Self.session, catalog: Self.catalog)
            .reason == "no cache rule covers it")
        // The aggregate's block too.
        let aggregate = try #require(rows.first { $0[8]?.contains("GROUP BY") == true }?[7])
        #expect(try Self.policy(Self.file + aggregate + "\n").decide(
            SQLAnalyzer.analyze("SELECT status, count(*) FROM order_items GROUP BY status"), session: Self.session,
            catalog: Self.catalog).plan?.tier == "L3")
    }

    @Test func aCatalogNotLoadedYetIsSaid() throws {
        let digests = Self.digests([(Self.join, 1, 10, 0, 0)])
        let rows = CacheAdvice.rows(digests, policy: try Self.policy(), databases: ["app": .init(session: Self.session, catalog: nil)],
                                    refusals: FillRefusals(), analysis: SQLAnalyzer.analyze)
        #expect(rows.count == 1 && rows[0][7]!.contains("not loaded yet"))
    }

    // MARK: EXPLAIN CACHE of a script

    static func script(_ sql: String) throws -> [String: [String]] {
        let pieces = AdminCommand.statements(in: sql)
        let set = AdminCache.explainScript(pieces.map { ($0, SQLAnalyzer.analyze($0)) }, database: "app", policy: try policy(),
                                           session: session, catalog: catalog)
        var out: [String: [String]] = [:]
        for row in set.rows { out[row[0]!, default: []].append(row[1]!) }
        return out
    }

    @Test func aReadAfterAWriteInTheSameTransactionIsNotCachedAndSaysWhy() throws {
        let e = try Self.script("BEGIN; UPDATE orders SET note = 'x' WHERE id = 1; SELECT status FROM orders WHERE id = 1")
        #expect(e["decision"] == ["not cached"])
        let reason = try #require(e["reason"]?.first)
        #expect(reason.hasPrefix("written in this transaction") && reason.contains("statement 2") && reason.contains("public.orders"))
        #expect(e["outside a transaction block"] == ["cached by rule \"orders\" (tier L1, TTL 300 s)"])
        #expect(e["statement 1"]?.first?.contains("opens a transaction block") == true)
        #expect(e["statement 2"]?.first?.contains("public.orders.note") == true)
    }

    @Test func otherScriptsExplainTheLastStatementInItsState() throws {
        // A block that wrote another table: still PostgreSQL's, not "written".
        let other = try Self.script("BEGIN; DELETE FROM customers WHERE id = 1; SELECT status FROM orders WHERE id = 1")
        #expect(other["reason"]?.first?.hasPrefix("inside a transaction block") == true)
        // The block ended: cached again (the write committed, its publication invalidated what it changed).
        let after = try Self.script("BEGIN; UPDATE orders SET note = 'x'; COMMIT; SELECT status FROM orders WHERE id = 1")
        #expect(after["decision"] == ["cached"] && after["rule"] == ["orders"])
        // Autocommit writes do not hold anything.
        let auto = try Self.script("UPDATE orders SET note = 'x'; SELECT status FROM orders WHERE id = 1")
        #expect(auto["decision"] == ["cached"] && auto["statement 1"]?.first?.contains("autocommit") == true)
    }

    @Test func explainCacheTakesTheRestOfTheQueryStringAsItsScript() {
        #expect(AdminCommand.commands(in: "SHOW CACHE; EXPLAIN CACHE BEGIN; UPDATE t SET a = ';'; SELECT 1")
            == ["SHOW CACHE", " EXPLAIN CACHE BEGIN; UPDATE t SET a = ';'; SELECT 1"])
        #expect(AdminCommand.commands(in: "SHOW POOLS; SHOW STATS") == ["SHOW POOLS", " SHOW STATS"])
    }

    // MARK: FillRefusals

    @Test func refusalsAreBoundedAndKeepTheLastReason() {
        var r = FillRefusals(capacity: 2)
        r.record(.init(prefix: "p", fingerprint: "a"), reason: "one", rule: "x", at: 0)
        r.record(.init(prefix: "p", fingerprint: "b"), reason: "two", rule: "x", at: 0)
        r.record(.init(prefix: "p", fingerprint: "a"), reason: "three", rule: "x", at: 60)
        r.record(.init(prefix: "p", fingerprint: "c"), reason: "four", rule: "x", at: 0)
        #expect(r.count == 2 && r.last(.init(prefix: "p", fingerprint: "b")) == nil)
        let a = r.last(.init(prefix: "p", fingerprint: "a"))
        #expect(a?.reason == "three" && a?.count == 2)
        #expect(FillRefusals.describe(a!) == "last fill refused: three at 1970-01-01 00:01:00 UTC (rule \"x\", 2 refusals)")
    }
}
