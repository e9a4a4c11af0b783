import CachePolicy
import ProxyConfig
import SQLAnalysis
import Testing

/// `[[cache.rules]]`: first match wins, `*`, patterns without regard to case, exclusions, tiers.
@Suite struct RuleTests {
    static let rules: [CacheRule] = [
        Fixture.rule("no-notifications", tables: ["notifications"], cache: false),
        Fixture.rule("search", tier: "L4", pattern: "ILIKE"),
        Fixture.rule("orders", tier: "L1", tables: ["orders", "order_items", "customers", "users"]),
        Fixture.rule("dashboard", tier: "L3", tables: ["order_summary_view"], shared: true),
        Fixture.rule("app-schema", tier: "L2", tables: ["app.orders"]),
        Fixture.rule("rest", tier: "L2", tables: ["*"]),
    ]
    static let policy = Fixture.policy(rules)

    /// (SQL, the rule that decides, or nil when none matches.)
    static let cases: [Case<String?>] = [
        .init("SELECT * FROM orders WHERE id = $1", "orders"),
        .init("SELECT * FROM public.orders WHERE id = $1", "orders"),
        .init("SELECT * FROM \"public\".\"orders\" o JOIN customers c ON c.id = o.\"customerId\"", "orders"),
        .init("SELECT * FROM orders o JOIN agent_activities a ON a.\"orderId\" = o.id", "rest"),
        .init("SELECT count(*) FROM notifications WHERE \"userId\" = $1", "no-notifications"),
        .init("SELECT * FROM notifications n JOIN orders o ON true", "rest"),
        .init("SELECT * FROM customers WHERE \"fullName\" ilike $1", "search"),
        .init("select * from customers where \"fullName\" ILike '%ali%'", "search"),
        .init("SELECT * FROM order_summary_view WHERE status = $1", "dashboard"),
        .init("SELECT * FROM app.orders", "app-schema"),
        .init("SELECT 1", nil),
    ]

    @Test(arguments: cases)
    func firstMatchWins(_ c: Case<String?>) throws {
        let s = try #require(SQLAnalyzer.analyze(c.sql).statements.first)
        var named: [RelationInfo] = []
        let path = Fixture.session().searchPath
        for t in s.tablesRead { named.append(try #require(path.resolve(t, in: Fixture.catalog))) }
        let rule = Self.policy.matcher.firstMatch(s, relations: named, searchPath: path, catalog: Fixture.catalog)
        #expect(rule?.name == c.expected)
    }

    @Test func tierGivesTheTTL() throws {
        let plan = try #require(Fixture.decide(Self.policy, "SELECT * FROM customers WHERE \"fullName\" ILIKE $1").plan)
        #expect(plan.rule == "search" && plan.tier == "L4" && plan.ttl == 120)
        let orders = try #require(Fixture.decide(Self.policy, "SELECT * FROM orders").plan)
        #expect(orders.tier == "L1" && orders.ttl == 300 && !orders.shared)
        #expect(Fixture.decide(Self.policy, "SELECT * FROM order_summary_view").plan?.shared == true)
    }

    @Test func exclusionAndNoMatchGiveReasons() {
        #expect(Fixture.decide(Self.policy, "SELECT * FROM notifications").reason
            == "cache rule \"no-notifications\" excludes it")
        #expect(Fixture.decide(Fixture.policy([Fixture.rule("o", tables: ["orders"])]), "SELECT * FROM customers").reason
            == "no cache rule covers it")
        #expect(Fixture.decide(Self.policy, "SELECT 1").reason == "no cache rule covers it")
    }

    @Test func fingerprintRule() throws {
        let fp = try #require(SQLAnalyzer.analyze("SELECT * FROM users WHERE id = 7").statements.first?.fingerprint)
        let policy = Fixture.policy([Fixture.rule("fp", fingerprint: fp)])
        #expect(Fixture.decide(policy, "SELECT * FROM users WHERE id = 12345").plan?.rule == "fp")
        #expect(Fixture.decide(policy, "SELECT id FROM users WHERE id = 7").plan == nil)
    }

    @Test func everyMatchFieldMustMatch() {
        let policy = Fixture.policy([Fixture.rule("both", tables: ["orders"], pattern: "status")])
        #expect(Fixture.decide(policy, "SELECT status FROM orders").plan?.rule == "both")
        #expect(Fixture.decide(policy, "SELECT id FROM orders").plan == nil)
    }

    @Test func bareRuleNameMeansWhatTheSessionResolves() {
        let policy = Fixture.policy([Fixture.rule("o", tables: ["orders"])])
        let app = Fixture.session(searchPath: "app, public")
        // For this session `orders` is app.orders, so public.orders is not what the rule names.
        #expect(Fixture.decide(policy, "SELECT * FROM public.orders", session: app).reason == "no cache rule covers it")
        #expect(Fixture.decide(policy, "SELECT * FROM orders", session: app).plan?.tags.first?.relation == Fixture.appOrders)
    }

    @Test func disabledCacheCachesNothing() {
        #expect(Fixture.decide(Fixture.policy(Self.rules, enabled: false), "SELECT * FROM orders").reason
            == "the cache is disabled ([cache] enabled = false)")
    }
}
