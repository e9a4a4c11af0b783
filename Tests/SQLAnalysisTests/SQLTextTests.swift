import SQLAnalysis
import Testing

/// `SQLText.normalize`: the lexer-only normalization query digests key on.
@Suite("SQLText")
struct SQLTextTests {
    @Test func normalizesWithoutParsing() {
        #expect(SQLText.normalize("SELECT  *\n FROM t WHERE id = 42 AND name = 'x'; ") == "SELECT * FROM t WHERE id = $1 AND name = $2")
        #expect(SQLText.normalize(Array("select $1 -- c\0".utf8)[...]) == "select $1")
        #expect(SQLText.normalize("SELEC garbage 'x'") == "SELEC garbage $1")
        #expect(SQLText.normalize("SELECT 1; SELECT 2;") == "SELECT $1; SELECT $2")
    }

    @Test func agreesWithTheParsedNormalizationOfOneStatement() {
        let sql = "SELECT a, 'x' FROM t WHERE b IN (1, 2.5) AND c = $1 -- tail"
        #expect(SQLText.normalize(sql) == SQLAnalyzer.analyze(sql).statements.first?.normalized)
    }
}
