import ProxyCore
import SQLAnalysis

/// Cost per request of query digests (`[admin] query_digests`, docs/admin.md): what the relay
/// does with digests on, for the three ways a statement arrives — a simple Query with its
/// literals inline (`pgbench -S -M simple`: a new text every time), an unnamed Parse/Bind
/// (`-M extended`), a Bind of a named prepared statement (`-M prepared`). Off, it is a nil
/// check per message.
func runDigestsBench() {
    let n = 2_000_000
    var bodies: [[UInt8]] = []
    for i in 0..<1024 {
        bodies.append(Array("SELECT abalance FROM pgbench_accounts WHERE aid = \(i * 97 + 1);\0".utf8))
    }
    let parameterized = Array("SELECT abalance FROM pgbench_accounts WHERE aid = $1\0".utf8)
    let prepared = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
    let tag = Array("SELECT 1\0".utf8)[...]
    var digests = QueryDigests(capacity: 1000)
    var texts = RecentTexts(limit: 1024)
    var probe = DigestProbe()
    var now = 0.0
    print("digests: \(n) requests per pass")

    func finish() {
        probe.commandCompleted(tag: tag)
        now += 0.0001
        if let done = probe.readyForQueryReceived(now: now, serverOutstanding: 0), let text = done.text {
            digests.record(QueryDigestKey(database: "bench", query: text), fingerprint: "f", done.execution)
        }
    }
    report("simple Query, literal inline", n) {
        for i in 0..<n {
            probe.querySent(SQLText.normalize(bodies[i & 1023][...]), startedAt: now, serverOutstanding: 1)
            finish()
        }
    }
    report("extended, Parse \"\" + Bind \"\"", n) {
        for _ in 0..<n {
            probe.parseSent(unnamedText: SQLText.normalize(parameterized[...]), now: now)
            probe.bindSent(statementText: probe.unnamedText, now: now)
            probe.batchMessageSent(now: now)
            probe.syncSent(now: now, serverOutstanding: 1)
            finish()
        }
    }
    report("prepared, Bind of a named statement", n) {
        for _ in 0..<n {
            probe.bindSent(statementText: texts.value(for: prepared) { SQLText.normalize($0) }, now: now)
            probe.batchMessageSent(now: now)
            probe.syncSent(now: now, serverOutstanding: 1)
            finish()
        }
    }
    var length = 0
    report("of which SQLText.normalize (\(bodies[0].count) bytes)", n) {
        for i in 0..<n { length &+= SQLText.normalize(bodies[i & 1023][...]).utf8.count }
    }
    precondition(length > 0)
    precondition(digests.count == 1 && digests.sortedByTotalTime()[0].calls > 0)
}
