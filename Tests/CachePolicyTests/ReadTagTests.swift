import CachePolicy
import Testing

/// The tags a cached read depends on: rows always, then the columns it references, or every
/// column when it may read whole rows.
@Suite struct ReadTagTests {
    static let cases: [Case<[String]>] = [
        .init("SELECT count(*) FROM orders", ["1001|rows"]),
        .init("SELECT status, count(*) FROM orders WHERE \"storeIdentifier\" = $1 GROUP BY status",
              ["1001|rows", "1001|c:status", "1001|c:storeIdentifier"]),
        .init("SELECT * FROM orders WHERE id = $1", ["1001|rows", "1001|all"]),
        .init("SELECT o FROM orders o", ["1001|rows", "1001|all"]),
        .init("SELECT o.id, c.\"fullName\" FROM orders o JOIN customers c ON c.id = o.\"customerId\"",
              ["1001|rows", "1001|c:customerId", "1001|c:id", "1002|rows", "1002|c:fullName", "1002|c:id"]),
        .init("SELECT status AS s FROM orders ORDER BY s", ["1001|rows", "1001|c:status"]),
        .init("SELECT id FROM order_summary_view",
              ["1001|rows", "1001|all", "1002|rows", "1002|all", "1003|rows", "1003|all", "1004|rows", "1004|all"]),
        .init("SELECT kind FROM events", ["1020|rows", "1020|c:kind"]),
    ]

    @Test(arguments: cases)
    func tags(_ c: Case<[String]>) throws {
        let decision = Fixture.decide(Fixture.everything, c.sql)
        let plan = try #require(decision.plan, "bypassed: \(decision.reason ?? "")")
        #expect(plan.tags.map(\.description) == c.expected)
    }
}
