import Testing
@testable import SQLAnalysis

/// The `cacheable` verdict and the words of its reason.
@Suite struct CacheabilityTests {
    static let cacheable: [String] = [
        "SELECT 1",
        "SELECT * FROM orders WHERE id = $1",
        "SELECT * FROM orders WHERE status = 'pending' ORDER BY \"createdAt\" DESC LIMIT 50",
        "SELECT lower(name), upper(email), length(name), coalesce(x, 0), nullif(a, b) FROM users",
        "SELECT count(*), sum(total), avg(total), min(total), max(total) FROM orders",
        "SELECT date_trunc('day', \"createdAt\"), EXTRACT(YEAR FROM \"createdAt\") FROM orders",
        "SELECT to_char(\"createdAt\", 'YYYY-MM-DD'), \"createdAt\" AT TIME ZONE 'UTC' FROM orders",
        "SELECT json_build_object('id', id), jsonb_agg(x), array_agg(y) FROM orders GROUP BY id",
        "SELECT row_number() OVER (ORDER BY id), rank() OVER w FROM orders WINDOW w AS (ORDER BY id)",
        "SELECT * FROM customers WHERE \"fullName\" ILIKE '%ali%' OR similarity(\"fullName\", 'ali') > 0.3",
        "SELECT age('2024-01-01'::date, '2023-01-01'::date)",
        "SELECT * FROM t TABLESAMPLE BERNOULLI (5) REPEATABLE (42)",
        "WITH r AS (SELECT * FROM orders) SELECT * FROM r",
        "SELECT * FROM orders o JOIN customers c ON c.id = o.\"customerId\" WHERE o.status IN ('a', 'b')",
        "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END, greatest(a, b), least(a, b) FROM orders",
        "SELECT * FROM orders WHERE \"createdAt\" > $1::timestamptz - interval '7 days'",
        "SELECT 'now'::text, 'today' AS label FROM orders",
        "SELECT * FROM \"public\".\"orders\" WHERE \"status\" = CAST($1::text AS \"public\".\"OrderStatus\")",
        "SELECT COUNT(*) FROM (SELECT \"public\".\"orders\".\"id\" FROM \"public\".\"orders\" WHERE 1=1 OFFSET $1) AS \"sub\"",
    ]

    static let notCacheable: [SQLCase<String>] = [
        .init("SELECT * FROM accounts WHERE id = 1 FOR UPDATE", "FOR UPDATE/FOR SHARE"),
        .init("SELECT * FROM accounts FOR NO KEY UPDATE NOWAIT", "FOR UPDATE/FOR SHARE"),
        .init("SELECT * FROM accounts FOR KEY SHARE", "FOR UPDATE/FOR SHARE"),
        .init("SELECT * FROM a JOIN (SELECT * FROM b FOR SHARE) s ON true", "FOR UPDATE/FOR SHARE"),
        .init("SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id = a.id FOR UPDATE)", "FOR UPDATE/FOR SHARE"),
        .init("WITH l AS (SELECT * FROM jobs FOR UPDATE SKIP LOCKED) SELECT * FROM l", "FOR UPDATE/FOR SHARE"),
        .init("WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d", "data-modifying WITH"),
        .init("WITH i AS (INSERT INTO log VALUES (1) RETURNING id) SELECT * FROM i", "data-modifying WITH"),
        .init("SELECT * INTO newtab FROM t", "SELECT INTO creates table newtab"),
        .init("SELECT * INTO TEMP tmp FROM t", "SELECT INTO creates table tmp"),
        .init("SELECT now()", "now()"),
        .init("SELECT CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
        .init("SELECT * FROM orders WHERE \"createdAt\" > CURRENT_DATE - 7", "CURRENT_DATE"),
        .init("SELECT LOCALTIMESTAMP(3)", "LOCALTIMESTAMP"),
        .init("SELECT current_user", "CURRENT_USER"),
        .init("SELECT session_user", "SESSION_USER"),
        .init("SELECT random()", "random()"),
        .init("SELECT nextval('orders_id_seq')", "nextval()"),
        .init("SELECT currval('s'), setval('s', 1)", "currval(), setval()"),
        .init("SELECT clock_timestamp()", "clock_timestamp()"),
        .init("SELECT statement_timestamp(), transaction_timestamp()", "statement_timestamp()"),
        .init("SELECT gen_random_uuid()", "gen_random_uuid()"),
        .init("SELECT uuid_generate_v4()", "uuid_generate_v4()"),
        .init("SELECT txid_current()", "txid_current()"),
        .init("SELECT pg_advisory_lock(42)", "pg_advisory_lock()"),
        .init("SELECT pg_try_advisory_xact_lock(42)", "pg_try_advisory_xact_lock()"),
        .init("SELECT pg_sleep(1)", "pg_sleep()"),
        .init("SELECT current_setting('app.tenant')", "current_setting()"),
        .init("SELECT pg_catalog.now()", "pg_catalog.now()"),
        .init("SELECT age(\"createdAt\") FROM orders", "age()"),
        .init("SELECT * FROM orders WHERE \"createdAt\" > now() - interval '1 day'", "now()"),
        .init("SELECT id FROM orders ORDER BY random() LIMIT 1", "random()"),
        .init("SELECT myschema.my_func(1)", "myschema.my_func(), which is not a built-in"),
        .init("SELECT order_total(id) FROM orders", "order_total(), which is not a built-in"),
        .init("SELECT * FROM lookup_orders($1)", "lookup_orders(), which is not a built-in"),
        .init("SELECT 'now'::timestamptz", "'now'"),
        .init("SELECT * FROM orders WHERE \"createdAt\" > 'today'::date", "'now' or 'today'"),
        .init("SELECT timestamp with time zone 'now'", "'now' or 'today'"),
        .init("SELECT DATE 'tomorrow'", "'now' or 'today'"),
        .init("SELECT * FROM t TABLESAMPLE SYSTEM (10)", "TABLESAMPLE without REPEATABLE"),
        .init("SELECT * FROM pg_class", "system catalog pg_class"),
        .init("SELECT * FROM pg_catalog.pg_tables", "system catalog pg_catalog.pg_tables"),
        .init("SELECT * FROM information_schema.columns WHERE table_name = 'orders'", "system catalog information_schema.columns"),
        .init("SELECT * FROM pg_stat_activity", "system catalog pg_stat_activity"),
        .init("SELECT * FROM pg_temp.scratch", "temporary table pg_temp.scratch"),
        .init("INSERT INTO orders (id) VALUES (1)", "INSERT writes to orders"),
        .init("UPDATE \"public\".\"orders\" SET status = $1 WHERE id = $2", "UPDATE writes to public.orders"),
        .init("DELETE FROM orders", "DELETE writes to orders"),
        .init("MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)", "MERGE writes to t"),
        .init("COPY orders FROM STDIN", "COPY FROM loads rows into orders"),
        .init("COPY orders TO STDOUT", "COPY sub-protocol"),
        .init("CREATE TABLE t (id int)", "DDL (CreateStmt) changes the schema"),
        .init("TRUNCATE orders", "TRUNCATE empties orders"),
        .init("BEGIN", "BEGIN is transaction control"),
        .init("ROLLBACK TO SAVEPOINT a", "ROLLBACK TO SAVEPOINT is transaction control"),
        .init("SET search_path TO app", "SET changes a session setting"),
        .init("SHOW TimeZone", "setting of this session"),
        .init("LISTEN ch", "asynchronous messaging"),
        .init("EXECUTE q(1)", "prepared statement"),
        .init("CALL p()", "procedure"),
        .init("LOCK orders", "table locks"),
        .init("VACUUM orders", "maintenance"),
        .init("EXPLAIN SELECT * FROM orders", "EXPLAIN shows a plan"),
        .init("EXPLAIN ANALYZE DELETE FROM orders", "EXPLAIN ANALYZE executes the DELETE, which writes to orders"),
        .init("DECLARE c CURSOR FOR SELECT * FROM orders", "cursor"),
        .init("DISCARD ALL", "session state"),
        .init("CHECKPOINT", "CheckPointStmt is not a query"),
    ]

    @Test(arguments: cacheable)
    func isCacheable(_ sql: String) throws {
        let s = try analyzeOne(sql)
        #expect(s.cacheable, "\(s.reason ?? "")")
        #expect(s.reason == nil)
    }

    @Test(arguments: notCacheable)
    func isNotCacheable(_ c: SQLCase<String>) throws {
        let s = try analyzeOne(c.sql)
        #expect(!s.cacheable)
        let reason = try #require(s.reason)
        #expect(reason.contains(c.expected), "reason was: \(reason)")
    }

    @Test func writeFlags() throws {
        #expect(try analyzeOne("WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d").isWrite)
        #expect(try analyzeOne("WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d").hasDataModifyingCTE)
        #expect(try analyzeOne("SELECT * INTO n FROM t").createsTableFromQuery)
        #expect(try analyzeOne("SELECT * INTO n FROM t").isWrite)
        #expect(try analyzeOne("CREATE TABLE n AS SELECT 1").createsTableFromQuery)
        #expect(try analyzeOne("EXPLAIN ANALYZE INSERT INTO t VALUES (1)").isWrite)
        #expect(try !analyzeOne("EXPLAIN INSERT INTO t VALUES (1)").isWrite)
        #expect(try !analyzeOne("SELECT * FROM t FOR UPDATE").isWrite)
        #expect(try analyzeOne("SELECT * FROM t FOR UPDATE").hasLocking)
        #expect(try !analyzeOne("SELECT * FROM t").hasLocking)
        #expect(try analyzeOne("TRUNCATE t").isWrite)
        #expect(try analyzeOne("DROP TABLE t").isWrite)
    }

    @Test func catalogsAndTemporaryTablesAreNoted() throws {
        let s = try analyzeOne("SELECT * FROM pg_catalog.pg_class c JOIN pg_temp.x ON true JOIN orders ON true")
        #expect(s.systemCatalogs == [TableName(schema: "pg_catalog", name: "pg_class")])
        #expect(s.temporaryTables == [TableName(schema: "pg_temp", name: "x")])
    }

    @Test func multiStatementQueriesAreNeverCachedWhole() {
        let analysis = SQLAnalyzer.analyze("SELECT 1; SELECT 2")
        #expect(analysis.statements.count == 2)
        #expect(analysis.statements.allSatisfy { $0.cacheable })
        #expect(!analysis.cacheable)
        #expect(SQLAnalyzer.analyze("SELECT 1").cacheable)
    }

    @Test func writesAcrossAQueryString() {
        let analysis = SQLAnalyzer.analyze("BEGIN; UPDATE orders SET x = 1; DELETE FROM b; UPDATE orders SET y = 2; COMMIT")
        #expect(analysis.isWrite)
        #expect(analysis.tablesWritten == [TableName(name: "orders"), TableName(name: "b")])
        #expect(!SQLAnalyzer.analyze("BEGIN; SELECT 1; COMMIT").isWrite)
        #expect(!SQLAnalyzer.analyze("SELEC").isWrite)
    }
}
