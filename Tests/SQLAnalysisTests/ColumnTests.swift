import Testing
@testable import SQLAnalysis

/// Columns referenced and assigned: the input of column-level invalidation (docs/caching.md).
@Suite struct ColumnTests {
    struct Columns: Sendable {
        var referenced: [String]
        var all = false
        var assigned: [String] = []
    }

    static let cases: [SQLCase<Columns>] = [
        .init("SELECT count(*) FROM orders", Columns(referenced: [])),
        .init("SELECT status, count(*) FROM orders WHERE \"storeIdentifier\" = $1 GROUP BY status",
              Columns(referenced: ["status", "storeIdentifier"])),
        .init("SELECT * FROM orders WHERE id = 1", Columns(referenced: ["id"], all: true)),
        .init("SELECT o.* FROM orders o JOIN customers c ON c.id = o.\"customerId\"",
              Columns(referenced: ["id", "customerId"], all: true)),
        .init("SELECT public.orders.total FROM public.orders", Columns(referenced: ["total"])),
        .init("SELECT o FROM orders o", Columns(referenced: ["o"], all: true)),
        .init("SELECT row_to_json(orders) FROM orders", Columns(referenced: ["orders"], all: true)),
        .init("SELECT (o).status FROM orders o", Columns(referenced: ["o"], all: true)),
        .init("SELECT status AS total FROM orders ORDER BY total", Columns(referenced: ["status", "total"])),
        .init("SELECT a.x FROM a JOIN b USING (id)", Columns(referenced: ["x", "id"])),
        .init("SELECT x FROM a NATURAL JOIN b", Columns(referenced: ["x"], all: true)),
        .init("SELECT (SELECT max(v) FROM w WHERE w.k = t.k) FROM t", Columns(referenced: ["v", "k"])),
        .init("TABLE orders", Columns(referenced: [], all: true)),
        .init("UPDATE orders SET \"assignedAgentId\" = $1, \"updatedAt\" = $2 WHERE id = $3",
              Columns(referenced: ["id"], assigned: ["assignedAgentId", "updatedAt"])),
        .init("UPDATE t SET a = 1, (b, c) = (2, 3) FROM u WHERE t.x = u.y",
              Columns(referenced: ["x", "y"], assigned: ["a", "b", "c"])),
        .init("UPDATE t SET a[1] = 0", Columns(referenced: [], assigned: ["a"])),
        .init("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = excluded.b",
              Columns(referenced: ["b"])),
    ]

    @Test(arguments: cases)
    func columns(_ c: SQLCase<Columns>) throws {
        let a = try analyzeOne(c.sql)
        #expect(a.columnsReferenced == c.expected.referenced)
        #expect(a.referencesAllColumns == c.expected.all)
        #expect(a.columnsAssigned == c.expected.assigned)
    }

    @Test func unknownFunctionsAreTheUserFunctions() throws {
        let a = try analyzeOne("SELECT now(), order_total(id) FROM orders")
        #expect(a.volatileFunctions == ["now", "order_total"])
        #expect(a.unknownFunctions == ["order_total"])
    }
}
