import Testing
@testable import SQLAnalysis

/// Whatever a client sends, analysis returns a value: prefixes and mutations of real queries.
@Suite struct RobustnessTests {
    static let corpus: [String] = TableTests.prisma.map(\.sql) + TableTests.traps.map(\.sql)
        + FingerprintTests.normalized.map(\.sql)

    @Test func everyPrefixIsAnalysedOrRejected() {
        var parsed = 0
        var rejected = 0
        for sql in Self.corpus {
            let characters = Array(sql)
            for length in stride(from: 0, through: characters.count, by: 3) {
                let prefix = String(characters[0..<length])
                switch SQLAnalyzer.analyze(prefix) {
                case .statements(let list):
                    parsed += 1
                    for s in list where s.cacheable { #expect(s.reason == nil && !s.isWrite) }
                case .error(let message, _):
                    rejected += 1
                    #expect(!message.isEmpty)
                }
                let normalized = Array(prefix.utf8).withUnsafeBufferPointer { Normalizer.normalize(bytes: $0) }
                // Every string literal, even an unterminated one, becomes $n; only a quoted
                // identifier can still hold a single quote.
                if !prefix.contains("\"") { #expect(!normalized.contains("'"), "\(prefix) → \(normalized)") }
            }
        }
        #expect(parsed > 0)
        #expect(rejected > 0)
    }

    @Test func byteMutationsNeverTrap() {
        var generator = SplitMix(seed: 0x5EED)
        let alphabet = Array("'\"$;()-/*\\eE0123456789 \n,.:[]{}é".utf8)
        var analysed = 0
        for sql in Self.corpus {
            for _ in 0..<15 {
                var bytes = Array(sql.utf8)
                for _ in 0..<3 where !bytes.isEmpty {
                    let at = Int(generator.next() % UInt64(bytes.count))
                    bytes[at] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                }
                let mutated = String(decoding: bytes, as: UTF8.self)
                _ = SQLAnalyzer.analyze(mutated)
                _ = bytes.withUnsafeBufferPointer { Normalizer.normalize(bytes: $0) }
                analysed += 1
            }
        }
        #expect(analysed == Self.corpus.count * 15)
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
