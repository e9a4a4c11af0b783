import Testing
@testable import SQLAnalysis

/// Statement kind, by the top-level parse node.
@Suite struct KindTests {
    static let cases: [SQLCase<StatementKind>] = [
        .init("SELECT 1", .select),
        .init("select * from orders", .select),
        .init("VALUES (1), (2)", .select),
        .init("TABLE orders", .select),
        .init("WITH x AS (SELECT 1) SELECT * FROM x", .select),
        .init("WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d", .select),
        .init("SELECT * INTO newtab FROM orders", .select),
        .init("INSERT INTO orders (id) VALUES (1)", .insert),
        .init("WITH s AS (SELECT 1) INSERT INTO t SELECT * FROM s", .insert),
        .init("UPDATE orders SET status = 'shipped' WHERE id = 1", .update),
        .init("DELETE FROM notifications WHERE \"isRead\"", .delete),
        .init("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", .merge),
        .init("COPY orders FROM STDIN", .copyFrom),
        .init("COPY orders (id, status) FROM '/tmp/x.csv' WITH (FORMAT csv)", .copyFrom),
        .init("COPY orders TO STDOUT", .copyTo),
        .init("COPY (SELECT * FROM orders) TO STDOUT WITH (FORMAT binary)", .copyTo),
        .init("CREATE TABLE t (id int)", .ddl),
        .init("CREATE TEMP TABLE t (id int)", .ddl),
        .init("CREATE TABLE t AS SELECT * FROM orders", .ddl),
        .init("CREATE MATERIALIZED VIEW mv AS SELECT * FROM orders", .ddl),
        .init("REFRESH MATERIALIZED VIEW mv", .ddl),
        .init("ALTER TABLE orders ADD COLUMN note text", .ddl),
        .init("DROP TABLE orders", .ddl),
        .init("DROP INDEX CONCURRENTLY IF EXISTS idx_orders_status", .ddl),
        .init("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders(status)", .ddl),
        .init("CREATE EXTENSION IF NOT EXISTS pg_trgm", .ddl),
        .init("CREATE OR REPLACE VIEW v AS SELECT 1", .ddl),
        .init("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", .ddl),
        .init("CREATE SCHEMA app", .ddl),
        .init("CREATE SEQUENCE s", .ddl),
        .init("ALTER TABLE orders RENAME TO orders_old", .ddl),
        .init("COMMENT ON TABLE orders IS 'x'", .ddl),
        .init("GRANT SELECT ON orders TO app", .ddl),
        .init("CREATE TRIGGER trg AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()", .ddl),
        .init("TRUNCATE orders", .truncate),
        .init("TRUNCATE TABLE orders, customers RESTART IDENTITY CASCADE", .truncate),
        .init("BEGIN", .begin),
        .init("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE", .begin),
        .init("START TRANSACTION READ ONLY", .begin),
        .init("COMMIT", .commit),
        .init("END", .commit),
        .init("COMMIT AND CHAIN", .commit),
        .init("ROLLBACK", .rollback),
        .init("ABORT", .rollback),
        .init("SAVEPOINT sp1", .savepoint),
        .init("RELEASE SAVEPOINT sp1", .release),
        .init("RELEASE sp1", .release),
        .init("ROLLBACK TO SAVEPOINT sp1", .rollbackToSavepoint),
        .init("PREPARE TRANSACTION 'tx1'", .prepareTransaction),
        .init("COMMIT PREPARED 'tx1'", .commitPrepared),
        .init("ROLLBACK PREPARED 'tx1'", .rollbackPrepared),
        .init("SET search_path TO app", .set),
        .init("SET LOCAL statement_timeout = 1000", .set),
        .init("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", .set),
        .init("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", .set),
        .init("SET TIME ZONE 'UTC'", .set),
        .init("RESET search_path", .reset),
        .init("RESET ALL", .reset),
        .init("SHOW search_path", .show),
        .init("SHOW ALL", .show),
        .init("LISTEN orders_changed", .listen),
        .init("NOTIFY orders_changed, 'id=1'", .notify),
        .init("UNLISTEN *", .unlisten),
        .init("PREPARE q (int) AS SELECT * FROM orders WHERE id = $1", .prepare),
        .init("EXECUTE q(1)", .execute),
        .init("DEALLOCATE q", .deallocate),
        .init("DEALLOCATE ALL", .deallocate),
        .init("CALL refresh_stats()", .call),
        .init("DO $$ BEGIN PERFORM 1; END $$", .do),
        .init("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", .lock),
        .init("VACUUM orders", .vacuum),
        .init("VACUUM (ANALYZE) orders", .vacuum),
        .init("ANALYZE orders", .analyze),
        .init("EXPLAIN SELECT * FROM orders", .explain),
        .init("EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders", .explain),
        .init("DECLARE c CURSOR FOR SELECT * FROM orders", .declareCursor),
        .init("FETCH 100 FROM c", .fetch),
        .init("MOVE NEXT IN c", .fetch),
        .init("CLOSE c", .closeCursor),
        .init("CLOSE ALL", .closeCursor),
        .init("DISCARD ALL", .discard),
        .init("DISCARD TEMP", .discard),
        .init("CHECKPOINT", .other),
        .init("LOAD 'auto_explain'", .other),
    ]

    @Test(arguments: cases)
    func kind(_ c: SQLCase<StatementKind>) throws {
        #expect(try analyzeOne(c.sql).kind == c.expected)
    }

    @Test func transactionControlKindsAreFlagged() {
        let control = StatementKind.allCases.filter(\.isTransactionControl)
        #expect(Set(control) == [.begin, .commit, .rollback, .savepoint, .release, .rollbackToSavepoint,
                                 .prepareTransaction, .commitPrepared, .rollbackPrepared])
    }

    @Test func otherKeepsTheParseNodeName() throws {
        #expect(try analyzeOne("CHECKPOINT").nodeType == "CheckPointStmt")
        #expect(try analyzeOne("CREATE TABLE t (id int)").nodeType == "CreateStmt")
    }
}
