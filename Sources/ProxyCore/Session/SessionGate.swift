import Glibc

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
///
/// It runs on every simple-protocol Query and named Parse, so words are compared as integers:
/// a word's first eight bytes, lower-cased, are one `UInt64` (`head`), and the word lists are
/// integer constants. SessionGateEquivalenceTests holds the byte-by-byte version this replaced
/// and checks that both answer alike.
public enum SessionGate {
    static let leading: Set<String> = ["set", "reset", "listen", "prepare", "execute", "deallocate",
                                       "discard", "declare", "explain", "do", "savepoint", "rollback",
                                       "release", "unlisten", "close", "drop"]
    static let anywhere: Set<String> = ["temp", "temporary", "hold", "set_config"]

    public static func mayChangeSession(_ sql: ArraySlice<UInt8>) -> Bool {
        sql.withUnsafeBytes { mayChangeSession(UnsafeRawBufferPointer($0)) }
    }

    public static func mayChangeSession(_ p: UnsafeRawBufferPointer) -> Bool {
        guard let text = Text(p) else { return false }
        return byteClasses.withUnsafeBufferPointer { mayChangeSession(text, classes: $0) }
    }

    /// Byte classes, one table lookup per byte instead of a chain of comparisons.
    static let spaceClass: UInt8 = 1, wordStartClass: UInt8 = 2, wordPartClass: UInt8 = 4, plainClass: UInt8 = 8
    /// Bytes that only end a statement's start: not space, not a word's start (digits are
    /// plain), and none of the characters the switch below handles (; - / ' " $).
    static let specialBytes: [UInt8] = [";", "-", "/", "'", "\"", "$"].map { UInt8(ascii: $0) }
    static let byteClasses: [UInt8] = (0..<256).map { b in
        let c = UInt8(b)
        var k: UInt8 = 0
        if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") || c == 0x0c {
            k |= spaceClass
        }
        if isWordStart(c) { k |= wordStartClass }
        if isWordPart(c) { k |= wordPartClass }
        if k & (spaceClass | wordStartClass) == 0 && !specialBytes.contains(c) { k |= plainClass }
        return k
    }

    static func mayChangeSession(_ p: Text, classes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = p.count
        var i = 0
        var atStatementStart = true
        // The last byte that is not a word part: a word that starts before it ends by it, so
        // scanning that word needs no bounds check (`wordEnd`).
        var lastStop = n &- 1
        while lastStop >= 0 && classes[Int(p[lastStop])] & wordPartClass != 0 { lastStop &-= 1 }
        while i < n {
            let c = p[i]
            let k = classes[Int(c)]
            if k & wordStartClass != 0 {
                let word = i..<wordEnd(p, from: i, classes: classes, endsInside: i < lastStop)
                if atStatementStart && isLeadingWord(p, word) { return true }
                if isAnywhereWord(p, word) { return true }
                if word.count >= 7 && isSessionIdentifier(p, word) { return true }
                i = word.upperBound
                atStatementStart = false
                continue
            }
            if k & spaceClass != 0 { i &+= 1; continue }
            if k & plainClass != 0 {
                repeat { i &+= 1 } while i < n && classes[Int(p[i])] & plainClass != 0
                atStatementStart = false
                continue
            }
            switch c {
            case UInt8(ascii: ";"):
                atStatementStart = true
                i += 1
            case UInt8(ascii: "-") where i + 1 < n && p[i + 1] == UInt8(ascii: "-"):
                while i < n && p[i] != UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "/") where i + 1 < n && p[i + 1] == UInt8(ascii: "*"):
                i = skipComment(p, from: i)
            case UInt8(ascii: "'"):
                // E'…' strings may escape a quote with a backslash.
                let escapes = i > 0 && (p[i - 1] | 0x20) == UInt8(ascii: "e")
                i = skipQuoted(p, from: i, quote: c, backslash: escapes)
                atStatementStart = false
            case UInt8(ascii: "\""):
                let start = i + 1
                i = skipQuoted(p, from: i, quote: c, backslash: false)
                if containsAdvisory(p, start..<max(start, i - 1)) { return true }
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

    /// The text being read: a base address that is never nil, and a length (an
    /// `UnsafeRawBufferPointer` would test its optional base address on every load).
    struct Text {
        let base: UnsafeRawPointer, count: Int

        /// Nil for an empty text.
        init?(_ p: UnsafeRawBufferPointer) {
            guard let base = p.baseAddress, p.count > 0 else { return nil }
            self.base = base
            count = p.count
        }

        subscript(i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

        /// The eight bytes at `i`, little-endian; those past the text's end read as zero.
        @inline(__always) func load(at i: Int) -> UInt64 {
            if i &+ 8 <= count { return loadInside(at: i) }
            return loadNearEnd(at: i)
        }

        /// The eight bytes at `i`, all of which are in the text.
        @inline(__always) func loadInside(at i: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        }

        /// Out of line: only a word in the text's last eight bytes needs it.
        @inline(never) func loadNearEnd(at i: Int) -> UInt64 {
            var w: UInt64 = 0
            var j = count &- 1
            while j >= i { w = w &<< 8 | UInt64(self[j]); j &-= 1 }
            return w
        }
    }

    /// Index after the word that starts at `start`. With `endsInside` (a byte after `start` is
    /// not a word part) the loop needs no bounds check: unrolled, three instructions a byte.
    @inline(__always)
    static func wordEnd(_ p: Text, from start: Int, classes: UnsafeBufferPointer<UInt8>, endsInside: Bool) -> Int {
        var i = start &+ 1
        if endsInside {
            while true {
                if classes[Int(p[i])] & wordPartClass == 0 { return i }
                if classes[Int(p[i &+ 1])] & wordPartClass == 0 { return i &+ 1 }
                if classes[Int(p[i &+ 2])] & wordPartClass == 0 { return i &+ 2 }
                if classes[Int(p[i &+ 3])] & wordPartClass == 0 { return i &+ 3 }
                i &+= 4
            }
        }
        while i < p.count && classes[Int(p[i])] & wordPartClass != 0 { i &+= 1 }
        return i
    }

    /// `leading`, by length, then compared as a folded integer (`head`, and `tail` for bytes 8
    /// and 9). SessionGateTests checks that it accepts exactly the words of `leading`.
    @inline(__always)
    static func isLeadingWord(_ p: Text, _ r: Range<Int>) -> Bool {
        let h = head(p, r)
        switch r.count {
        case 2: return h == 0x6f64                                                  // do
        case 3: return h == 0x74_6573                                               // set
        case 4: return h == 0x706f_7264                                             // drop
        case 5: return h == 0x74_6573_6572 || h == 0x65_736f_6c63                   // reset, close
        case 6: return h == 0x6e65_7473_696c                                        // listen
        case 7: return h == 0x65_7261_7065_7270 || h == 0x65_7475_6365_7865         // prepare, execute
            || h == 0x64_7261_6373_6964 || h == 0x65_7261_6c63_6564                 // discard, declare
            || h == 0x6e_6961_6c70_7865 || h == 0x65_7361_656c_6572                 // explain, release
        case 8: return h == 0x6b63_6162_6c6c_6f72 || h == 0x6e65_7473_696c_6e75     // rollback, unlisten
        case 9: return h == 0x6e69_6f70_6576_6173 && tail(p, r) == 0x74             // savepoint
        case 10: return h == 0x6163_6f6c_6c61_6564 && tail(p, r) == 0x6574          // deallocate
        default: return false
        }
    }

    /// `anywhere`, the same way.
    @inline(__always)
    static func isAnywhereWord(_ p: Text, _ r: Range<Int>) -> Bool {
        switch r.count {
        case 4: let h = head(p, r); return h == 0x706d_6574 || h == 0x646c_6f68     // temp, hold
        case 9: return head(p, r) == 0x7261_726f_706d_6574 && tail(p, r) == 0x79        // temporary
        case 10: return head(p, r) == 0x666e_6f63_7f74_6573 && tail(p, r) == 0x6769     // set_config
        default: return false
        }
    }

    /// Whether `word` (seven bytes or more) starts with "pg_temp" or contains "advisory".
    @inline(__always)
    static func isSessionIdentifier(_ p: Text, _ word: Range<Int>) -> Bool {
        let length = word.count
        let h = head(p, word)
        if h & lowBytes(7) == pgTemp { return true }
        if length == 8 { return h == advisory }
        // "advisory" starts with an "a": unless the head has one with room for the other seven
        // bytes before the word ends, it can only start from byte 8 on.
        let aInHead = zeroBytes(h ^ (ones &* 0x61)) & lowBytes(length &- 7) != 0
        let from = aInHead ? word.lowerBound : word.lowerBound &+ 8
        return from &+ 8 <= word.upperBound && containsAdvisory(p, from..<word.upperBound)
    }

    /// "pg_temp" and "advisory", folded as `head` folds.
    static let pgTemp: UInt64 = 0x70_6d65_747f_6770, advisory: UInt64 = 0x7972_6f73_6976_6461

    /// The first eight bytes of `r` (fewer if it is shorter), folded: each byte `| 0x20`,
    /// little-endian, zero past the end. Folding lower-cases ASCII letters and makes "_" 0x7f,
    /// and maps no other byte that can be in a word (digit, "$", byte ≥ 0x80) onto a letter
    /// or "_", so for words equal heads mean the same bytes but for ASCII case. For any bytes,
    /// a folded byte equals a lower-case letter exactly when `byte | 0x20` does.
    @inline(__always)
    static func head(_ p: Text, _ r: Range<Int>) -> UInt64 {
        fold(p.load(at: r.lowerBound)) & lowBytes(r.count)
    }

    /// Bytes 8 and 9 of `r` (those it has), folded the same way.
    static func tail(_ p: Text, _ r: Range<Int>) -> UInt64 {
        fold(p.load(at: r.lowerBound &+ 8)) & lowBytes(min(r.count &- 8, 2))
    }

    /// Whether the bytes of `r` contain "advisory", ignoring ASCII case. Eight positions at a
    /// time, only those holding an "a" are compared, each as one folded integer.
    static func containsAdvisory(_ p: Text, _ r: Range<Int>) -> Bool {
        let last = r.upperBound &- 8     // the last position "advisory" fits at
        var i = r.lowerBound
        while i <= last {
            var a = zeroBytes(fold(p.loadInside(at: i)) ^ (ones &* 0x61))     // 0x61: "a"
            if last &- i < 7 { a &= lowBytes(last &- i &+ 1) }
            while a != 0 {
                if fold(p.loadInside(at: i &+ a.trailingZeroBitCount &>> 3)) == advisory { return true }
                a &= a &- 1
            }
            i &+= 8
        }
        return false
    }

    /// Whether the gate's answer for `a` is its answer for `b` too, read without scanning `b`:
    /// both have the same length, `a` holds no "$", and they differ only where both hold an
    /// ASCII digit (`aid = 12345` against `aid = 67890`). A digit keeps its byte's class (a
    /// word's part, or plain), is no quote, comment or separator byte, and is in none of the
    /// words and identifiers the gate looks for, so neither a word's bounds nor a match can
    /// change; only a dollar quote's tag compares digits, hence no "$" (and then none in `b`).
    /// Eight bytes at a time: about two instructions a byte.
    public static func sameAnswer(_ a: UnsafeRawBufferPointer, aHasDollar: Bool, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = a.count
        guard n == b.count else { return false }
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        if aHasDollar { return memcmp(pa, pb, n) == 0 }
        var i = 0
        while i &+ 8 <= n {
            let x = pa.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let y = pb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if x != y && !differOnlyInDigits(x, y) { return false }
            i &+= 8
        }
        guard i < n else { return true }
        // The last bytes, zero-padded alike.
        var x: UInt64 = 0, y: UInt64 = 0
        var j = n &- 1
        while j >= i {
            x = x &<< 8 | UInt64(pa.load(fromByteOffset: j, as: UInt8.self))
            y = y &<< 8 | UInt64(pb.load(fromByteOffset: j, as: UInt8.self))
            j &-= 1
        }
        return x == y || differOnlyInDigits(x, y)
    }

    /// Whether every byte where `x` and `y` differ is a digit in both.
    @inline(__always) static func differOnlyInDigits(_ x: UInt64, _ y: UInt64) -> Bool {
        let differing = ~zeroBytes(x ^ y) & (ones &* 0x80)
        return differing & digitBytes(x) & digitBytes(y) == differing
    }

    /// The high bit of each byte of `w` that is an ASCII digit ("0"…"9"), and no other bit.
    /// Below 0x80, adding 0x50 sets a byte's high bit from 0x30 on and adding 0x46 from 0x3a
    /// on, with no carry into the next byte.
    @inline(__always) static func digitBytes(_ w: UInt64) -> UInt64 {
        let low = w & (ones &* 0x7f)
        return (low &+ ones &* 0x50) & ~(low &+ ones &* 0x46) & ~w & (ones &* 0x80)
    }

    static let ones: UInt64 = 0x0101_0101_0101_0101

    @inline(__always) static func fold(_ w: UInt64) -> UInt64 { w | ones &* 0x20 }

    /// The high bit of each byte of `w` that is zero, and no other bit.
    @inline(__always) static func zeroBytes(_ w: UInt64) -> UInt64 {
        let low7 = ones &* 0x7f
        return ~(((w & low7) &+ low7) | w) & (ones &* 0x80)
    }

    /// The bits of the low `count` bytes (all 64 from 8 on).
    @inline(__always) static func lowBytes(_ count: Int) -> UInt64 {
        count >= 8 ? ~0 : (1 &<< UInt64(truncatingIfNeeded: 8 &* count)) &- 1
    }

    static func isWordStart(_ c: UInt8) -> Bool {
        (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_") || c >= 0x80
    }

    static func isWordPart(_ c: UInt8) -> Bool {
        isWordStart(c) || isDigit(c) || c == UInt8(ascii: "$")
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// Index after the (nested) `/* … */` comment that starts at `start`.
    static func skipComment(_ p: Text, from start: Int) -> Int {
        var i = start
        var depth = 0
        while i < p.count {
            if p[i] == UInt8(ascii: "/") && i + 1 < p.count && p[i + 1] == UInt8(ascii: "*") { depth += 1; i += 2; continue }
            if p[i] == UInt8(ascii: "*") && i + 1 < p.count && p[i + 1] == UInt8(ascii: "/") {
                depth -= 1; i += 2
                if depth == 0 { break }
                continue
            }
            i += 1
        }
        return i
    }

    /// Index after the closing quote (doubled quotes stay inside).
    static func skipQuoted(_ p: Text, from start: Int, quote: UInt8, backslash: Bool) -> Int {
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
    static func skipDollar(_ p: Text, from start: Int) -> Int {
        var i = start + 1
        while i < p.count && (isWordStart(p[i]) || isDigit(p[i])) {
            if i == start + 1 && isDigit(p[i]) { return i }
            i += 1
        }
        guard i < p.count && p[i] == UInt8(ascii: "$") else { return i }
        let tagLength = i + 1 - start       // with both dollars
        i += 1
        while i < p.count {
            if p[i] == UInt8(ascii: "$") && i + tagLength <= p.count && sameBytes(p, i, start, count: tagLength) {
                return i + tagLength
            }
            i += 1
        }
        return p.count
    }

    static func sameBytes(_ p: Text, _ a: Int, _ b: Int, count: Int) -> Bool {
        for j in 0..<count where p[a + j] != p[b + j] { return false }
        return true
    }
}
