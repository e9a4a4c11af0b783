import CachePolicy
import SQLAnalysis
import Testing

/// What a write bumps at commit (cache.md §1.6, §1.8, §2): rows or columns of its targets and
/// their families, foreign-key actions, and the epoch when the effects are unknown.
@Suite struct WriteSetTests {
    struct Bumps: Sendable {
        var tags: [String]
        var epoch: String? = nil
    }

    static let cases: [Case<Bumps>] = [
        .init("SELECT * FROM orders", Bumps(tags: [])),
        // An INSERT may update (ON CONFLICT DO UPDATE), so ON UPDATE actions count; it never deletes.
        .init("INSERT INTO orders (id) VALUES (1)", Bumps(tags: ["1001|rows", "1080|all", "1080|c:orderId"])),
        .init("DELETE FROM orders WHERE id = 1",
              Bumps(tags: ["1001|rows", "1004|rows", "1080|all", "1080|c:orderId"])),
        .init("INSERT INTO customers (id) VALUES (1)", Bumps(tags: ["1002|rows"])),
        .init("DELETE FROM public.customers WHERE id = 1", Bumps(tags: ["1002|rows"])),
        .init("TRUNCATE customers", Bumps(tags: ["1002|rows"])),
        .init("COPY customers FROM STDIN", Bumps(tags: ["1002|rows"])),
        .init("MERGE INTO customers c USING users u ON c.id = u.id WHEN MATCHED THEN DELETE", Bumps(tags: ["1002|rows"])),
        .init("UPDATE customers SET telephone = $1 WHERE id = $2", Bumps(tags: ["1002|all", "1002|c:telephone"])),
        .init("UPDATE orders SET \"assignedAgentId\" = $1, \"updatedAt\" = $2 WHERE id = $3",
              Bumps(tags: ["1001|all", "1001|c:assignedAgentId", "1001|c:updatedAt"])),
        // ON UPDATE CASCADE from orders.id to agent_activities."orderId"; order_items has no ON UPDATE action.
        .init("UPDATE orders SET id = id + 1000", Bumps(tags: ["1001|all", "1001|c:id", "1080|all", "1080|c:orderId"])),
        // A stored generated column follows the columns it is computed from.
        .init("UPDATE notifications SET body = $1", Bumps(tags: ["1005|all", "1005|c:body", "1005|c:wordCount"])),
        // Partitions: a write to one bumps the parent; through the parent, every partition.
        .init("INSERT INTO events_2024 VALUES (1)", Bumps(tags: ["1020|rows", "1021|rows"])),
        .init("DELETE FROM events", Bumps(tags: ["1020|rows", "1021|rows", "1022|rows"])),
        .init("UPDATE events_2025 SET kind = 'k'",
              Bumps(tags: ["1020|rows", "1020|all", "1020|c:kind", "1022|rows", "1022|all", "1022|c:kind"])),
        // A write through a view lands in its base relations.
        .init("DELETE FROM order_summary_view",
              Bumps(tags: ["1001|rows", "1002|rows", "1003|rows", "1004|rows", "1080|all", "1080|c:orderId"])),
        .init("WITH d AS (DELETE FROM customers RETURNING id) SELECT * FROM d", Bumps(tags: ["1002|rows"])),
        .init("WITH d AS (DELETE FROM customers RETURNING id) UPDATE users SET name = 'x' WHERE id IN (SELECT id FROM d)",
              Bumps(tags: ["1002|rows", "1003|rows"])),
        .init("UPDATE customers SET telephone = order_total(1)", Bumps(tags: ["1002|all", "1002|c:telephone"])),
        .init("CALL refresh_all()", Bumps(tags: [], epoch: "CALL runs a procedure, which may write any table")),
        .init("DO $$ BEGIN DELETE FROM orders; END $$", Bumps(tags: [], epoch: "DO runs a code block, which may write any table")),
        .init("ALTER TABLE orders ADD COLUMN x int", Bumps(tags: [], epoch: "DDL (AlterTableStmt) may change any relation and what names resolve to")),
        .init("SELECT archive_orders()", Bumps(tags: [], epoch: "calls archive_orders(), which may write any table")),
        .init("INSERT INTO audited VALUES (1)", Bumps(tags: ["1030|rows"], epoch: "public.audited has triggers or rules, which may write any table")),
        .init("INSERT INTO nowhere VALUES (1)", Bumps(tags: [], epoch: "nowhere is not in the catalog snapshot")),
        .init("COMMIT PREPARED 'tx1'", Bumps(tags: [], epoch: "COMMIT PREPARED commits writes pgstash did not see")),
        .init("BEGIN", Bumps(tags: [])),
        .init("SET search_path = app", Bumps(tags: [])),
        .init("UPDATE customers SET telephone = '1'; DELETE FROM users",
              Bumps(tags: ["1002|all", "1002|c:telephone", "1003|rows"])),
    ]

    @Test(arguments: cases)
    func bumps(_ c: Case<Bumps>) {
        let w = Fixture.writeSet(c.sql)
        #expect(w.sortedTags.map(\.description) == c.expected.tags)
        #expect(w.epochReason == c.expected.epoch)
        #expect(w.bumpsEpoch == (c.expected.epoch != nil))
    }

    @Test func resolvesTargetsThroughTheSearchPath() {
        #expect(Fixture.writeSet("DELETE FROM orders", session: Fixture.session(searchPath: "app")).sortedTags
            .map(\.description) == ["1010|rows"])
        let temp = Fixture.writeSet("DELETE FROM orders", session: Fixture.session(temp: true))
        #expect(temp.epochReason == "the session has temporary tables, so orders may name one of them")
    }

    @Test func transactionWriteSetIsTheUnion() {
        var w = Fixture.writeSet("UPDATE customers SET telephone = '1'")
        w.formUnion(Fixture.writeSet("CALL p()"))
        w.formUnion(Fixture.writeSet("DO $$ BEGIN END $$"))
        #expect(w.sortedTags.map(\.description) == ["1002|all", "1002|c:telephone"])
        #expect(w.epochReason == "CALL runs a procedure, which may write any table")
        #expect(!w.isEmpty && WriteSet().isEmpty)
    }

    /// A cycle of ON UPDATE CASCADE keys ends.
    @Test func cascadeCycleTerminates() {
        let catalog = CatalogSnapshot(relations: [
            RelationInfo(oid: 1, schema: "public", name: "a", columns: ["x"], referencedBy: [
                ForeignKeyAction(referencing: 2, referencingColumns: ["y"], referencedColumns: ["x"],
                                 onDelete: .deletesRows, onUpdate: .updatesColumns)]),
            RelationInfo(oid: 2, schema: "public", name: "b", columns: ["y"], referencedBy: [
                ForeignKeyAction(referencing: 1, referencingColumns: ["x"], referencedColumns: ["y"],
                                 onDelete: .deletesRows, onUpdate: .updatesColumns)]),
        ])
        let policy = Fixture.everything
        let update = policy.writeSet(SQLAnalyzer.analyze("UPDATE a SET x = 1"), session: Fixture.session(), catalog: catalog)
        #expect(update.sortedTags.map(\.description) == ["1|all", "1|c:x", "2|all", "2|c:y"])
        let delete = policy.writeSet(SQLAnalyzer.analyze("DELETE FROM a"), session: Fixture.session(), catalog: catalog)
        #expect(delete.sortedTags.map(\.description) == ["1|rows", "2|rows"])
    }
}
