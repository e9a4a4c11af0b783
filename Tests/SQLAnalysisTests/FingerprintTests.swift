import Testing
@testable import SQLAnalysis

/// Fingerprints ignore constants, `$n` numbers and whitespace; normalized text uses `$n`.
@Suite struct FingerprintTests {
    static let sameFingerprint: [SQLCase<String>] = [
        .init("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 2"),
        .init("SELECT * FROM t WHERE id = 1", "select *\n  from t\twhere id=$1"),
        .init("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (4)"),
        .init("SELECT * FROM t WHERE id IN ($1, $2)", "SELECT * FROM t WHERE id IN ($1,$2,$3,$4,$5)"),
        .init("SELECT * FROM t WHERE name = 'a'", "SELECT * FROM t WHERE name = 'something else'"),
        .init("SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT $1 OFFSET $2"),
        .init("SELECT * FROM t -- comment\nWHERE x = 1", "/* c */ SELECT * FROM t WHERE x = 9"),
        .init("SELECT * FROM T", "select * from t"),
        .init("UPDATE orders SET status = 'a' WHERE id = 1", "UPDATE orders SET status = 'b' WHERE id = 2"),
    ]

    static let differentFingerprint: [SQLCase<String>] = [
        .init("SELECT * FROM t WHERE id = 1", "SELECT * FROM u WHERE id = 1"),
        .init("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE key = 1"),
        .init("SELECT * FROM t", "SELECT * FROM \"T\""),
        .init("SELECT a FROM t", "SELECT b FROM t"),
        .init("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id > 1"),
        .init("SELECT * FROM t", "SELECT * FROM t FOR UPDATE"),
        .init("SELECT f(1)", "SELECT f(1, 2)"),
    ]

    @Test(arguments: sameFingerprint)
    func same(_ c: SQLCase<String>) throws {
        let a = try analyzeOne(c.sql)
        let b = try analyzeOne(c.expected)
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint.count == 16)
    }

    @Test(arguments: differentFingerprint)
    func different(_ c: SQLCase<String>) throws {
        #expect(try analyzeOne(c.sql).fingerprint != analyzeOne(c.expected).fingerprint)
    }

    static let normalized: [SQLCase<String>] = [
        .init("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = $1"),
        .init("SELECT * FROM t WHERE id = $1 AND name = 'x'", "SELECT * FROM t WHERE id = $1 AND name = $2"),
        .init("SELECT * FROM t WHERE a = 'x' AND b = $3", "SELECT * FROM t WHERE a = $4 AND b = $3"),
        .init("select  *\n from t -- trailing\n where x = 'it''s' /* c */ and y = 1.5e3",
              "select * from t where x = $1 and y = $2"),
        .init("SELECT E'a\\'b', B'101', X'ff', N'x', U&'d\\0061t' FROM t", "SELECT $1, $2, $3, $4, $5 FROM t"),
        .init("SELECT $$dollar 'quoted'$$, $tag$x$tag$", "SELECT $1, $2"),
        .init("SELECT \"col 1\", t1.c2 FROM t1 WHERE \"storeIdentifier\" = 'S1'",
              "SELECT \"col 1\", t1.c2 FROM t1 WHERE \"storeIdentifier\" = $1"),
        .init("SELECT * FROM t WHERE id IN (1,2,3) LIMIT 5", "SELECT * FROM t WHERE id IN ($1,$2,$3) LIMIT $4"),
        .init("SELECT true, false, NULL, .5, 1e-3, 2E+4", "SELECT true, false, NULL, $1, $2, $3"),
        .init("SELECT interval '1 day', x::numeric(10,2) FROM t", "SELECT interval $1, x::numeric($2,$3) FROM t"),
    ]

    @Test(arguments: normalized)
    func normalizedText(_ c: SQLCase<String>) throws {
        #expect(try analyzeOne(c.sql).normalized == c.expected)
    }

    @Test func statementTextsOfAMultiStatementQuery() {
        let analysis = SQLAnalyzer.analyze("SELECT 1; UPDATE t SET x = ';' WHERE id = 2; /* c; */ INSERT INTO u VALUES (1);\n")
        #expect(analysis.statements.map(\.kind) == [.select, .update, .insert])
        #expect(analysis.statements.map(\.text) == ["SELECT 1", "UPDATE t SET x = ';' WHERE id = 2", "/* c; */ INSERT INTO u VALUES (1)"])
        #expect(analysis.statements.map(\.normalized) == ["SELECT $1", "UPDATE t SET x = $1 WHERE id = $2", "INSERT INTO u VALUES ($1)"])
    }

    @Test func multiByteTextKeepsByteOffsetsRight() {
        let analysis = SQLAnalyzer.analyze("SELECT 'héllo wörld' AS \"naïve\"; SET search_path TO \"café\"")
        #expect(analysis.statements.count == 2)
        #expect(analysis.statements.last?.text == "SET search_path TO \"café\"")
        #expect(analysis.statements.last?.setting?.value == "\"café\"")
        #expect(analysis.statements.first?.normalized == "SELECT $1 AS \"naïve\"")
    }
}
