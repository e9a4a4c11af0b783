import Foundation
import Testing
import SQLAnalysis

/// The sql fuzzer's corpus (fuzz/corpus/sql, see docs/fuzzing.md) replayed through the
/// analyser: every text returns statements or an error, never a trap.
@Suite("Fuzz corpus replay: SQL")
struct SQLFuzzCorpusTests {
    @Test func sqlCorpusIsAnalysedOrRejected() throws {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let dir = parts.joined(separator: "/") + "/fuzz/corpus/sql"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(!names.isEmpty)
        var analysed = 0
        for name in names {
            let sql = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)), as: UTF8.self)
            let analysis = SQLAnalyzer.analyze(sql)
            switch analysis {
            case .statements: analysed += 1
            case .error(let message, _): #expect(!message.isEmpty, "\(name)")
            }
            _ = renderJSON(analysis)
        }
        #expect(analysed > 0)
    }
}
