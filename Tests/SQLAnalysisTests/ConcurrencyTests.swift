import Testing
@testable import SQLAnalysis

/// `SQLAnalyzer.analyze` is called from every worker thread of the proxy at once.
@Suite struct ConcurrencyTests {
    @Test func parallelAnalysesAgreeWithSerialOnes() async {
        let queries = TableTests.prisma.map(\.sql) + CacheabilityTests.notCacheable.map(\.sql)
        let expected = queries.map { SQLAnalyzer.analyze($0) }
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var bad = 0
                    for round in 0..<20 {
                        for (i, query) in queries.enumerated() where (i + round + worker) % 2 == 0 {
                            if SQLAnalyzer.analyze(query) != expected[i] { bad += 1 }
                        }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
