import CachePolicy
import ProxyConfig
import ProxyCore
import SQLAnalysis
import Testing

/// The console's cache commands without sockets: parsing, `SHOW CACHE` and `SHOW CACHE
/// STATUS` rows, `EXPLAIN CACHE`'s explanation and `INVALIDATE`'s write set.
@Suite("AdminCache")
struct AdminCacheTests {
    static let orders: Oid = 2001, items: Oid = 2002, events: Oid = 2003, events2025: Oid = 2004, summary: Oid = 2005

    static let catalog = CatalogSnapshot(relations: [
        RelationInfo(oid: orders, schema: "public", name: "orders", columns: ["id", "status", "note"]),
        RelationInfo(oid: items, schema: "app", name: "Order Items", columns: ["id"]),
        RelationInfo(oid: events, schema: "public", name: "events", kind: .partitionedTable, columns: ["id"]),
        RelationInfo(oid: events2025, schema: "public", name: "events_2025", columns: ["id"], parents: [events]),
        RelationInfo(oid: summary, schema: "public", name: "summary", kind: .view, columns: ["n"], viewBases: [orders]),
    ])

    static func config(cacheOn: Bool = true) -> ProxyConfiguration {
        var cfg = ProxyConfiguration()
        cfg.databases["app"] = DatabaseConfig(dbname: "appdb")
        cfg.databases["zeta"] = DatabaseConfig(dbname: "zeta")
        var orders = CacheRule(name: "orders", tier: "L1")
        orders.tables = ["orders"]
        var never = CacheRule(name: "never-events", tier: "L1")
        never.tables = ["events"]
        never.cache = false
        cfg.cache.rules = [orders, never]
        cfg.cache.enabled = cacheOn
        return cfg
    }

    static func snapshot(cacheOn: Bool = true) -> AdminSnapshot {
        var s = AdminSnapshot(version: "pgstash 0.1.0", wallClock: 0, config: config(cacheOn: cacheOn))
        if cacheOn {
            var f = CacheFigures()
            f.rules["orders"] = CacheFigures.Rule(hits: 2, misses: 1, fills: 1, fillsRefused: 0, bytesStored: 120)
            f.rules["gone"] = CacheFigures.Rule(hits: 1, misses: 0)
            f.redisUp = true
            f.joined = true
            f.publications = 4
            f.epochBumps = 1
            f.bypasses = [("shape", 0), ("not_cacheable", 3)]
            f.bypassReasons = ["calls volatile function random()": 2, "FOR UPDATE": 1]
            f.fillRefusals = ["the result is 9 bytes, more than max": 1]
            f.catalogsLoaded = ["app"]
            s.cache = f
        }
        return s
    }

    // MARK: Parsing

    @Test(arguments: [
        ("SHOW CACHE", AdminCommand.show(.cache)), ("show cache status;", .show(.cacheStatus)),
        ("show cache advice", .show(.cacheAdvice)),
        ("EXPLAIN CACHE SELECT 1", .explainCache(database: nil, sql: "SELECT 1")),
        ("explain cache  select * from t where a = 'x;y'  ;", .explainCache(database: nil, sql: "select * from t where a = 'x;y'")),
        ("EXPLAIN CACHE ON app SELECT  1", .explainCache(database: "app", sql: "SELECT  1")),
        ("EXPLAIN CACHE on \"My Db\" SELECT 1", .explainCache(database: "My Db", sql: "SELECT 1")),
        ("INVALIDATE orders", .invalidate(.table(TableName(name: "orders")), database: nil)),
        ("INVALIDATE Public.Orders ON app", .invalidate(.table(TableName(schema: "public", name: "orders")), database: "app")),
        ("invalidate app.\"Order Items\"", .invalidate(.table(TableName(schema: "app", name: "Order Items")), database: nil)),
        ("INVALIDATE all", .invalidate(.all, database: nil)), ("INVALIDATE ALL ON zeta", .invalidate(.all, database: "zeta")),
    ])
    func parses(text: String, command: AdminCommand) {
        #expect(AdminCommand.parse(text) == .success(command))
    }

    @Test(arguments: ["EXPLAIN CACHE", "EXPLAIN CACHE ON app", "INVALIDATE", "INVALIDATE a.b.c", "INVALIDATE \"open", "INVALIDATE ON app"])
    func refusesMalformedCacheCommands(text: String) {
        guard case .failure(let e) = AdminCommand.parse(text) else { Issue.record("parsed \(text)"); return }
        #expect(e.sqlState == "42601")
    }

    @Test func aSimpleQueryKeepsSemicolonsInsideStringLiterals() {
        #expect(AdminCommand.statements(in: "EXPLAIN CACHE SELECT ';' ; SHOW CACHE") == ["EXPLAIN CACHE SELECT ';' ", " SHOW CACHE"])
    }

    @Test func helpAndTheUnknownCommandErrorListTheCacheCommands() {
        guard case .failure(let e) = AdminCommand.parse("FLUSH CACHE") else { Issue.record("parsed"); return }
        for c in ["SHOW CACHE", "SHOW CACHE STATUS", "EXPLAIN CACHE", "INVALIDATE"] { #expect(e.hint?.contains(c) == true, "\(c)") }
        guard case .outcome(.rows(let help)) = AdminConsole.run(.show(.help), Self.snapshot()) else { Issue.record("no help"); return }
        #expect(help.rows.contains { $0.first == "INVALIDATE table | ALL [ON db]" })
    }

    // MARK: SHOW CACHE, SHOW CACHE STATUS

    @Test func showCacheHasOneRowPerRuleThenTotals() throws {
        guard case .outcome(.rows(let set)) = AdminConsole.run(.show(.cache), Self.snapshot()) else { Issue.record("no rows"); return }
        #expect(set.columns.map(\.name) == ["rule", "tier", "ttl", "hits", "misses", "hit_ratio", "fills", "fills_refused", "bytes_stored"])
        #expect(set.columns.map(\.type) == [.text, .text] + Array(repeating: .numeric, count: 7))
        #expect(set.rows == [
            ["orders", "L1", "300", "2", "1", "0.667", "1", "0", "120"],
            ["never-events", nil, nil, "0", "0", nil, "0", "0", "0"],
            ["gone", nil, nil, "1", "0", "1.000", "0", "0", "0"],
            ["total", nil, nil, "3", "1", "0.750", "1", "0", "120"],
        ])
    }

    @Test func showCacheStatusGivesStateBypassesAndReasonsMostFrequentFirst() throws {
        guard case .outcome(.rows(let set)) = AdminConsole.run(.show(.cacheStatus), Self.snapshot()) else { Issue.record("no rows"); return }
        #expect(set.columns.map(\.name) == ["item", "value", "detail"])
        let rows = set.rows
        #expect(rows.contains { $0 == ["redis_up", "1", nil] })
        #expect(rows.contains { $0 == ["publications", "4", nil] } && rows.contains { $0 == ["epoch_bumps", "1", nil] })
        #expect(rows.contains { $0 == ["bypasses", "3", "not_cacheable"] })
        let reasons = rows.filter { $0.first == "bypass_reason" }
        #expect(reasons == [["bypass_reason", "2", "calls volatile function random()"], ["bypass_reason", "1", "FOR UPDATE"]])
        #expect(rows.contains { $0 == ["fill_refusal", "1", "the result is 9 bytes, more than max"] })
    }

    @Test func cacheCommandsSayWhenTheCacheIsOff() {
        for command in [AdminCommand.show(.cache), .show(.cacheStatus), .explainCache(database: nil, sql: "SELECT 1"),
                        .invalidate(.all, database: nil)] {
            guard case .outcome(.error(let e)) = AdminConsole.run(command, Self.snapshot(cacheOn: false)) else {
                Issue.record("\(command) ran with the cache off"); continue
            }
            #expect(e.sqlState == "55000" && e.hint?.contains("[cache]") == true)
        }
    }

    @Test func cacheCommandsResolveTheirDatabase() {
        let s = Self.snapshot()
        #expect(AdminConsole.run(.explainCache(database: nil, sql: "SELECT 1"), s) == .perform(.explainCache(database: "app", sql: "SELECT 1")))
        #expect(AdminConsole.run(.invalidate(.table(TableName(name: "t")), database: nil), s)
                == .perform(.invalidate(.table(TableName(name: "t")), database: "app")))
        #expect(AdminConsole.run(.invalidate(.all, database: nil), s) == .perform(.invalidate(.all, database: nil)))
        guard case .outcome(.error(let e)) = AdminConsole.run(.invalidate(.all, database: "nosuch"), s) else { Issue.record("ran"); return }
        #expect(e.sqlState == "3D000")
        #expect(AdminConsole.columns(of: .explainCache(database: nil, sql: "SELECT 1"))?.map(\.name) == ["item", "value"])
        #expect(AdminConsole.columns(of: .invalidate(.all, database: nil)) == nil)
    }

    // MARK: EXPLAIN CACHE

    static func explain(_ sql: String, role: String = "web") -> [String: [String]] {
        let session = SessionContext(database: "appdb@h:5432", role: role)
        let set = AdminCache.explain(sql: sql, analysis: SQLAnalyzer.analyze(sql), database: "app",
                                     policy: CachePolicy(config: config().cache), session: session, catalog: catalog)
        var out: [String: [String]] = [:]
        for row in set.rows { out[row[0]!, default: []].append(row[1]!) }
        return out
    }

    @Test func explainsACachedReadWithItsKeyPartsAndTags() {
        let e = Self.explain("SELECT status FROM orders WHERE id = 5")
        #expect(e["decision"] == ["cached"] && e["rule"] == ["orders"] && e["tier"] == ["L1"] && e["ttl"] == ["300 s"])
        #expect(e["key: role"] == ["web"] && e["key: statement"] == ["SELECT status FROM orders WHERE id = 5"])
        #expect(e["key: database"] == ["app (appdb@h:5432)"])
        #expect(e["key: setting search_path"] != nil && e["key: protocol"] != nil)
        #expect(e["depends on"] == ["epoch", "public.orders (rows)", "public.orders.id", "public.orders.status"])
        #expect(e["invalidates"] == nil)
    }

    @Test func explainsWhyAReadIsNotCached() {
        #expect(Self.explain("SELECT random() FROM orders")["reason"]?.first?.contains("random") == true)
        #expect(Self.explain("SELECT id FROM orders FOR UPDATE")["reason"]?.first?.contains("FOR UPDATE") == true)
        #expect(Self.explain("SELECT id FROM events")["reason"] == ["cache rule \"never-events\" excludes it"])
        #expect(Self.explain("SELECT id FROM nosuch")["reason"]?.first?.contains("not in the catalog snapshot") == true)
        #expect(Self.explain("SELECT id FROM events")["decision"] == ["not cached"])
    }

    @Test func explainsWhatAWriteInvalidates() {
        let e = Self.explain("UPDATE orders SET note = 'x' WHERE id = 5")
        #expect(e["decision"] == ["not cached"])
        #expect(e["invalidates"] == ["public.orders (any column)", "public.orders.note"])
        #expect(Self.explain("TRUNCATE orders")["invalidates"] == ["public.orders (rows)"])
        #expect(Self.explain("DROP TABLE orders")["invalidates"]?.first?.hasPrefix("every entry of the database (epoch)") == true)
    }

    // MARK: INVALIDATE

    @Test func invalidatingATableBumpsItsRowsAndAllTagsAndItsFamily() throws {
        let w = try AdminCache.invalidation(TableName(name: "orders"), catalog: Self.catalog, role: "web").get()
        #expect(w.sortedTags == [.rows(Self.orders), .allColumns(Self.orders)] && !w.bumpsEpoch)
        let quoted = try AdminCache.invalidation(TableName(schema: "app", name: "Order Items"), catalog: Self.catalog, role: "web").get()
        #expect(quoted.sortedTags == [.rows(Self.items), .allColumns(Self.items)])
        let partition = try AdminCache.invalidation(TableName(name: "events_2025"), catalog: Self.catalog, role: "web").get()
        #expect(partition.tags == [.rows(Self.events), .allColumns(Self.events), .rows(Self.events2025), .allColumns(Self.events2025)])
        let view = try AdminCache.invalidation(TableName(name: "summary"), catalog: Self.catalog, role: "web").get()
        #expect(view.tags.isSuperset(of: [.rows(Self.orders), .allColumns(Self.orders)]))
        // "$user" comes first in the default search_path: role app finds app."Order Items" unqualified.
        #expect((try? AdminCache.invalidation(TableName(name: "Order Items"), catalog: Self.catalog, role: "app").get()) != nil)
    }

    @Test func invalidatingAnUnknownTableIs42P01() {
        guard case .failure(let e) = AdminCache.invalidation(TableName(name: "nosuch"), catalog: Self.catalog, role: "web") else {
            Issue.record("resolved"); return
        }
        #expect(e.sqlState == "42P01" && e.message.contains("nosuch"))
    }
}
