/// Produces the normalized text of a statement: every literal (string, number, bit string,
/// dollar-quoted string) becomes `$n`, numbered after the highest `$n` already present;
/// comments are dropped and whitespace runs become one space. Identifiers, keywords, `TRUE`,
/// `FALSE` and `NULL` are kept. Works on the text, so it needs no second parser call.
enum Normalizer {
    static func normalize(bytes s: UnsafeBufferPointer<UInt8>) -> String {
        let n = s.count
        var next = highestParameter(s) + 1
        var out: [UInt8] = []
        out.reserveCapacity(n + 8)
        var pendingSpace = false
        var i = 0

        func emitSpaceIfPending() {
            if pendingSpace, !out.isEmpty { out.append(0x20) }
            pendingSpace = false
        }
        func emitParameter() {
            emitSpaceIfPending()
            out.append(UInt8(ascii: "$"))
            // The digits of `next`, without making a String and an Array of them.
            var divisor = 1
            while divisor <= next / 10 { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(truncatingIfNeeded: next / divisor % 10) + 0x30)
                divisor /= 10
            }
            next += 1
        }

        while i < n {
            let c = s[i]
            if SQLLexer.isSpace(c) { pendingSpace = true; i += 1; continue }
            if c == UInt8(ascii: "-"), i + 1 < n, s[i + 1] == UInt8(ascii: "-") {
                i = SQLLexer.skipLineComment(s, i); pendingSpace = true; continue
            }
            if c == UInt8(ascii: "/"), i + 1 < n, s[i + 1] == UInt8(ascii: "*") {
                i = SQLLexer.skipBlockComment(s, i); pendingSpace = true; continue
            }
            if c == UInt8(ascii: "'") {
                i = SQLLexer.skipQuoted(s, i, backslashEscapes: false); emitParameter(); continue
            }
            if c == UInt8(ascii: "\"") {
                let end = SQLLexer.skipQuoted(s, i, backslashEscapes: false)
                emitSpaceIfPending()
                out.append(contentsOf: UnsafeBufferPointer(rebasing: s[i..<end]))
                i = end
                continue
            }
            if c == UInt8(ascii: "$") {
                if i + 1 < n, SQLLexer.isDigit(s[i + 1]) {
                    var end = i + 1
                    while end < n, SQLLexer.isDigit(s[end]) { end += 1 }
                    emitSpaceIfPending()
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: s[i..<end]))
                    i = end
                    continue
                }
                if let end = SQLLexer.skipDollarQuoted(s, i) { i = end; emitParameter(); continue }
            }
            if SQLLexer.isDigit(c) || (c == UInt8(ascii: ".") && i + 1 < n && SQLLexer.isDigit(s[i + 1])) {
                i = SQLLexer.skipNumber(s, i); emitParameter(); continue
            }
            if SQLLexer.isIdentifierStart(c) {
                // E'…', B'…', X'…', N'…' and U&'…' are literals with a prefix.
                if i + 1 < n, s[i + 1] == UInt8(ascii: "'"), SQLLexer.isLiteralPrefix(c) {
                    let backslash = c | 0x20 == UInt8(ascii: "e")
                    i = SQLLexer.skipQuoted(s, i + 1, backslashEscapes: backslash); emitParameter(); continue
                }
                if c | 0x20 == UInt8(ascii: "u"), i + 2 < n, s[i + 1] == UInt8(ascii: "&"), s[i + 2] == UInt8(ascii: "'") {
                    i = SQLLexer.skipQuoted(s, i + 2, backslashEscapes: false); emitParameter(); continue
                }
                var end = i + 1
                while end < n, SQLLexer.isIdentifierPart(s[end]) { end += 1 }
                emitSpaceIfPending()
                out.append(contentsOf: UnsafeBufferPointer(rebasing: s[i..<end]))
                i = end
                continue
            }
            emitSpaceIfPending()
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The highest `$n` in the text (0 if none), so new placeholders do not collide.
    static func highestParameter(_ s: UnsafeBufferPointer<UInt8>) -> Int {
        var highest = 0
        var i = 0
        while i < s.count {
            if s[i] == UInt8(ascii: "$"), i + 1 < s.count, SQLLexer.isDigit(s[i + 1]),
               i == 0 || !SQLLexer.isIdentifierPart(s[i - 1]) {
                var value = 0
                var j = i + 1
                while j < s.count, SQLLexer.isDigit(s[j]), value < 1_000_000 {
                    value = value * 10 + Int(s[j] - 0x30)
                    j += 1
                }
                highest = max(highest, value)
                i = j
            } else {
                i += 1
            }
        }
        return highest
    }
}

/// Byte-level helpers shared by the normalizer and the PREPARE splitter. They follow
/// PostgreSQL's lexical rules (scan.l) closely enough to skip tokens, not to validate them.
enum SQLLexer {
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 || c == 0x0C
    }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    @inline(__always) static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F || c >= 0x80
    }
    @inline(__always) static func isIdentifierPart(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || isDigit(c) || c == 0x24
    }
    static func isLiteralPrefix(_ c: UInt8) -> Bool {
        switch c | 0x20 {
        case UInt8(ascii: "e"), UInt8(ascii: "b"), UInt8(ascii: "x"), UInt8(ascii: "n"): return true
        default: return false
        }
    }

    static func skipLineComment(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < s.count, s[i] != 0x0A { i += 1 }
        return i
    }

    /// Block comments nest in PostgreSQL.
    static func skipBlockComment(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var depth = 0
        var i = start
        while i < s.count {
            if s[i] == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "*") {
                depth += 1; i += 2; continue
            }
            if s[i] == UInt8(ascii: "*"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "/") {
                depth -= 1; i += 2
                if depth == 0 { return i }
                continue
            }
            i += 1
        }
        return i
    }

    /// Skips a quoted token starting at the quote `s[start]`; a doubled quote is an escaped
    /// quote. Adjacent string constants separated by a newline continue the literal.
    static func skipQuoted(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, backslashEscapes: Bool) -> Int {
        let quote = s[start]
        var i = start + 1
        while i < s.count {
            let c = s[i]
            if backslashEscapes, c == UInt8(ascii: "\\") { i += 2; continue }
            if c == quote {
                if i + 1 < s.count, s[i + 1] == quote { i += 2; continue }
                i += 1
                if quote == UInt8(ascii: "'"), let continued = continuation(s, i) {
                    i = continued + 1
                    continue
                }
                return i
            }
            i += 1
        }
        return s.count
    }

    /// `'a'\n'b'` is one literal in SQL: whitespace containing a newline, then a quote.
    private static func continuation(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var i = start
        var sawNewline = false
        while i < s.count, isSpace(s[i]) {
            if s[i] == 0x0A || s[i] == 0x0D { sawNewline = true }
            i += 1
        }
        return sawNewline && i < s.count && s[i] == UInt8(ascii: "'") ? i : nil
    }

    /// Skips `$tag$ … $tag$` starting at `s[start] == "$"`; nil if it is not a dollar quote.
    static func skipDollarQuoted(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var i = start + 1
        while i < s.count, s[i] != UInt8(ascii: "$") {
            guard isIdentifierPart(s[i]), s[i] != UInt8(ascii: "$") else { return nil }
            i += 1
        }
        guard i < s.count else { return nil }
        let tagLength = i - start + 1
        i += 1
        while i + tagLength <= s.count {
            if s[i] == UInt8(ascii: "$") {
                var matches = true
                for k in 0..<tagLength where s[i + k] != s[start + k] { matches = false; break }
                if matches { return i + tagLength }
            }
            i += 1
        }
        return s.count
    }

    static func skipNumber(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < s.count {
            let c = s[i]
            if isDigit(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") { i += 1; continue }
            if c | 0x20 == UInt8(ascii: "e"), i + 1 < s.count {
                let d = s[i + 1]
                if isDigit(d) { i += 2; continue }
                if (d == UInt8(ascii: "+") || d == UInt8(ascii: "-")), i + 2 < s.count, isDigit(s[i + 2]) {
                    i += 3; continue
                }
            }
            if c | 0x20 == UInt8(ascii: "x") || c | 0x20 == UInt8(ascii: "o") || c | 0x20 == UInt8(ascii: "b"),
               i == start + 1, s[start] == UInt8(ascii: "0") {
                i += 1
                while i < s.count, isIdentifierPart(s[i]) { i += 1 }
                return i
            }
            break
        }
        return i
    }

    /// Skips whitespace and comments from `start`.
    static func skipTrivia(_ s: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < s.count {
            if isSpace(s[i]) { i += 1; continue }
            if s[i] == UInt8(ascii: "-"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "-") {
                i = skipLineComment(s, i); continue
            }
            if s[i] == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "*") {
                i = skipBlockComment(s, i); continue
            }
            break
        }
        return i
    }

    /// Whether an unquoted word equal to `word` (ASCII, case-insensitive) starts at `start`.
    static func wordMatches(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard start + count <= s.count else { return false }
        for k in 0..<count where s[start + k] | 0x20 != word.utf8Start[k] | 0x20 { return false }
        return start + count == s.count || !isIdentifierPart(s[start + count])
    }
}

/// Finds the query inside `PREPARE name [(types)] AS query`.
enum PrepareText {
    static func queryText(ofPrepare text: String) -> String? {
        var text = text
        return text.withUTF8 { s -> String? in
            var i = SQLLexer.skipTrivia(s, 0)
            guard SQLLexer.wordMatches(s, i, "prepare") else { return nil }
            i = SQLLexer.skipTrivia(s, i + 7)
            guard i < s.count else { return nil }
            if s[i] == UInt8(ascii: "\"") {
                i = SQLLexer.skipQuoted(s, i, backslashEscapes: false)
            } else {
                while i < s.count, SQLLexer.isIdentifierPart(s[i]) { i += 1 }
            }
            i = SQLLexer.skipTrivia(s, i)
            if i < s.count, s[i] == UInt8(ascii: "(") {
                var depth = 0
                while i < s.count {
                    let c = s[i]
                    if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                        i = SQLLexer.skipQuoted(s, i, backslashEscapes: false); continue
                    }
                    if c == UInt8(ascii: "(") { depth += 1 }
                    if c == UInt8(ascii: ")") { depth -= 1; if depth == 0 { i += 1; break } }
                    i += 1
                }
                i = SQLLexer.skipTrivia(s, i)
            }
            guard SQLLexer.wordMatches(s, i, "as") else { return nil }
            i = SQLLexer.skipTrivia(s, i + 2)
            guard i < s.count else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: s[i...]), as: UTF8.self)
        }
    }
}
