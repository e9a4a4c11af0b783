@testable import ProxyCore
import Testing

/// The digest table behind `SHOW QUERIES`: ordering, the LRU bound, percentiles, and the
/// per-client probe that pairs requests with their ReadyForQuery.
@Suite("QueryDigests")
struct QueryDigestsTests {
    static func key(_ q: String, _ db: String = "app") -> QueryDigestKey { QueryDigestKey(database: db, query: q) }

    @Test func sortsByTotalTimeNotByCalls() {
        var d = QueryDigests(capacity: 10)
        for _ in 0..<100 { d.record(Self.key("fast"), fingerprint: "f1", QueryExecution(seconds: 0.0001)) }
        d.record(Self.key("slow"), fingerprint: "f2", QueryExecution(seconds: 0.5))
        d.record(Self.key("mid"), fingerprint: "f3", QueryExecution(seconds: 0.02, rows: 7))
        let order = d.sortedByTotalTime().map(\.key.query)
        #expect(order == ["slow", "mid", "fast"])
        let fast = d.digest(Self.key("fast"))!
        #expect(fast.calls == 100)
        #expect(fast.latency.totalMicroseconds == 100 * 100)
        #expect(d.digest(Self.key("mid"))!.rows == 7)
    }

    @Test func keepsTheFirstTextAndCountsErrorsAndCacheResults() {
        var d = QueryDigests(capacity: 10)
        d.record(Self.key("f"), fingerprint: "f1", QueryExecution(seconds: 0.001, failed: true))
        d.record(Self.key("f"), fingerprint: "never evaluated", QueryExecution(seconds: 0.001))
        d.recordCacheResult(Self.key("f"), fingerprint: "x", hit: true)
        d.recordCacheResult(Self.key("f"), fingerprint: "x", hit: false)
        d.recordCacheResult(Self.key("f"), fingerprint: "x", hit: true)
        let f = d.digest(Self.key("f"))!
        #expect(f.fingerprint == "f1" && f.query == "f")
        #expect(f.calls == 2 && f.errors == 1)
        #expect(f.cacheHits == 2 && f.cacheMisses == 1)
    }

    @Test func sameFingerprintInAnotherDatabaseIsAnotherDigest() {
        var d = QueryDigests(capacity: 10)
        d.record(Self.key("f", "a"), fingerprint: "q", QueryExecution(seconds: 0.001))
        d.record(Self.key("f", "b"), fingerprint: "q", QueryExecution(seconds: 0.001))
        #expect(d.count == 2)
    }

    @Test func evictsTheLeastRecentlyRunStatement() {
        var d = QueryDigests(capacity: 3)
        for f in ["a", "b", "c"] { d.record(Self.key(f), fingerprint: f, QueryExecution(seconds: 0.001)) }
        d.record(Self.key("a"), fingerprint: "a", QueryExecution(seconds: 0.001))     // a is recent again
        d.record(Self.key("d"), fingerprint: "d", QueryExecution(seconds: 0.001))     // b goes
        #expect(d.count == 3)
        #expect(d.digest(Self.key("b")) == nil)
        #expect(d.digest(Self.key("a"))?.calls == 2)
        #expect(d.evictions == 1)
        for i in 0..<1000 { d.record(Self.key("n\(i)"), fingerprint: "q", QueryExecution(seconds: 0.001)) }
        #expect(d.count == 3)
        #expect(Set(d.sortedByTotalTime().map(\.key.query)) == ["n997", "n998", "n999"])
    }

    @Test func capacityOneAndShrinking() {
        var d = QueryDigests(capacity: 1)
        d.record(Self.key("a"), fingerprint: "a", QueryExecution(seconds: 0.001))
        d.record(Self.key("b"), fingerprint: "b", QueryExecution(seconds: 0.001))
        #expect(d.sortedByTotalTime().map(\.key.query) == ["b"])
        var e = QueryDigests(capacity: 10)
        for f in ["a", "b", "c", "d"] { e.record(Self.key(f), fingerprint: f, QueryExecution(seconds: 0.001)) }
        e.resize(2)
        #expect(Set(e.sortedByTotalTime().map(\.key.query)) == ["c", "d"])
        e.record(Self.key("e"), fingerprint: "e", QueryExecution(seconds: 0.001))
        #expect(Set(e.sortedByTotalTime().map(\.key.query)) == ["d", "e"])
    }

    @Test func cutsLongTexts() {
        var d = QueryDigests(capacity: 2)
        let long = String(repeating: "x", count: 10_000)
        d.record(Self.key(long), fingerprint: "", QueryExecution(seconds: 0))
        d.record(Self.key(long + "y"), fingerprint: "", QueryExecution(seconds: 0))
        d.record(Self.key(long), fingerprint: "", QueryExecution(seconds: 0))
        let kept = d.digest(Self.key(long))!
        #expect(kept.query.utf8.count < QueryDigests.maximumQueryLength + 60 && kept.query.contains("… (10000 bytes"))
        #expect(kept.calls == 2 && d.count == 2, "a longer text with the same start is another digest")
    }

    @Test func recentTextsKeepsOneToTwoGenerations() {
        var r = RecentTexts(limit: 2)
        var computed = 0
        func get(_ t: String) -> String { r.value(for: t) { computed += 1; return $0.uppercased() } }
        #expect(get("a") == "A" && get("b") == "B" && get("a") == "A")
        #expect(computed == 2)
        _ = get("c")                  // a, b become the old generation
        _ = get("a")                  // found there, promoted
        #expect(computed == 3)
        _ = get("d"); _ = get("e")    // old generation dropped
        #expect(r.count <= 4)
        for i in 0..<100 { _ = get("t\(i)") }
        #expect(r.count <= 4)
        var big = RecentTexts(limit: 1000, byteLimit: 100)
        for i in 0..<50 { _ = big.value(for: String(repeating: "x", count: 40) + "\(i)") { $0 } }
        #expect(big.count <= 6, "each entry is ~84 bytes: at most 2 generations of 2–3")
    }

    // MARK: Percentiles

    @Test func percentilesOfAUniformSpread() {
        var h = LatencyHistogram()
        for ms in 1...100 { h.record(seconds: Double(ms) / 1000) }
        let p50 = Double(h.quantile(0.5)), p99 = Double(h.quantile(0.99))
        #expect(abs(p50 - 50_000) <= 50_000 * 0.0625, "p50 \(p50)")
        #expect(abs(p99 - 99_000) <= 99_000 * 0.0625, "p99 \(p99)")
        #expect(h.quantile(1) == 100_000)
        #expect(h.quantile(0) == 1_000)
        #expect(h.count == 100 && h.totalMicroseconds == 5_050_000)
    }

    @Test func percentilesOfASkewedSpreadAndSingleValues() {
        var h = LatencyHistogram()
        for _ in 0..<98 { h.record(microseconds: 200) }
        h.record(microseconds: 2_000_000)
        h.record(microseconds: 3_000_000)
        #expect(abs(Double(h.quantile(0.5)) - 200) <= 200 * 0.0625)
        #expect(abs(Double(h.quantile(0.99)) - 2_000_000) <= 2_000_000 * 0.0625)
        var one = LatencyHistogram()
        one.record(microseconds: 12_345)
        #expect(one.quantile(0.5) == 12_345 && one.quantile(0.99) == 12_345)
        #expect(LatencyHistogram().quantile(0.5) == 0)
    }

    @Test func bucketsCoverEveryValueOnce() {
        var previousHigh: UInt64 = 0
        for i in 0..<LatencyHistogram.bucketCount - 1 {
            let (low, high) = LatencyHistogram.bounds(i)
            #expect(low == previousHigh, "bucket \(i)")
            #expect(LatencyHistogram.index(low) == i && LatencyHistogram.index(high - 1) == i)
            #expect(high - low <= max(1, low / 8), "bucket \(i) is wider than 12.5 %")
            previousHigh = high
        }
        #expect(LatencyHistogram.index(.max) == LatencyHistogram.bucketCount - 1)
    }

    // MARK: The per-client probe

    @Test func pairsSimpleQueriesWithTheirReadyForQuery() {
        var p = DigestProbe()
        p.querySent("SELECT 1", startedAt: 10, serverOutstanding: 1)
        p.commandCompleted(tag: Array("SELECT 1\0".utf8)[...])
        let done = p.readyForQueryReceived(now: 10.25, serverOutstanding: 0)
        #expect(done == DigestProbe.Completed(text: "SELECT 1", execution: QueryExecution(seconds: 0.25, rows: 1)))
        #expect(p.readyForQueryReceived(now: 11, serverOutstanding: 0) == nil)
    }

    @Test func namesAnExtendedBatchByItsBindAndSkipsAPrepareOnly() {
        var p = DigestProbe()
        // PQprepare: Parse/Describe/Sync runs nothing.
        p.parseSent(unnamedText: nil, now: 1)
        p.batchMessageSent(now: 1)
        p.syncSent(now: 1, serverOutstanding: 1)
        #expect(p.readyForQueryReceived(now: 1.1, serverOutstanding: 0)?.text == nil)
        // Parse ""/Bind ""/Execute/Sync, then a Bind "" reusing the unnamed statement.
        p.parseSent(unnamedText: "UPDATE t SET x = $1", now: 2)
        p.bindSent(statementText: p.unnamedText, now: 2)
        p.syncSent(now: 2, serverOutstanding: 1)
        p.commandCompleted(tag: Array("UPDATE 3\0".utf8)[...])
        let first = p.readyForQueryReceived(now: 2.5, serverOutstanding: 0)
        #expect(first?.text == "UPDATE t SET x = $1" && first?.execution.rows == 3 && first?.execution.seconds == 0.5)
        p.bindSent(statementText: p.unnamedText, now: 3)
        p.syncSent(now: 3, serverOutstanding: 1)
        #expect(p.readyForQueryReceived(now: 3.5, serverOutstanding: 0)?.text == "UPDATE t SET x = $1")
    }

    @Test func pipelinedRequestsQueueAndErrorsStayWithTheirRequest() {
        var p = DigestProbe()
        p.querySent("SELECT a", startedAt: 0, serverOutstanding: 1)
        p.querySent("SELECT b", startedAt: 0.1, serverOutstanding: 2)
        p.errorReceived()
        let a = p.readyForQueryReceived(now: 1, serverOutstanding: 1)
        let b = p.readyForQueryReceived(now: 2, serverOutstanding: 0)
        #expect(a?.text == "SELECT a" && a?.execution.failed == true)
        #expect(b?.text == "SELECT b" && b?.execution.failed == false && b?.execution.seconds == 1.9)
    }

    @Test func aRequestAnsweredElsewhereDoesNotShiftTheNextOnes() {
        var p = DigestProbe()
        p.querySent("answered by pgstash", startedAt: 0, serverOutstanding: 1)
        // Its ReadyForQuery never came through the relay; the next request finds the server idle.
        p.querySent("SELECT 2", startedAt: 1, serverOutstanding: 1)
        #expect(p.readyForQueryReceived(now: 2, serverOutstanding: 0)?.text == "SELECT 2")
        #expect(p.pendingCount == 0)
    }

    @Test(arguments: [("SELECT 12\0", 12), ("INSERT 0 5\0", 5), ("UPDATE 0\0", 0), ("BEGIN\0", 0),
                      ("CREATE TABLE\0", 0), ("COPY 100000\0", 100_000), ("FETCH 3", 3), ("X1\0", 0)])
    func rowCountsFromCommandTags(tag: String, rows: UInt64) {
        #expect(DigestProbe.rowCount(Array(tag.utf8)[...]) == rows)
    }
}
