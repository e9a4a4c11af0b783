@testable import ProxyCore
import Testing

/// `SessionGate` reads words as folded integers and skips bounds checks where the text's last
/// byte allows; `ReferenceGate` below is the byte-by-byte version it replaced (commit 37eb8c2),
/// kept here only as the answer key. Both must answer alike on every text.
@Suite("Session gate equivalence") struct SessionGateEquivalenceTests {
    /// Random SQL-ish texts from a fixed seed (a failure names its case; rerun to reproduce).
    @Test func randomTextsGetTheReferenceAnswer() {
        var rng = Rng(state: 0x5E55_1011_6A7E)
        var maybes = 0
        for n in 0..<60_000 {
            let text = randomText(&rng)
            let expected = text.withUnsafeBytes { ReferenceGate.mayChangeSession($0) }
            #expect(SessionGate.mayChangeSession(text[...]) == expected, "case \(n): \(show(text))")
            // The same bytes as a slice of a longer buffer: the word characters after it must not
            // change the answer (a word or a scan running past the slice would).
            let padded = randomFragment(&rng, maxBytes: 12) + text + Array("advisory_pg_temp$x".utf8)
            let start = padded.count - text.count - 18
            #expect(SessionGate.mayChangeSession(padded[start..<(start + text.count)]) == expected,
                    "case \(n) in a buffer: \(show(text))")
            if expected { maybes += 1 }
        }
        // Both answers must be common, or the comparison shows little (13,116 are candidates).
        #expect(maybes > 9_000 && maybes < 51_000, "\(maybes) of 60000 are candidates")
    }

    /// Pieces the texts are made of: every listed word and near misses, identifier fragments,
    /// quotes, comments, separators.
    static let fragments: [String] = [
        "set", "reset", "listen", "prepare", "execute", "deallocate", "discard", "declare", "explain", "do",
        "savepoint", "rollback", "release", "unlisten", "close", "drop", "temp", "temporary", "hold", "set_config",
        "se", "sets", "tem", "temporar", "temporarys", "deallocat", "rollbac", "savepoin", "set_confi", "set_configs",
        "holds", "dro", "pg_temp", "pg_tem", "pg_temp_3", "pg_", "advisory", "advisor", "dvisory", "adv", "isory",
        "aadvisory", "pg_advisory_lock", "select", "from", "where", "update", "insert", "values", "begin", "a",
        "e", "x", "_", "t1", "abalance", "pgbench_accounts", "12345", "0", "9", "\u{E9}", "\u{FF}",
        "'", "''", "E'", "e'", "\\'", "\\", "\"", "\"\"", "$", "$$", "$1", "$a$", "$tag$", "$A$", "$9$",
        "--", "/*", "*/", "/", "*", "-", "\n", " ", "  ", "\t", "\r", "\u{0C}", ";", ",", "(", ")", ".", "=",
    ]

    func randomText(_ rng: inout Rng) -> [UInt8] {
        randomFragment(&rng, maxBytes: 24 + Int(rng.next() % 40))
    }

    /// Fragments in random case, sometimes joined into one word, with a random byte now and
    /// then; cut at a random length so that quotes, comments and words end unterminated.
    func randomFragment(_ rng: inout Rng, maxBytes: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < maxBytes {
            let r = rng.next()
            if r % 11 == 0 {
                bytes.append(UInt8(truncatingIfNeeded: r >> 8))
                continue
            }
            let caseMode = (r >> 40) % 3        // as listed, upper case, or mixed
            for b in Self.fragments[Int((r >> 8) % UInt64(Self.fragments.count))].utf8 {
                let upper = caseMode == 1 || (caseMode == 2 && rng.next() & 1 == 0)
                bytes.append(upper && b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") ? b - 0x20 : b)
            }
            if (r >> 50) % 3 == 0 { bytes.append(UInt8(ascii: " ")) }
        }
        return Array(bytes.prefix(Int(rng.next() % UInt64(maxBytes + 1))))
    }

    func show(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription + " \(bytes)" }

    /// A deterministic generator (SplitMix64), so a failure replays.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// SessionGate as of commit 37eb8c2 (byte by byte), unchanged but for its name: the answer key.
private enum ReferenceGate {
    static let leading: Set<String> = ["set", "reset", "listen", "prepare", "execute", "deallocate",
                                       "discard", "declare", "explain", "do", "savepoint", "rollback",
                                       "release", "unlisten", "close", "drop"]
    static let anywhere: Set<String> = ["temp", "temporary", "hold", "set_config"]

    static func mayChangeSession(_ sql: ArraySlice<UInt8>) -> Bool {
        sql.withUnsafeBytes { mayChangeSession(UnsafeRawBufferPointer($0)) }
    }

    /// Byte classes, one table lookup per byte instead of a chain of comparisons.
    static let spaceClass: UInt8 = 1, wordStartClass: UInt8 = 2, wordPartClass: UInt8 = 4, plainClass: UInt8 = 8
    /// Bytes that only end a statement's start: not space, not a word's start, and none of
    /// the characters the switch below handles (; - / ' " $).
    static let specialBytes: [UInt8] = [";", "-", "/", "'", "\"", "$"].map { UInt8(ascii: $0) }
    static let byteClasses: [UInt8] = (0..<256).map { b in
        let c = UInt8(b)
        var k: UInt8 = 0
        if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") || c == 0x0c {
            k |= spaceClass
        }
        if isWordStart(c) { k |= wordStartClass }
        if isWordPart(c) { k |= wordPartClass }
        if k == 0 && !specialBytes.contains(c) { k |= plainClass }
        return k
    }

    static func mayChangeSession(_ p: UnsafeRawBufferPointer) -> Bool {
        byteClasses.withUnsafeBufferPointer { mayChangeSession(p, classes: $0) }
    }

    static func mayChangeSession(_ p: UnsafeRawBufferPointer, classes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = p.count
        var i = 0
        var atStatementStart = true
        while i < n {
            let c = p[i]
            let k = classes[Int(c)]
            if k & wordStartClass != 0 {
                let start = i
                i += 1
                while i < n && classes[Int(p[i])] & wordPartClass != 0 { i += 1 }
                let length = i - start
                if length <= 10 {
                    if atStatementStart && isLeadingWord(p, start..<i) { return true }
                    if isAnywhereWord(p, start..<i) { return true }
                }
                if length >= 8 && contains(p, start..<i, "advisory") { return true }
                if length >= 7 && hasPrefix(p, start..<i, "pg_temp") { return true }
                atStatementStart = false
                continue
            }
            if k & spaceClass != 0 { i += 1; continue }
            if k & plainClass != 0 { i += 1; atStatementStart = false; continue }
            switch c {
            case UInt8(ascii: ";"):
                atStatementStart = true
                i += 1
            case UInt8(ascii: "-") where i + 1 < n && p[i + 1] == UInt8(ascii: "-"):
                while i < n && p[i] != UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "/") where i + 1 < n && p[i + 1] == UInt8(ascii: "*"):
                var depth = 0
                while i < n {
                    if p[i] == UInt8(ascii: "/") && i + 1 < n && p[i + 1] == UInt8(ascii: "*") { depth += 1; i += 2; continue }
                    if p[i] == UInt8(ascii: "*") && i + 1 < n && p[i + 1] == UInt8(ascii: "/") {
                        depth -= 1; i += 2
                        if depth == 0 { break }
                        continue
                    }
                    i += 1
                }
            case UInt8(ascii: "'"):
                // E'…' strings may escape a quote with a backslash.
                let escapes = i > 0 && (p[i - 1] | 0x20) == UInt8(ascii: "e")
                i = skipQuoted(p, from: i, quote: c, backslash: escapes)
                atStatementStart = false
            case UInt8(ascii: "\""):
                let start = i + 1
                i = skipQuoted(p, from: i, quote: c, backslash: false)
                if contains(p, start..<max(start, i - 1), "advisory") { return true }
                atStatementStart = false
            case UInt8(ascii: "$"):
                i = skipDollar(p, from: i)
                atStatementStart = false
            default:
                i += 1
                atStatementStart = false
            }
        }
        return false
    }

    /// `leading`, compared by length first against static bytes: no String, array or global
    /// initialisation per word (the gate runs on every Query and Parse). GateTests checks
    /// that it accepts exactly the words of `leading`.
    static func isLeadingWord(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        switch r.count {
        case 2: return equals(p, r, "do")
        case 3: return equals(p, r, "set")
        case 4: return equals(p, r, "drop")
        case 5: return equals(p, r, "reset") || equals(p, r, "close")
        case 6: return equals(p, r, "listen")
        case 7: return equals(p, r, "prepare") || equals(p, r, "execute") || equals(p, r, "discard")
            || equals(p, r, "declare") || equals(p, r, "explain") || equals(p, r, "release")
        case 8: return equals(p, r, "rollback") || equals(p, r, "unlisten")
        case 9: return equals(p, r, "savepoint")
        case 10: return equals(p, r, "deallocate")
        default: return false
        }
    }

    /// `anywhere`, the same way.
    static func isAnywhereWord(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        switch r.count {
        case 4: return equals(p, r, "temp") || equals(p, r, "hold")
        case 9: return equals(p, r, "temporary")
        case 10: return equals(p, r, "set_config")
        default: return false
        }
    }

    /// The bytes of `r` equal `word` (lower case), ignoring ASCII case.
    static func equals(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, _ word: StaticString) -> Bool {
        r.count == word.utf8CodeUnitCount && hasPrefix(p, r, word)
    }

    static func isWordStart(_ c: UInt8) -> Bool {
        (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_") || c >= 0x80
    }

    static func isWordPart(_ c: UInt8) -> Bool {
        isWordStart(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "$")
    }

    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, _ prefix: StaticString) -> Bool {
        let m = prefix.utf8CodeUnitCount
        guard r.count >= m else { return false }
        let s = prefix.utf8Start
        for j in 0..<m {
            let c = p[r.lowerBound + j]
            if (c >= 0x41 && c <= 0x5a ? c | 0x20 : c) != s[j] { return false }
        }
        return true
    }

    static func contains(_ p: UnsafeRawBufferPointer, _ r: Range<Int>, _ needle: StaticString) -> Bool {
        let m = needle.utf8CodeUnitCount
        guard r.count >= m else { return false }
        let s = needle.utf8Start
        let head = s[0]
        var i = r.lowerBound
        while i + m <= r.upperBound {
            // Most positions fail on the first byte: test it alone before the loop.
            if (p[i] | 0x20) == head {
                var j = 1
                while j < m && (p[i + j] | 0x20) == s[j] { j += 1 }
                if j == m { return true }
            }
            i += 1
        }
        return false
    }

    /// Index after the closing quote (doubled quotes stay inside).
    static func skipQuoted(_ p: UnsafeRawBufferPointer, from start: Int, quote: UInt8, backslash: Bool) -> Int {
        var i = start + 1
        while i < p.count {
            if backslash && p[i] == UInt8(ascii: "\\") { i += 2; continue }
            if p[i] == quote {
                if i + 1 < p.count && p[i + 1] == quote { i += 2; continue }
                return i + 1
            }
            i += 1
        }
        return p.count
    }

    /// `$tag$…$tag$` (tag possibly empty); `$1` parameters are not quotes.
    static func skipDollar(_ p: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start + 1
        while i < p.count && (isWordStart(p[i]) || (p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9"))) {
            if i == start + 1 && p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9") { return i }
            i += 1
        }
        guard i < p.count && p[i] == UInt8(ascii: "$") else { return i }
        let tag = Array(p[start...i])
        i += 1
        while i < p.count {
            if p[i] == UInt8(ascii: "$") && i + tag.count <= p.count && Array(p[i..<(i + tag.count)]) == tag {
                return i + tag.count
            }
            i += 1
        }
        return p.count
    }
}
