/// A lexical gate in front of the SQL parser: says whether a query text may change session
/// state, so that the (costly) parse runs only for texts that might. It classifies nothing:
/// a "maybe" only sends the text to `SQLAnalysis`, which decides.
///
/// It skips whitespace, comments, string literals, quoted identifiers and dollar-quoted
/// bodies, and answers "maybe" for:
/// - a statement that starts with SET, RESET, LISTEN, PREPARE, EXECUTE, DEALLOCATE, DISCARD,
///   DECLARE or EXPLAIN (so `UPDATE … SET` is not a candidate);
/// - a statement that starts with DO (its body is opaque), SAVEPOINT, ROLLBACK or RELEASE
///   (savepoints scope SET), UNLISTEN, CLOSE or DROP (they release what pins a client);
/// - the words TEMP / TEMPORARY / HOLD / SET_CONFIG anywhere, any identifier starting with
///   "pg_temp" (`CREATE TABLE pg_temp.x`), and any identifier containing "advisory".
public enum SessionGate {
    static let leading: Set<String> = ["set", "reset", "listen", "prepare", "execute", "deallocate",
                                       "discard", "declare", "explain", "do", "savepoint", "rollback",
                                       "release", "unlisten", "close", "drop"]
    static let anywhere: Set<String> = ["temp", "temporary", "hold", "set_config"]

    public static func mayChangeSession(_ sql: ArraySlice<UInt8>) -> Bool {
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

    public static func mayChangeSession(_ p: UnsafeRawBufferPointer) -> Bool {
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
