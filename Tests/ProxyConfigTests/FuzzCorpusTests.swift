import Foundation
import Testing
@testable import ProxyConfig

/// The config fuzzer's corpus (fuzz/corpus/config, see docs/fuzzing.md) replayed as the
/// harness reads it: the loader, the auth-file parser, and each line as an --upstream URL and
/// a `-c` override. Bad text must become ConfigErrors, never a trap.
@Suite("Fuzz corpus replay: configuration")
struct ConfigFuzzCorpusTests {
    @Test func configCorpusLoadsOrReportsErrors() throws {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let dir = parts.joined(separator: "/") + "/fuzz/corpus/config"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(!names.isEmpty)
        for name in names {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)), as: UTF8.self)
            do {
                _ = try ConfigLoader.parse(text: text, fileName: "fuzz.conf", baseDirectory: "/nonexistent-fuzz-dir")
            } catch {
                #expect(!error.errors.isEmpty, "\(name): ConfigErrors without an error")
            }
            _ = try? AuthFile.parse(text: text, fileName: "fuzz.users")
            let lines = text.split(separator: "\n").prefix(8).map(String.init)
            for line in lines { _ = UpstreamURL.parse(line) }
            if !lines.isEmpty {
                _ = try? ConfigLoader.parse(text: "", fileName: "fuzz.conf", baseDirectory: "/nonexistent-fuzz-dir",
                                            overrides: lines)
            }
        }
    }
}
