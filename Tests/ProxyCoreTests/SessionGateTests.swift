@testable import ProxyCore
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

    /// The gate's fast word tests accept exactly the documented word lists, in any case, and
    /// no near miss (a prefix, a longer word).
    @Test func wordListsMatchTheFastTests() {
        func check(_ word: String, _ expected: Bool, _ test: (SessionGate.Text, Range<Int>) -> Bool) {
            // In the middle of a longer buffer too, so that a test reading past the word shows.
            for (before, after) in [("", ""), ("x", "advisory_x"), ("pg_temp ", "_temporary")] {
                let bytes = Array((before + word + after).utf8)
                let range = before.utf8.count..<(before.utf8.count + word.utf8.count)
                bytes.withUnsafeBytes { #expect(test(SessionGate.Text($0)!, range) == expected, "\(before)[\(word)]\(after)") }
            }
        }
        for w in SessionGate.leading {
            check(w, true, SessionGate.isLeadingWord)
            check(w.uppercased(), true, SessionGate.isLeadingWord)
            check(String(w.dropLast()), SessionGate.leading.contains(String(w.dropLast())), SessionGate.isLeadingWord)
            check(w + "x", false, SessionGate.isLeadingWord)
            check(w, SessionGate.anywhere.contains(w), SessionGate.isAnywhereWord)
        }
        for w in SessionGate.anywhere {
            check(w, true, SessionGate.isAnywhereWord)
            check(w.uppercased(), true, SessionGate.isAnywhereWord)
            check(w + "s", false, SessionGate.isAnywhereWord)
            check(w, SessionGate.leading.contains(w), SessionGate.isLeadingWord)
        }
        for w in ["select", "update", "insert", "with", "begin", "commit", "values", "setting"] {
            check(w, false, SessionGate.isLeadingWord)
            check(w, false, SessionGate.isAnywhereWord)
        }
    }
}
