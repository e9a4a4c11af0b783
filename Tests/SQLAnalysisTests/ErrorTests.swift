import Testing
@testable import SQLAnalysis

/// SQL that does not parse is an error verdict with the parser's message and position.
@Suite struct ErrorTests {
    static let garbage: [String] = [
        "SELEC 1",
        "SELECT 1; SELEC 2",
        "SELECT * FROM",
        "SELECT (1",
        "SELECT 'unterminated",
        "UPDATE SET x = 1",
        "\u{1}\u{2}\u{3}",
        "🐘🐘🐘",
        ";;;SELECT FROM WHERE;;;",
        "INSERT INTO t VALUES (",
        "SELECT * FROM t WHERE x = $",
        "/* unterminated comment",
        "$$",
        String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000),
        String(repeating: "SELECT ", count: 1000),
    ]

    @Test(arguments: garbage)
    func garbageIsAnErrorNotACrash(_ sql: String) {
        let analysis = SQLAnalyzer.analyze(sql)
        guard case .error(let message, let position) = analysis else {
            Issue.record("expected an error, got \(analysis)")
            return
        }
        #expect(!message.isEmpty)
        #expect(position >= 0)
        #expect(!analysis.cacheable)
        #expect(analysis.statements.isEmpty)
    }

    @Test func messageAndPositionComeFromTheParser() {
        #expect(SQLAnalyzer.analyze("SELECT 1 FROM t WHER x = 1") == .error(message: "syntax error at or near \"x\"", position: 22))
        #expect(SQLAnalyzer.analyze("SELEC 1") == .error(message: "syntax error at or near \"SELEC\"", position: 1))
    }

    @Test func emptyInputHasNoStatements() {
        #expect(SQLAnalyzer.analyze("") == .statements([]))
        #expect(SQLAnalyzer.analyze("  -- only a comment\n") == .statements([]))
        #expect(SQLAnalyzer.analyze(";") == .statements([]))
    }

    @Test func pathologicallyDeepSQLIsPassedThroughUncached() throws {
        let sql = "SELECT " + Array(repeating: "1", count: 5_000).joined(separator: " + ") + " FROM t"
        let s = try analyzeOne(sql)
        #expect(!s.cacheable)
        #expect(s.reason?.contains("nested too deeply") == true)
    }

    @Test func deeplyNestedButValidSQLIsAnalysed() throws {
        let depth = 200
        let sql = String(repeating: "SELECT * FROM (", count: depth) + "SELECT * FROM inner_t" + String(repeating: ") s", count: depth)
        let s = try analyzeOne(sql)
        #expect(s.tablesRead == [TableName(name: "inner_t")])
        #expect(s.cacheable)
    }
}
