@testable import ProxyCore
import Testing

@Suite("Statement names and server statement caches")
struct StatementRegistryTests {
    @Test func namesAreStableAndSharedByIdenticalStatements() {
        var names = StatementNames()
        let a = StatementKey(query: "SELECT * FROM orders WHERE id = $1", parameterTypes: [23])
        let b = StatementKey(query: "SELECT * FROM orders WHERE id = $1", parameterTypes: [20])   // other types
        let c = StatementKey(query: "SELECT 1", parameterTypes: [])
        #expect(names.acquire(a) == "pgstash_1")
        #expect(names.acquire(b) == "pgstash_2")
        #expect(names.acquire(a) == "pgstash_1")
        #expect(names.acquire(c) == "pgstash_3")
        #expect(names.acquire(StatementKey(query: "SELECT * FROM orders WHERE id = $1", parameterTypes: [23])) == "pgstash_1")
        #expect(names.count == 3)
    }

    @Test func unreferencedEntriesAreBoundedAndIdsNeverReused() {
        var names = StatementNames(maximumUnreferenced: 4)
        var seen: Set<String> = []
        for i in 0..<100 {
            let k = StatementKey(query: "SELECT \(i)", parameterTypes: [])
            let n = names.acquire(k)
            #expect(!seen.contains(n))
            seen.insert(n)
            names.release(k)
        }
        #expect(names.count <= 4)
        let held = StatementKey(query: "SELECT 'held'", parameterTypes: [])
        let n = names.acquire(held)
        for i in 100..<200 {
            let k = StatementKey(query: "SELECT \(i)", parameterTypes: [])
            _ = names.acquire(k)
            names.release(k)
        }
        #expect(names.acquire(held) == n)          // a held entry is never evicted
    }

    @Test func onlyParsedTextsAreKnown() {
        var names = StatementNames()
        let k = StatementKey(query: "SELECT * FROM nowhere", parameterTypes: [])
        let n = names.acquire(k)
        #expect(names.knownServerName(for: k) == nil)
        names.confirm(k)
        #expect(names.knownServerName(for: k) == n)
    }

    @Test func cacheEvictsLeastRecentlyUsed() {
        var cache = ServerStatementCache(capacity: 3)
        #expect(cache.insert("pgstash_1") == [])
        #expect(cache.insert("pgstash_2") == [])
        #expect(cache.insert("pgstash_3") == [])
        let touched = cache.touch("pgstash_1")            // 2 is now the oldest
        #expect(touched)
        #expect(cache.insert("pgstash_4") == ["pgstash_2"])
        #expect(!cache.contains("pgstash_2"))
        let retouched = cache.touch("pgstash_2")          // not prepared here any more
        #expect(!retouched)
        #expect(cache.insert("pgstash_5") == ["pgstash_3"])
        #expect(cache.insert("pgstash_6") == ["pgstash_1"])
        #expect(cache.count == 3)
        for name in ["pgstash_4", "pgstash_5", "pgstash_6"] { #expect(cache.contains(name)) }
    }

    @Test func reinsertingRefreshesInsteadOfGrowing() {
        var cache = ServerStatementCache(capacity: 2)
        #expect(cache.insert("a") == [])
        #expect(cache.insert("b") == [])
        #expect(cache.insert("a") == [])
        #expect(cache.count == 2)
        #expect(cache.insert("c") == ["b"])
    }

    @Test func removeFreesRoom() {
        var cache = ServerStatementCache(capacity: 2)
        _ = cache.insert("a"); _ = cache.insert("b")
        cache.remove("a")
        #expect(cache.insert("c") == [])
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(!cache.contains("b"))
    }

    @Test(arguments: [0, -5])
    func capacityIsAtLeastOne(_ capacity: Int) {
        var cache = ServerStatementCache(capacity: capacity)
        #expect(cache.capacity == 1)
        #expect(cache.insert("a") == [])
        #expect(cache.insert("b") == ["a"])
    }

    /// The ring buffer wraps and grows with elements in flight: order is kept throughout.
    @Test func fifoQueueKeepsOrderAcrossWrapAndGrowth() {
        var q = FIFOQueue<Int>()
        var expected: [Int] = []
        var next = 0
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) { q.append(next); expected.append(next); next += 1 }
            for _ in 0..<(round % 5) where !expected.isEmpty { #expect(q.popFirst() == expected.removeFirst()) }
            #expect(q.count == expected.count)
            #expect(q.first == expected.first)
            #expect(q.contains { $0 == expected.last } == !expected.isEmpty)
        }
        while let e = q.popFirst() { #expect(e == expected.removeFirst()) }
        #expect(expected.isEmpty && q.isEmpty && q.popFirst() == nil)
    }

    @Test func fifoQueueKeepsOrderAcrossCompaction() {
        var q = FIFOQueue<Int>()
        for i in 0..<200 { q.append(i) }
        for i in 0..<150 { #expect(q.popFirst() == i) }
        #expect(q.count == 50)
        #expect(q.first == 150)
        q.removeAll { $0 % 2 == 0 }
        #expect(q.count == 25)
        for i in 200..<210 { q.append(i) }
        var rest: [Int] = []
        while let x = q.popFirst() { rest.append(x) }
        #expect(rest == Array(stride(from: 151, to: 200, by: 2)) + Array(200..<210))
        #expect(q.isEmpty)
        #expect(q.popFirst() == nil)
    }
}
