import Testing
@testable import SQLAnalysis

/// The LRU of analyses by exact text, bounded in entries and bytes.
@Suite struct AnalysisCacheTests {
    @Test func hitReturnsTheSameAnalysis() {
        let cache = AnalysisCache(maximumEntries: 10)
        let first = cache.analysis(of: "SELECT * FROM orders WHERE id = $1")
        let second = cache.analysis(of: "SELECT * FROM orders WHERE id = $1")
        #expect(first == second)
        #expect(cache.hits == 1)
        #expect(cache.misses == 1)
        #expect(cache.count == 1)
    }

    @Test func keyIsTheExactText() {
        let cache = AnalysisCache(maximumEntries: 10)
        _ = cache.analysis(of: "SELECT 1")
        _ = cache.analysis(of: "select 1")
        _ = cache.analysis(of: "SELECT  1")
        #expect(cache.count == 3)
        #expect(cache.hits == 0)
    }

    @Test func evictsTheLeastRecentlyUsedEntry() {
        let cache = AnalysisCache(maximumEntries: 2)
        _ = cache.analysis(of: "SELECT 1")
        _ = cache.analysis(of: "SELECT 2")
        _ = cache.analysis(of: "SELECT 1")
        _ = cache.analysis(of: "SELECT 3")
        #expect(cache.count == 2)
        #expect(cache.lookup("SELECT 1") != nil)
        #expect(cache.lookup("SELECT 2") == nil)
        #expect(cache.lookup("SELECT 3") != nil)
    }

    @Test func staysUnderItsByteBound() {
        let cache = AnalysisCache(maximumEntries: 1000, maximumBytes: 8_000)
        for i in 0..<200 { _ = cache.analysis(of: "SELECT * FROM orders WHERE id = \(i) AND note = '\(String(repeating: "x", count: i))'") }
        #expect(cache.bytes <= 8_000)
        #expect(cache.count < 200)
        #expect(cache.count > 0)
        #expect(cache.lookup("SELECT * FROM orders WHERE id = 199 AND note = '\(String(repeating: "x", count: 199))'") != nil)
    }

    @Test func anEntryLargerThanTheWholeBoundIsNotStored() {
        let cache = AnalysisCache(maximumEntries: 10, maximumBytes: 600)
        let big = "SELECT '" + String(repeating: "y", count: 2_000) + "'"
        let analysis = cache.analysis(of: big)
        #expect(analysis.statements.count == 1)
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
    }

    @Test func errorsAreCachedToo() {
        let cache = AnalysisCache()
        _ = cache.analysis(of: "SELEC 1")
        #expect(cache.lookup("SELEC 1") == .error(message: "syntax error at or near \"SELEC\"", position: 1))
    }

    @Test func reinsertingUpdatesInPlaceAndRemoveAllEmpties() {
        let cache = AnalysisCache(maximumEntries: 3)
        cache.insert("q", .statements([]))
        cache.insert("q", .error(message: "m", position: 1))
        #expect(cache.count == 1)
        #expect(cache.lookup("q") == .error(message: "m", position: 1))
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
        #expect(cache.lookup("q") == nil)
    }

    @Test func manyInsertionsKeepTheListConsistent() {
        let cache = AnalysisCache(maximumEntries: 7)
        for round in 0..<5 {
            for i in 0..<20 { cache.insert("q\(i % (7 + round))", .statements([])) }
        }
        #expect(cache.count == 7)
        var found = 0
        for i in 0..<20 where cache.lookup("q\(i)") != nil { found += 1 }
        #expect(found == 7)
    }
}
