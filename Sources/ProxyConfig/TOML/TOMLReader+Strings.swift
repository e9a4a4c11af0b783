extension TOMLReader {
    private static let quote = UInt8(ascii: "\"")
    private static let apostrophe = UInt8(ascii: "'")
    private static let backslash = UInt8(ascii: "\\")
    private static let newlineByte = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// Control characters other than tab are not allowed inside strings.
    private static func isControl(_ c: UInt8) -> Bool {
        (c < 0x20 && c != UInt8(ascii: "\t")) || c == 0x7F
    }

    /// `"…"` with escapes, on one line.
    mutating func basicString() throws(TOMLSyntaxError) -> String {
        advance()
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != Self.newlineByte, c != Self.carriageReturn else {
                throw fail("unterminated string: missing closing '\"'")
            }
            switch c {
            case Self.quote:
                advance()
                return String(decoding: out, as: UTF8.self)
            case Self.backslash:
                try escape(into: &out)
            case _ where Self.isControl(c):
                throw fail("control character 0x\(String(c, radix: 16)) in string; use an escape")
            default:
                out.append(c)
                advance()
            }
        }
    }

    /// `'…'` taken literally, on one line.
    mutating func literalString() throws(TOMLSyntaxError) -> String {
        advance()
        let start = position
        while true {
            guard let c = peek(), c != Self.newlineByte, c != Self.carriageReturn else {
                throw fail("unterminated string: missing closing \"'\"")
            }
            if c == Self.apostrophe { break }
            if Self.isControl(c) { throw fail("control character 0x\(String(c, radix: 16)) in string") }
            advance()
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        advance()
        return text
    }

    /// `"""…"""`: escapes, newlines kept, a backslash at the end of a line joins lines.
    mutating func multilineBasicString() throws(TOMLSyntaxError) -> String {
        let start = line
        advance(3)
        try skipFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else {
                throw TOMLSyntaxError(line: start, message: "unterminated multi-line string: missing closing '\"\"\"'")
            }
            switch c {
            case Self.quote:
                if try closeMultiline(Self.quote, into: &out) { return String(decoding: out, as: UTF8.self) }
            case Self.backslash where isLineEndingBackslash():
                advance()
                while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == Self.newlineByte
                    || c == Self.carriageReturn
                {
                    advance()
                }
            case Self.backslash:
                try escape(into: &out)
            case Self.carriageReturn:
                try newline()
                out.append(Self.newlineByte)
            case _ where c != Self.newlineByte && Self.isControl(c):
                throw fail("control character 0x\(String(c, radix: 16)) in string; use an escape")
            default:
                out.append(c)
                advance()
            }
        }
    }

    /// `'''…'''` taken literally, newlines kept.
    mutating func multilineLiteralString() throws(TOMLSyntaxError) -> String {
        let start = line
        advance(3)
        try skipFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else {
                throw TOMLSyntaxError(line: start, message: "unterminated multi-line string: missing closing \"'''\"")
            }
            switch c {
            case Self.apostrophe:
                if try closeMultiline(Self.apostrophe, into: &out) { return String(decoding: out, as: UTF8.self) }
            case Self.carriageReturn:
                try newline()
                out.append(Self.newlineByte)
            case _ where c != Self.newlineByte && Self.isControl(c):
                throw fail("control character 0x\(String(c, radix: 16)) in string")
            default:
                out.append(c)
                advance()
            }
        }
    }

    /// A newline right after the opening delimiter is not part of the string.
    private mutating func skipFirstNewline() throws(TOMLSyntaxError) {
        if peek() == Self.newlineByte || peek() == Self.carriageReturn { try newline() }
    }

    /// At a run of quotes: three or more close the string (up to two more belong to it);
    /// fewer are content. Returns true when the string ended.
    private mutating func closeMultiline(_ delimiter: UInt8, into out: inout [UInt8]) throws(TOMLSyntaxError) -> Bool {
        var run = 0
        while peek(run) == delimiter { run += 1 }
        if run < 3 {
            out.append(contentsOf: repeatElement(delimiter, count: run))
            advance(run)
            return false
        }
        if run > 5 { throw fail("too many quotes at the end of a multi-line string") }
        out.append(contentsOf: repeatElement(delimiter, count: run - 3))
        advance(run)
        return true
    }

    /// A backslash followed only by spaces up to the end of the line.
    private func isLineEndingBackslash() -> Bool {
        var i = 1
        while let c = peek(i), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
        return peek(i) == Self.newlineByte || peek(i) == Self.carriageReturn
    }

    /// `\b \t \n \f \r \e \" \\ \u plus 4 hex digits, \U plus 8` at the cursor.
    private mutating func escape(into out: inout [UInt8]) throws(TOMLSyntaxError) {
        advance()
        guard let c = peek() else { throw fail("unterminated escape sequence") }
        advance()
        switch c {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "e"): out.append(0x1B)
        case Self.quote: out.append(Self.quote)
        case Self.backslash: out.append(Self.backslash)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = c == UInt8(ascii: "u") ? 4 : 8
            guard position + count <= bytes.count,
                bytes[position..<position + count].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
                let code = UInt32(String(decoding: bytes[position..<position + count], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else {
                throw fail("invalid unicode escape: \\\(Character(Unicode.Scalar(c))) needs \(count) hex digits "
                    + "of a Unicode scalar value")
            }
            advance(count)
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            let shown = (0x21...0x7E).contains(c) ? "\\\(Character(Unicode.Scalar(c)))" : "backslash"
            throw fail("invalid escape sequence '\(shown)' in string")
        }
    }
}
