import Foundation
import Testing
@testable import SQLAnalysis

/// `pgstash analyze --json` output: a JSON array with the documented keys.
@Suite struct RenderingTests {
    private func decode(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func arrayOfStatementObjectsWithTheRequiredKeys() throws {
        let json = renderJSON(SQLAnalyzer.analyze("SELECT lower(c.\"fullName\") FROM public.orders o JOIN customers c ON true; UPDATE orders SET x = 1"))
        let array = try #require(try decode(json) as? [[String: Any]])
        #expect(array.count == 2)
        for key in ["kind", "tables_read", "tables_written", "functions", "cacheable", "fingerprint", "normalized"] {
            #expect(array[0][key] != nil, "missing \(key)")
        }
        #expect(array[0]["kind"] as? String == "select")
        #expect(array[0]["tables_read"] as? [String] == ["public.orders", "customers"])
        #expect(array[0]["functions"] as? [String] == ["lower"])
        #expect(array[0]["cacheable"] as? Bool == true)
        #expect(array[0]["reason"] == nil)
        #expect(array[1]["kind"] as? String == "update")
        #expect(array[1]["tables_written"] as? [String] == ["orders"])
        #expect(array[1]["cacheable"] as? Bool == false)
        #expect((array[1]["reason"] as? String)?.contains("UPDATE writes to orders") == true)
    }

    @Test func everyCorpusQueryRendersAsValidJSON() throws {
        let corpus = RobustnessTests.corpus + KindTests.cases.map(\.sql) + CacheabilityTests.notCacheable.map(\.sql)
        for sql in corpus {
            let analysis = SQLAnalyzer.analyze(sql)
            let array = try #require(try decode(renderJSON(analysis)) as? [[String: Any]], "\(sql)")
            #expect(array.count == analysis.statements.count)
            #expect(array.first?["normalized"] as? String == analysis.statements.first?.normalized)
            #expect(array.first?["text"] as? String == analysis.statements.first?.text)
        }
    }

    @Test func stringsAreEscaped() throws {
        let json = renderJSON(SQLAnalyzer.analyze("SELECT count(*) FROM \"Weird \"\"Name\"\"\\x\" WHERE a = E'\\n'"))
        let array = try #require(try decode(json) as? [[String: Any]])
        #expect(array[0]["tables_read"] as? [String] == ["Weird \"Name\"\\x"])
        #expect(jsonString("a\u{1}\n\"") == "\"a\\u0001\\n\\\"\"")
    }

    @Test func sessionFieldsAreRendered() throws {
        let json = renderJSON(SQLAnalyzer.analyze("BEGIN READ ONLY; SET LOCAL search_path TO app; DECLARE c CURSOR WITH HOLD FOR SELECT 1"))
        let array = try #require(try decode(json) as? [[String: Any]])
        let transaction = try #require(array[0]["transaction"] as? [String: Any])
        #expect(transaction["read_only"] as? Bool == true)
        #expect(array[0]["transaction_control"] as? Bool == true)
        #expect(array[1]["transaction_control"] == nil)
        let setting = try #require(array[1]["setting"] as? [String: Any])
        #expect(setting["name"] as? String == "search_path")
        #expect(setting["is_local"] as? Bool == true)
        #expect(setting["value"] as? String == "app")
        #expect(array[2]["cursor_with_hold"] as? Bool == true)
    }

    @Test func errorsRenderAsAnObject() throws {
        let object = try #require(try decode(renderJSON(SQLAnalyzer.analyze("SELEC 1"))) as? [String: Any])
        #expect(object["error"] as? String == "syntax error at or near \"SELEC\"")
        #expect(object["position"] as? Int == 1)
        #expect(renderText(SQLAnalyzer.analyze("SELEC 1")) == "error: syntax error at or near \"SELEC\" (at character 1)")
    }

    @Test func textRenderingNamesTheVerdict() {
        let text = renderText(SQLAnalyzer.analyze("SELECT now() FROM orders"))
        #expect(text.contains("statement 1: select"))
        #expect(text.contains("tables read:    orders"))
        #expect(text.contains("cacheable:      no — calls now()"))
        #expect(renderJSON(SQLAnalyzer.analyze("")) == "[]")
    }
}
