@testable import ProxyCore
import SQLAnalysis
import Testing

/// The gate's memo answers a text that differs from the last one only in digits without
/// scanning it (`SessionGate.sameAnswer`): pgbench's and many apps' simple-protocol queries
/// repeat with other literals. It must never answer a text the gate would answer otherwise.
@Suite("Session gate memo") struct SessionGateMemoTests {
    func sameAnswer(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in SessionGate.sameAnswer(pa, aHasDollar: a.contains(0x24), pb) } }
    }

    @Test func digitBytesMarksExactlyTheDigits() {
        for b in 0...255 {
            for position in 0..<8 {
                // The byte among neighbours that are and are not digits: no carry may cross.
                for fill: UInt8 in [0x00, 0x2f, 0x30, 0x39, 0x3a, 0x7f, 0x80, 0xb9, 0xff] {
                    var bytes = [UInt8](repeating: fill, count: 8)
                    bytes[position] = UInt8(b)
                    let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    let marks = SessionGate.digitBytes(w)
                    for i in 0..<8 {
                        let isDigit = bytes[i] >= 0x30 && bytes[i] <= 0x39
                        #expect((marks >> UInt64(8 * i + 7)) & 1 == (isDigit ? 1 : 0), "byte \(bytes[i]) at \(i)")
                    }
                    #expect(marks & ~(SessionGate.ones &* 0x80) == 0)
                }
            }
        }
    }

    @Test func literalsDifferingInDigitsShareTheAnswer() {
        #expect(sameAnswer(Array("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;".utf8),
                           Array("SELECT abalance FROM pgbench_accounts WHERE aid = 90817;".utf8)))
        #expect(sameAnswer(Array("SET x = 1".utf8), Array("SET x = 2".utf8)))
        // A digit against a letter, a letter against a letter, other lengths: scanned anew.
        #expect(!sameAnswer(Array("select 12345".utf8), Array("select 1234e".utf8)))
        #expect(!sameAnswer(Array("select 12345".utf8), Array("listen 12345".utf8)))
        #expect(!sameAnswer(Array("select 1".utf8), Array("select 12".utf8)))
        // In the last, partial eight bytes too.
        #expect(!sameAnswer(Array("select 1;".utf8), Array("select 1 ".utf8)))
        #expect(sameAnswer(Array("select 1;".utf8), Array("select 7;".utf8)))
    }

    /// A dollar quote's tag is the one place digits are compared: one digit decides where the
    /// string ends, and so whether a SET follows. With a "$" only equal bytes share the answer.
    @Test func dollarQuoteTagsAreComparedWhole() {
        let one = Array("SELECT $q1$ $q2$; SET search_path = x; $q2$ $q1$".utf8)
        let two = Array("SELECT $q2$ $q2$; SET search_path = x; $q2$ $q1$".utf8)
        #expect(!SessionGate.mayChangeSession(one[...]))
        #expect(SessionGate.mayChangeSession(two[...]))
        #expect(!sameAnswer(one, two))

        var session = ClientSession(clientID: 1, configuration: .init(transactionPooling: true, pinOnSessionState: false, poolName: "p"),
                                    settings: SessionSettings(), analyze: { SQLAnalyzer.analyze($0).statements })
        let answers = [one, two, Array("select 12345".utf8), Array("listen 12345".utf8),
                       Array("select 4".utf8), Array("select 5".utf8)].map { session.mayChangeSession($0[...]) }
        // The memo of the first text must not answer the second, nor "select" answer "listen".
        #expect(answers == [false, true, false, true, false, false])
    }

    /// Random SQL-ish texts without "$" and copies with their digits changed: the gate answers
    /// both alike (the claim `sameAnswer` rests on), and `sameAnswer` accepts the pair; with a
    /// letter or punctuation changed instead, it refuses.
    @Test func randomTextsWithOtherDigitsGetTheSameAnswer() {
        let gen = SessionGateEquivalenceTests()
        var rng = SessionGateEquivalenceTests.Rng(state: 0xD161_7500_1234)
        var changed = 0, maybes = 0
        for n in 0..<40_000 {
            let text = gen.randomText(&rng).map { $0 == 0x24 ? UInt8(ascii: "9") : $0 }
            var other = text
            for i in other.indices where other[i] >= 0x30 && other[i] <= 0x39 && rng.next() & 1 == 0 {
                other[i] = 0x30 + UInt8(rng.next() % 10)
            }
            if other != text { changed += 1 }
            let answer = SessionGate.mayChangeSession(text[...])
            if answer { maybes += 1 }
            #expect(SessionGate.mayChangeSession(other[...]) == answer, "case \(n): \(gen.show(text)) / \(gen.show(other))")
            #expect(sameAnswer(text, other), "case \(n)")
            if let i = text.indices.first(where: { text[$0] < 0x30 || text[$0] > 0x39 }) {
                var broken = text
                broken[i] = text[i] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
                #expect(!sameAnswer(text, broken), "case \(n) with byte \(i) changed")
            }
        }
        // Enough texts had digits changed, and both answers are common.
        #expect(changed > 10_000, "\(changed) texts with digits changed")
        #expect(maybes > 5_000 && maybes < 35_000, "\(maybes) candidates")
    }
}
