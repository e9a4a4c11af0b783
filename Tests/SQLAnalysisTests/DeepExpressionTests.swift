import Testing
@testable import SQLAnalysis

/// Found with the sql fuzz harness's inputs (docs/fuzzing.md, "Open: deep expressions"):
/// `SELECT 1+1+…+1` with about 65,000 terms (130 kB) overflows the 8 MB stack inside
/// pg_query_parse, whose JSON output recurses once per operator, and takes pgstash down with
/// every client on it. A client reaches it with any Query that passes SessionGate, e.g.
/// `SET application_name = 'x'; SELECT 1+1+…`. PostgreSQL answers 54001 "stack depth limit
/// exceeded". Texts over 16 kB are now analysed on a thread whose stack is sized to them.
@Suite struct DeepExpressionTests {
    @Test func longOperatorChainReturnsAValue() {
        let sql = "SET application_name = 'x'; SELECT 1" + String(repeating: "+1", count: 70_000)
        switch SQLAnalyzer.analyze(sql) {
        case .statements(let list): #expect(list.count == 2)
        case .error(let message, _): #expect(!message.isEmpty)
        }
    }

    @Test func chainsOfFiveThousandTermsAreAnalysed() {
        let sql = "SELECT 1" + String(repeating: "+1", count: 5_000)
        guard case .statements(let list) = SQLAnalyzer.analyze(sql) else {
            Issue.record("not analysed")
            return
        }
        #expect(list.count == 1)
    }
}
