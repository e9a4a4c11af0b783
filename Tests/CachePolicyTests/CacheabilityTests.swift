import CachePolicy
import SQLAnalysis
import Testing

/// Reads that are never cached, whatever the rules say, and the reason given for each.
@Suite struct CacheabilityTests {
    /// (SQL, a fragment of the refusal.)
    static let refusals: [Case<String>] = [
        .init("SELECT now(), * FROM orders", "calls now(), whose result changes"),
        .init("SELECT * FROM orders WHERE id = 1 FOR UPDATE", "FOR UPDATE/FOR SHARE locks the rows"),
        .init("SELECT * FROM orders FOR SHARE SKIP LOCKED", "FOR UPDATE/FOR SHARE locks the rows"),
        .init("WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d", "a data-modifying WITH clause"),
        .init("SELECT * FROM pg_temp.scratch", "reads temporary table pg_temp.scratch"),
        .init("SELECT relname FROM pg_class", "reads system catalog pg_class"),
        .init("SELECT relname FROM pg_catalog.pg_class", "reads system catalog pg_catalog.pg_class"),
        .init("SELECT * FROM pg_temp_3.scratch", "reads temporary table pg_temp_3.scratch"),
        .init("SELECT * FROM remote", "reads foreign table public.remote, whose rows change outside PostgreSQL"),
        .init("SELECT * FROM secrets", "reads public.secrets, which has row-level security"),
        .init("SELECT * FROM clock_view", "reads view public.clock_view, which calls a volatile function"),
        .init("SELECT * FROM missing_table", "table missing_table is not in the catalog snapshot (search_path: pg_catalog, webuser, public)"),
        .init("SELECT * FROM orders; SELECT 1", "a query string with 2 statements is never cached"),
        .init("SELEC * FROM orders", "the SQL does not parse"),
        .init("UPDATE orders SET status = 'x'", "UPDATE writes to orders"),
        .init("SELECT order_total(id) FROM orders", "calls order_total(), which is not a built-in function"),
    ]

    @Test(arguments: refusals)
    func neverCached(_ c: Case<String>) throws {
        let reason = try #require(Fixture.decide(Fixture.everything, c.sql).reason)
        #expect(reason.contains(c.expected), "\(reason)")
    }

    @Test func temporaryTablesOfTheSessionMayShadowUnqualifiedNames() {
        let temp = Fixture.session(temp: true)
        #expect(Fixture.decide(Fixture.everything, "SELECT * FROM orders", session: temp).reason
            == "the session has temporary tables, one of which may be what orders names")
        #expect(Fixture.decide(Fixture.everything, "SELECT * FROM public.orders", session: temp).plan != nil)
    }

    @Test func viewOverARowSecurityTableIsRefused() throws {
        let catalog = CatalogSnapshot(relations: [
            RelationInfo(oid: 1, schema: "public", name: "s", columns: ["id"], hasRowSecurity: true),
            RelationInfo(oid: 2, schema: "public", name: "v", kind: .view, viewBases: [1]),
        ])
        let decision = Fixture.everything.decide(SQLAnalyzer.analyze("SELECT * FROM v"), session: Fixture.session(),
                                                 catalog: catalog)
        #expect(decision.reason == "through view public.v, reads public.s, which has row-level security: "
            + "the rows a role sees are not separated by the cache key")
    }

    @Test func resultsOverMaxResultBytesAreNotStored() {
        let policy = Fixture.policy([], maxResultBytes: 1000)
        #expect(policy.refusalToStore(byteCount: 1000) == nil)
        #expect(policy.refusalToStore(byteCount: 1001)
            == "the result is 1001 bytes, more than [cache] max_result_bytes (1000)")
    }
}

/// One relation per name, whatever the spelling, through the session's search_path.
@Suite struct ResolutionTests {
    static func tags(_ sql: String, _ session: SessionContext = Fixture.session()) -> [String] {
        Fixture.decide(Fixture.everything, sql, session: session).plan?.tags.map(\.description) ?? ["bypass"]
    }

    @Test(arguments: ["SELECT id FROM orders", "SELECT id FROM public.orders", "SELECT id FROM \"public\".\"orders\"",
                      "select ID from PUBLIC.ORDERS"])
    func spellingsOfPublicOrders(_ sql: String) {
        #expect(Self.tags(sql) == ["1001|rows", "1001|c:id"])
    }

    @Test func searchPathPicksTheFirstSchemaHoldingTheName() {
        #expect(Self.tags("SELECT id FROM orders", Fixture.session(searchPath: "app, public")) == ["1010|rows", "1010|c:id"])
        #expect(Self.tags("SELECT id FROM orders", Fixture.session(role: "app")) == ["1010|rows", "1010|c:id"])
        #expect(Self.tags("SELECT id FROM orders", Fixture.session(role: "app", searchPath: "public"))
            == ["1001|rows", "1001|c:id"])
        #expect(Self.tags("SELECT id FROM orders", Fixture.session(searchPath: "\"App\", public"))
            == ["1001|rows", "1001|c:id"])
    }

    @Test(arguments: [
        ("\"$user\", public", "alice", ["pg_catalog", "alice", "public"]),
        ("public, pg_catalog", "r", ["public", "pg_catalog"]),
        ("\"My Schema\",Public , pg_temp", "r", ["pg_catalog", "My Schema", "public"]),
        ("\"a\"\"b\"", "r", ["pg_catalog", "a\"b"]),
        ("", "r", ["pg_catalog"]),
    ])
    func searchPathParsing(_ value: String, _ role: String, _ schemas: [String]) {
        #expect(SearchPath(value, role: role).schemas == schemas)
    }
}
