import ProxyCore
import Testing

/// The lexical gate in front of the parser: every statement that can change session state
/// passes; ordinary reads and writes (the hot path) do not.
@Suite("Session gate") struct SessionGateTests {
    func gate(_ s: String) -> Bool { SessionGate.mayChangeSession(Array(s.utf8)[...]) }

    @Test(arguments: [
        "SET search_path TO app", "set TimeZone = 'UTC'", "  RESET ALL", "BEGIN; SET LOCAL x = 1; COMMIT",
        "/* c */ SET a = 1", "-- note\nSET a = 1", "LISTEN chan", "PREPARE p AS SELECT 1", "EXECUTE p(1)",
        "DEALLOCATE ALL", "DISCARD ALL", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "CREATE TEMP TABLE t (x int)", "create temporary table t (x int)", "SELECT * INTO TEMP t FROM u",
        "SELECT pg_advisory_lock(1)", "select PG_TRY_ADVISORY_LOCK(2)", "SELECT \"pg_advisory_lock\"(3)",
        "EXPLAIN EXECUTE p(1)", "SELECT 1;set a=1",
    ])
    func candidates(_ sql: String) { #expect(gate(sql), "\(sql)") }

    @Test(arguments: [
        "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
        "UPDATE orders SET status = 'SHIPPED' WHERE id = $1",
        "UPDATE pgbench_accounts SET abalance = abalance + -12 WHERE aid = 3",
        "INSERT INTO t (settings) VALUES ('SET x = 1')",
        "SELECT 'LISTEN x; CREATE TEMP TABLE y' AS text_only",
        "SELECT $$ SET a = 1 $$", "SELECT $tag$ DISCARD ALL $tag$", "SELECT E'it\\'s; SET a=1'",
        "SELECT \"offset\", reset_count FROM t", "SELECT * FROM t WHERE x = $1 OFFSET $2",
        "/* SET a = 1 */ SELECT 1", "-- SET a = 1\nSELECT 1", "",
    ])
    func notCandidates(_ sql: String) { #expect(!gate(sql), "\(sql)") }
}
