import Testing
@testable import SQLAnalysis

/// Tables read and written: the seed plan's schema, what Prisma sends for it, and the traps.
@Suite struct TableTests {
    static let seedPlan: [SQLCase<Tables>] = [
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders(status)", Tables(written: ["orders"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_store_identifier ON orders(\"storeIdentifier\")", Tables(written: ["orders"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_assigned_agent ON orders(\"assignedAgentId\")", Tables(written: ["orders"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_created_at ON orders(\"createdAt\")", Tables(written: ["orders"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_customers_telephone ON customers(telephone)", Tables(written: ["customers"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_order_items_order_id ON order_items(\"orderId\")", Tables(written: ["order_items"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_agent_activities_agent_order ON agent_activities(\"agentId\", \"orderId\")", Tables(written: ["agent_activities"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_notifications_user_read ON notifications(\"userId\", \"isRead\")", Tables(written: ["notifications"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_reference_gin ON orders USING gin(reference gin_trgm_ops)", Tables(written: ["orders"])),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_customers_name_gin ON customers USING gin(\"fullName\" gin_trgm_ops)", Tables(written: ["customers"])),
        .init("CREATE EXTENSION IF NOT EXISTS pg_trgm", Tables()),
        .init("DROP INDEX CONCURRENTLY IF EXISTS idx_orders_status", Tables()),
        .init("""
            CREATE OR REPLACE VIEW order_summary_view AS
            SELECT o.id, o.reference, o.status, o."shippingStatus", o.total, o."createdAt", o."storeIdentifier",
                o."assignedAgentId", c."fullName" as customer_name, c.telephone as customer_phone,
                c.wilaya as customer_wilaya, u.name as agent_name, u."agentCode" as agent_code,
                (SELECT COUNT(*) FROM order_items oi WHERE oi."orderId" = o.id) as items_count
            FROM orders o
            LEFT JOIN customers c ON o."customerId" = c.id
            LEFT JOIN users u ON o."assignedAgentId" = u.id
            """, Tables(read: ["order_items", "orders", "customers", "users"], written: ["order_summary_view"])),
        .init("SELECT * FROM order_summary_view WHERE status = $1 ORDER BY \"createdAt\" DESC LIMIT 50", Tables(read: ["order_summary_view"])),
        .init("SELECT status, COUNT(*) FROM orders WHERE \"storeIdentifier\" = $1 GROUP BY status", Tables(read: ["orders"])),
        .init("SELECT COUNT(*) FROM notifications WHERE \"userId\" = $1 AND \"isRead\" = false", Tables(read: ["notifications"])),
        .init("SELECT * FROM agent_activities WHERE \"agentId\" = $1 AND \"orderId\" = $2 ORDER BY \"createdAt\" DESC", Tables(read: ["agent_activities"])),
        .init("SELECT o.* FROM orders o JOIN customers c ON c.id = o.\"customerId\" WHERE c.\"fullName\" ILIKE '%ali%' OR c.telephone LIKE '0555%'", Tables(read: ["orders", "customers"])),
        .init("UPDATE orders SET \"assignedAgentId\" = $1, \"updatedAt\" = $2 WHERE id = $3", Tables(written: ["orders"])),
        .init("UPDATE notifications SET \"isRead\" = true WHERE \"userId\" = $1", Tables(written: ["notifications"])),
    ]

    static let prisma: [SQLCase<Tables>] = [
        .init("""
            SELECT "public"."orders"."id", "public"."orders"."reference", "public"."orders"."status", \
            "public"."orders"."storeIdentifier", "public"."orders"."assignedAgentId", "public"."orders"."createdAt" \
            FROM "public"."orders" WHERE ("public"."orders"."status" = $1 AND "public"."orders"."storeIdentifier" = $2) \
            ORDER BY "public"."orders"."createdAt" DESC LIMIT $3 OFFSET $4
            """, Tables(read: ["public.orders"])),
        .init("""
            SELECT COUNT(*) FROM (SELECT "public"."orders"."id" FROM "public"."orders" \
            WHERE "public"."orders"."status" = $1 OFFSET $2) AS "sub"
            """, Tables(read: ["public.orders"])),
        .init("""
            SELECT "public"."customers"."id", "public"."customers"."fullName", "public"."customers"."telephone" \
            FROM "public"."customers" WHERE "public"."customers"."fullName" ILIKE $1 LIMIT $2 OFFSET $3
            """, Tables(read: ["public.customers"])),
        .init("""
            SELECT "public"."order_items"."id", "public"."order_items"."orderId", "public"."order_items"."title" \
            FROM "public"."order_items" WHERE "public"."order_items"."orderId" IN ($1,$2,$3,$4,$5) OFFSET $6
            """, Tables(read: ["public.order_items"])),
        .init("""
            SELECT "t1"."id", "t2"."fullName" FROM "public"."orders" AS "t1" LEFT JOIN "public"."customers" AS "t2" \
            ON ("t1"."customerId") = ("t2"."id") WHERE "t1"."assignedAgentId" = $1
            """, Tables(read: ["public.orders", "public.customers"])),
        .init("""
            INSERT INTO "public"."orders" ("reference","status","storeIdentifier","customerId","createdAt","updatedAt") \
            VALUES ($1,$2,$3,$4,$5,$6) RETURNING "public"."orders"."id", "public"."orders"."reference"
            """, Tables(written: ["public.orders"])),
        .init("""
            UPDATE "public"."orders" SET "assignedAgentId" = $1, "updatedAt" = $2 \
            WHERE ("public"."orders"."id" = $3 AND 1=1) RETURNING "public"."orders"."id", "public"."orders"."status"
            """, Tables(written: ["public.orders"])),
        .init("DELETE FROM \"public\".\"notifications\" WHERE (\"public\".\"notifications\".\"userId\" = $1 AND \"public\".\"notifications\".\"isRead\" = $2)", Tables(written: ["public.notifications"])),
        .init("""
            INSERT INTO "public"."agent_activities" ("agentId","orderId","action","createdAt") VALUES ($1,$2,$3,$4) \
            RETURNING "public"."agent_activities"."id"
            """, Tables(written: ["public.agent_activities"])),
        .init("""
            SELECT "public"."users"."id", "public"."users"."name" FROM "public"."users" \
            WHERE "public"."users"."id" IN (SELECT "t0"."assignedAgentId" FROM "public"."orders" AS "t0" WHERE "t0"."assignedAgentId" IS NOT NULL)
            """, Tables(read: ["public.users", "public.orders"])),
        .init("""
            SELECT "public"."orders"."status", COUNT("public"."orders"."id") AS "_count$id" FROM "public"."orders" \
            WHERE 1=1 GROUP BY "public"."orders"."status"
            """, Tables(read: ["public.orders"])),
        .init("""
            SELECT "public"."notifications"."id" FROM "public"."notifications" WHERE ("public"."notifications"."userId" = $1 \
            AND "public"."notifications"."isRead" = $2) ORDER BY "public"."notifications"."createdAt" DESC LIMIT $3 OFFSET $4
            """, Tables(read: ["public.notifications"])),
        .init("""
            UPDATE "public"."notifications" SET "isRead" = $1 WHERE ("public"."notifications"."userId" = $2 \
            AND "public"."notifications"."isRead" = $3)
            """, Tables(written: ["public.notifications"])),
    ]

    static let traps: [SQLCase<Tables>] = [
        // Case folding and quoting.
        .init("SELECT * FROM Orders", Tables(read: ["orders"])),
        .init("SELECT * FROM \"Orders\"", Tables(read: ["Orders"])),
        .init("SELECT * FROM PUBLIC.ORDERS", Tables(read: ["public.orders"])),
        .init("SELECT * FROM \"MySchema\".\"agentActivities\"", Tables(read: ["MySchema.agentActivities"])),
        .init("SELECT count(*) FROM \"Weird \"\"Name\"\"\" w", Tables(read: ["Weird \"Name\""])),
        .init("SELECT * FROM \"commandes_été\"", Tables(read: ["commandes_été"])),
        // Joins, subqueries, set operations, LATERAL.
        .init("SELECT * FROM a JOIN b USING (id) LEFT JOIN c ON c.id = b.id CROSS JOIN d", Tables(read: ["a", "b", "c", "d"])),
        .init("SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.a_id = a.id) x", Tables(read: ["a", "b"])),
        .init("SELECT * FROM a UNION SELECT * FROM b UNION ALL SELECT * FROM c", Tables(read: ["a", "b", "c"])),
        .init("(SELECT * FROM a) INTERSECT (SELECT * FROM b) EXCEPT SELECT * FROM c", Tables(read: ["a", "b", "c"])),
        .init("SELECT * FROM o WHERE EXISTS (SELECT 1 FROM i WHERE i.o = o.id)", Tables(read: ["o", "i"])),
        .init("SELECT * FROM o WHERE id IN (SELECT o_id FROM i) AND x NOT IN (SELECT y FROM j)", Tables(read: ["o", "i", "j"])),
        .init("SELECT (SELECT max(x) FROM s) AS m FROM t", Tables(read: ["s", "t"])),
        .init("SELECT * FROM t WHERE x > ANY (SELECT y FROM u)", Tables(read: ["t", "u"])),
        .init("SELECT * FROM (SELECT * FROM (SELECT * FROM deep) a) b", Tables(read: ["deep"])),
        .init("SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1)", Tables(read: ["t"])),
        .init("SELECT * FROM ONLY parent", Tables(read: ["parent"])),
        .init("SELECT * FROM generate_series(1, 10) g JOIN t ON t.id = g", Tables(read: ["t"])),
        // CTE scoping and shadowing.
        .init("WITH r AS (SELECT * FROM s.src) SELECT * FROM r JOIN other ON true", Tables(read: ["s.src", "other"])),
        .init("WITH orders AS (SELECT * FROM orders WHERE id = 1) SELECT * FROM orders", Tables(read: ["orders"])),
        .init("WITH x AS (SELECT 1) SELECT * FROM public.x", Tables(read: ["public.x"])),
        .init("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x", Tables(read: ["x"])),
        .init("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM b", Tables(read: ["b"])),
        .init("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", Tables()),
        .init("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t", Tables()),
        .init("WITH x AS (SELECT * FROM y) SELECT * FROM x UNION SELECT * FROM x", Tables(read: ["y"])),
        .init("WITH x AS (SELECT 1) SELECT * FROM (WITH x AS (SELECT * FROM x) SELECT * FROM x) s", Tables()),
        .init("WITH x AS (SELECT * FROM t) SELECT * FROM a WHERE EXISTS (SELECT 1 FROM x WHERE x.id = a.id)", Tables(read: ["t", "a"])),
        .init("SELECT * FROM a WHERE id IN (WITH c AS (SELECT 1) SELECT * FROM c) AND EXISTS (SELECT 1 FROM c)", Tables(read: ["a", "c"])),
        // Writes.
        .init("WITH d AS (DELETE FROM q WHERE id = 1 RETURNING *) SELECT * FROM d", Tables(written: ["q"])),
        .init("WITH u AS (UPDATE a SET x = 1 RETURNING id) INSERT INTO log SELECT id FROM u", Tables(written: ["a", "log"])),
        .init("WITH s AS (SELECT * FROM staging) INSERT INTO s SELECT * FROM s", Tables(read: ["staging"], written: ["s"])),
        .init("INSERT INTO logs (msg) SELECT msg FROM staging", Tables(read: ["staging"], written: ["logs"])),
        .init("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", Tables(written: ["t"])),
        .init("UPDATE s.t SET x = x + 1 WHERE id = 2 RETURNING *", Tables(written: ["s.t"])),
        .init("UPDATE orders o SET status = 'x' FROM customers c WHERE c.id = o.\"customerId\"", Tables(read: ["customers"], written: ["orders"])),
        .init("UPDATE t SET x = (SELECT max(y) FROM u)", Tables(read: ["u"], written: ["t"])),
        .init("DELETE FROM t USING u WHERE t.id = u.id", Tables(read: ["u"], written: ["t"])),
        .init("DELETE FROM t WHERE id IN (SELECT id FROM t WHERE x = 1)", Tables(read: ["t"], written: ["t"])),
        .init("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", Tables(read: ["s"], written: ["t"])),
        .init("SELECT * INTO newtab FROM t", Tables(read: ["t"], written: ["newtab"])),
        .init("CREATE TABLE t2 AS SELECT * FROM t", Tables(read: ["t"], written: ["t2"])),
        .init("CREATE TABLE x (id int REFERENCES orders(id))", Tables(read: ["orders"], written: ["x"])),
        .init("DROP TABLE s.a, b", Tables(written: ["s.a", "b"])),
        .init("DROP VIEW IF EXISTS order_summary_view", Tables(written: ["order_summary_view"])),
        .init("TRUNCATE orders, public.customers", Tables(written: ["orders", "public.customers"])),
        .init("COPY orders FROM STDIN", Tables(written: ["orders"])),
        .init("COPY orders TO STDOUT", Tables(read: ["orders"])),
        .init("COPY (SELECT * FROM orders JOIN customers ON true) TO STDOUT", Tables(read: ["orders", "customers"])),
        .init("ALTER TABLE orders ADD COLUMN note text", Tables(written: ["orders"])),
        .init("LOCK TABLE orders", Tables(read: ["orders"])),
        .init("EXPLAIN ANALYZE UPDATE t SET a = 1", Tables(written: ["t"])),
        .init("EXPLAIN UPDATE t SET a = 1", Tables(read: ["t"])),
        .init("SELECT * FROM a FOR UPDATE OF a", Tables(read: ["a"])),
        .init("SELECT * FROM orders o FOR UPDATE OF o SKIP LOCKED", Tables(read: ["orders"])),
    ]

    @Test(arguments: seedPlan + prisma + traps)
    func tables(_ c: SQLCase<Tables>) throws {
        let s = try analyzeOne(c.sql)
        #expect(s.tablesRead.map(\.description) == c.expected.read)
        #expect(s.tablesWritten.map(\.description) == c.expected.written)
    }

    @Test func schemaIsKeptApartFromTheName() throws {
        let s = try analyzeOne("SELECT * FROM \"public\".\"orders\" JOIN customers ON true")
        #expect(s.tablesRead == [TableName(schema: "public", name: "orders"), TableName(name: "customers")])
    }
}
