import Testing
@testable import SQLAnalysis

/// The fields the pooling code needs: SET/RESET, transaction options, cursors, prepared
/// statements, LISTEN channels, temporary tables, advisory locks and DISCARD.
@Suite struct SessionStateTests {
    static let settings: [SQLCase<VariableSetting>] = [
        .init("SET search_path TO app, public", VariableSetting(name: "search_path", value: "app, public")),
        .init("SET search_path = \"MyApp\"", VariableSetting(name: "search_path", value: "\"MyApp\"")),
        .init("set Search_Path to app", VariableSetting(name: "search_path", value: "app")),
        .init("SET LOCAL statement_timeout = 5000", VariableSetting(name: "statement_timeout", isLocal: true, value: "5000")),
        .init("SET SESSION work_mem = '64MB'", VariableSetting(name: "work_mem", value: "'64MB'")),
        .init("SET TIME ZONE 'Africa/Algiers'", VariableSetting(name: "timezone", value: "'Africa/Algiers'")),
        .init("SET TIME ZONE LOCAL", VariableSetting(name: "timezone", value: "DEFAULT")),
        .init("SET timezone TO DEFAULT", VariableSetting(name: "timezone", value: "DEFAULT")),
        .init("SET NAMES 'UTF8'", VariableSetting(name: "client_encoding", value: "'UTF8'")),
        .init("SET application_name = 'orders-api'", VariableSetting(name: "application_name", value: "'orders-api'")),
        .init("SET extra_float_digits = 3", VariableSetting(name: "extra_float_digits", value: "3")),
        .init("SET DateStyle TO ISO, DMY", VariableSetting(name: "datestyle", value: "ISO, DMY")),
        .init("SET ROLE reporting", VariableSetting(name: "role", value: "reporting")),
        .init("SET app.tenant_id = '42'", VariableSetting(name: "app.tenant_id", value: "'42'")),
        .init("SET search_path FROM CURRENT", VariableSetting(name: "search_path", isFromCurrent: true)),
        .init("RESET search_path", VariableSetting(name: "search_path", isReset: true)),
        .init("RESET TIME ZONE", VariableSetting(name: "timezone", isReset: true)),
        .init("RESET ALL", VariableSetting(isReset: true, isResetAll: true)),
        .init("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
              VariableSetting(target: .transaction, transactionOptions: TransactionOptions(isolationLevel: .repeatableRead))),
        .init("SET TRANSACTION READ ONLY",
              VariableSetting(target: .transaction, transactionOptions: TransactionOptions(readOnly: true))),
        .init("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
              VariableSetting(target: .sessionCharacteristics,
                              transactionOptions: TransactionOptions(isolationLevel: .serializable, readOnly: false))),
    ]

    @Test(arguments: settings)
    func setting(_ c: SQLCase<VariableSetting>) throws {
        #expect(try analyzeOne(c.sql).setting == c.expected)
    }

    static let transactions: [SQLCase<TransactionOptions>] = [
        .init("BEGIN", TransactionOptions()),
        .init("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY", TransactionOptions(isolationLevel: .serializable, readOnly: true)),
        .init("START TRANSACTION READ WRITE", TransactionOptions(readOnly: false)),
        .init("START TRANSACTION ISOLATION LEVEL READ COMMITTED", TransactionOptions(isolationLevel: .readCommitted)),
        .init("BEGIN TRANSACTION ISOLATION LEVEL READ UNCOMMITTED", TransactionOptions(isolationLevel: .readUncommitted)),
        .init("begin isolation level repeatable read, read only, deferrable",
              TransactionOptions(isolationLevel: .repeatableRead, readOnly: true, deferrable: true)),
        .init("BEGIN WORK NOT DEFERRABLE", TransactionOptions(deferrable: false)),
    ]

    @Test(arguments: transactions)
    func beginOptions(_ c: SQLCase<TransactionOptions>) throws {
        let s = try analyzeOne(c.sql)
        #expect(s.kind == .begin)
        #expect(s.transactionOptions == c.expected)
    }

    @Test func savepointAndTwoPhaseNames() throws {
        #expect(try analyzeOne("SAVEPOINT \"Sp1\"").transactionName == "Sp1")
        #expect(try analyzeOne("RELEASE SAVEPOINT sp1").transactionName == "sp1")
        #expect(try analyzeOne("ROLLBACK TO sp1").transactionName == "sp1")
        #expect(try analyzeOne("PREPARE TRANSACTION 'gid-1'").transactionName == "gid-1")
        #expect(try analyzeOne("COMMIT PREPARED 'gid-1'").transactionName == "gid-1")
        #expect(try analyzeOne("COMMIT").transactionName == nil)
    }

    @Test func cursors() throws {
        let held = try analyzeOne("DECLARE \"C1\" CURSOR WITH HOLD FOR SELECT * FROM orders")
        #expect(held.cursorName == "C1")
        #expect(held.cursorWithHold)
        #expect(held.innerKind == .select)
        #expect(held.tablesRead == [TableName(name: "orders")])
        let plain = try analyzeOne("DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 1")
        #expect(plain.cursorName == "c")
        #expect(!plain.cursorWithHold)
        #expect(try analyzeOne("DECLARE c BINARY CURSOR FOR SELECT 1").cursorWithHold == false)
        #expect(try analyzeOne("FETCH FORWARD 10 FROM c").cursorName == "c")
        #expect(try analyzeOne("CLOSE c").cursorName == "c")
        #expect(try analyzeOne("CLOSE ALL").cursorName == nil)
    }

    @Test func preparedStatements() throws {
        let prepare = try analyzeOne("PREPARE get_order (int, numeric(10,2)) AS SELECT * FROM orders WHERE id = $1 AND total > $2")
        #expect(prepare.preparedName == "get_order")
        #expect(prepare.innerKind == .select)
        #expect(prepare.tablesRead.isEmpty)
        let inner = try #require(prepare.preparedStatement)
        #expect(inner.kind == .select)
        #expect(inner.text == "SELECT * FROM orders WHERE id = $1 AND total > $2")
        #expect(inner.tablesRead == [TableName(name: "orders")])
        #expect(inner.cacheable)

        let write = try analyzeOne("prepare w as update orders set status = $1")
        #expect(write.preparedStatement?.tablesWritten == [TableName(name: "orders")])
        #expect(write.preparedStatement?.kind == .update)
        #expect(!write.isWrite)

        #expect(try analyzeOne("EXECUTE get_order(1, 2.5)").preparedName == "get_order")
        #expect(try analyzeOne("DEALLOCATE get_order").preparedName == "get_order")
        #expect(try analyzeOne("DEALLOCATE PREPARE \"Q\"").preparedName == "Q")
        #expect(try analyzeOne("DEALLOCATE ALL").preparedName == nil)
    }

    @Test func channels() throws {
        #expect(try analyzeOne("LISTEN orders_changed").channel == "orders_changed")
        #expect(try analyzeOne("LISTEN \"Orders\"").channel == "Orders")
        #expect(try analyzeOne("UNLISTEN orders_changed").channel == "orders_changed")
        #expect(try analyzeOne("UNLISTEN *").channel == nil)
        #expect(try analyzeOne("NOTIFY orders_changed, 'x'").channel == "orders_changed")
    }

    @Test func temporaryTables() throws {
        #expect(try analyzeOne("CREATE TEMP TABLE scratch (id int)").createsTemporaryTable)
        #expect(try analyzeOne("CREATE TEMPORARY TABLE scratch AS SELECT * FROM orders").createsTemporaryTable)
        #expect(try analyzeOne("CREATE LOCAL TEMP TABLE scratch (id int) ON COMMIT DROP").createsTemporaryTable)
        #expect(try analyzeOne("SELECT * INTO TEMP scratch FROM orders").createsTemporaryTable)
        #expect(try analyzeOne("CREATE TABLE pg_temp.scratch (id int)").createsTemporaryTable)
        #expect(try analyzeOne("INSERT INTO pg_temp.scratch VALUES (1)").createsTemporaryTable == false)
        #expect(try analyzeOne("TRUNCATE pg_temp.scratch").createsTemporaryTable == false)
        #expect(try analyzeOne("CREATE TABLE pg_temp.scratch (id int)").temporaryTables == [TableName(schema: "pg_temp", name: "scratch")])
        #expect(try analyzeOne("CREATE TABLE scratch (id int)").createsTemporaryTable == false)
        #expect(try analyzeOne("CREATE UNLOGGED TABLE scratch (id int)").createsTemporaryTable == false)
        #expect(try analyzeOne("CREATE TEMP TABLE scratch (id int)").temporaryTables == [TableName(name: "scratch")])
    }

    static let advisory: [SQLCase<Bool>] = [
        .init("SELECT pg_advisory_lock(1)", true),
        .init("SELECT pg_advisory_lock(1, 2)", true),
        .init("SELECT pg_advisory_lock_shared(1)", true),
        .init("SELECT pg_try_advisory_lock(1)", true),
        .init("SELECT pg_try_advisory_lock_shared(1)", true),
        .init("SELECT pg_advisory_unlock(1)", true),
        .init("SELECT pg_advisory_unlock_all()", true),
        .init("SELECT pg_catalog.pg_advisory_lock(1)", true),
        .init("SELECT * FROM jobs WHERE pg_try_advisory_lock(id) LIMIT 1", true),
        .init("SELECT pg_advisory_xact_lock(1)", false),
        .init("SELECT pg_advisory_xact_lock_shared(1)", false),
        .init("SELECT pg_try_advisory_xact_lock(1)", false),
        .init("SELECT pg_try_advisory_xact_lock_shared(1)", false),
        .init("SELECT lower('x')", false),
    ]

    @Test(arguments: advisory)
    func sessionAdvisoryLock(_ c: SQLCase<Bool>) throws {
        #expect(try analyzeOne(c.sql).usesSessionAdvisoryLock == c.expected)
    }

    static let discards: [SQLCase<DiscardTarget>] = [
        .init("DISCARD ALL", .all), .init("DISCARD PLANS", .plans),
        .init("DISCARD SEQUENCES", .sequences), .init("DISCARD TEMP", .temp), .init("DISCARD TEMPORARY", .temp),
    ]

    @Test(arguments: discards)
    func discard(_ c: SQLCase<DiscardTarget>) throws {
        #expect(try analyzeOne(c.sql).discardTarget == c.expected)
    }

    @Test func showNames() throws {
        #expect(try analyzeOne("SHOW search_path").showName == "search_path")
        #expect(try analyzeOne("SHOW TIME ZONE").showName == "timezone")
        #expect(try analyzeOne("SHOW ALL").showName == "all")
    }

    @Test func explainAnalyze() throws {
        #expect(try analyzeOne("EXPLAIN ANALYZE SELECT 1").explainAnalyze)
        #expect(try analyzeOne("EXPLAIN (ANALYZE) UPDATE t SET a = 1").explainAnalyze)
        #expect(try analyzeOne("EXPLAIN (ANALYZE true, BUFFERS) UPDATE t SET a = 1").explainAnalyze)
        #expect(try !analyzeOne("EXPLAIN (ANALYZE false) UPDATE t SET a = 1").explainAnalyze)
        #expect(try !analyzeOne("EXPLAIN (ANALYZE off) UPDATE t SET a = 1").explainAnalyze)
        #expect(try !analyzeOne("EXPLAIN (COSTS off) UPDATE t SET a = 1").explainAnalyze)
        #expect(try analyzeOne("EXPLAIN UPDATE t SET a = 1").innerKind == .update)
    }
}
