import Testing
@testable import SQLAnalysis

/// The analysis of SQL that must hold exactly one statement.
func analyzeOne(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> StatementAnalysis {
    let analysis = SQLAnalyzer.analyze(sql)
    guard case .statements(let list) = analysis else {
        Issue.record("did not parse: \(analysis)", sourceLocation: sourceLocation)
        throw AnalysisTestFailure.didNotParse
    }
    return try #require(list.count == 1 ? list.first : nil, "expected one statement, got \(list.count)",
                        sourceLocation: sourceLocation)
}

enum AnalysisTestFailure: Error { case didNotParse }

/// A SQL string with expectations; its description is the SQL, so failures name the query.
struct SQLCase<Expected: Sendable>: Sendable, CustomTestStringConvertible {
    let sql: String
    let expected: Expected
    init(_ sql: String, _ expected: Expected) {
        self.sql = sql
        self.expected = expected
    }
    var testDescription: String { sql.count > 100 ? String(sql.prefix(97)) + "..." : sql }
}

/// Tables read and written, as `schema.table` strings.
struct Tables: Sendable {
    var read: [String]
    var written: [String]
    init(read: [String] = [], written: [String] = []) {
        self.read = read
        self.written = written
    }
}
