/// A TOML 1.0 parser that remembers the line of every value (TOMLKit cannot, and semantic
/// errors in proxy.conf must name their line). Dates and times are not supported: nothing
/// in proxy.conf is one. Inline tables may span lines and end with a comma (TOML 1.1).
public enum TOMLParser {
    /// Parses a whole document. The first syntax error stops the parse.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var reader = TOMLReader(text)
        return try reader.document()
    }

    /// Parses `text` as one TOML value (`50`, `true`, `"a b"`, `[1, 2]`), nil when it is not
    /// exactly one value. Used for `-c key=value`.
    public static func parseValue(_ text: String) -> TOMLValue? {
        var reader = TOMLReader(text)
        do {
            reader.skipWhitespace()
            let value = try reader.value()
            reader.skipWhitespace()
            return reader.atEnd ? value : nil
        } catch {
            return nil
        }
    }

    /// Parses a dotted key such as `databases."my db".host`, nil when it is not one.
    public static func parseKeyPath(_ text: String) -> [String]? {
        var reader = TOMLReader(text)
        do {
            reader.skipWhitespace()
            let path = try reader.keyPath()
            reader.skipWhitespace()
            return reader.atEnd ? path : nil
        } catch {
            return nil
        }
    }
}

/// Cursor over the UTF-8 bytes of a document; `line` follows every newline consumed.
struct TOMLReader {
    /// How deep keys, arrays and inline tables may nest. The reader and the tree it builds
    /// recurse once per level, so without a cap a line of 100,000 `[` overflows the stack;
    /// proxy.conf itself nests four levels at most.
    static let maxNesting = 100

    let bytes: [UInt8]
    var position = 0
    var line = 1
    /// Levels open at the cursor: the parts of the key being assigned, plus the arrays and
    /// inline tables around it.
    var nesting = 0

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    var atEnd: Bool { position >= bytes.count }

    func peek(_ offset: Int = 0) -> UInt8? {
        let i = position + offset
        return i < bytes.count ? bytes[i] : nil
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where position < bytes.count {
            if bytes[position] == UInt8(ascii: "\n") { line += 1 }
            position += 1
        }
    }

    /// An error at the cursor's line; at the end of a file that ends with a newline, the
    /// last line rather than the empty one after it.
    func fail(_ message: String) -> TOMLSyntaxError {
        let endsWithNewline = atEnd && bytes.last == UInt8(ascii: "\n") && line > 1
        return TOMLSyntaxError(line: endsWithNewline ? line - 1 : line, message: message)
    }

    /// Names the byte at the cursor for messages: `'x'`, "end of line", "end of file".
    func describeNext() -> String {
        guard let c = peek() else { return "end of file" }
        switch c {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "end of line"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(c)))'"
        case UInt8(ascii: " "): return "a space"
        case UInt8(ascii: "\t"): return "a tab"
        default: return "byte 0x\(String(c, radix: 16))"
        }
    }

    static func isBareKeyByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    mutating func skipWhitespace() {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { advance() }
    }

    /// Skips spaces, newlines and comments (inside arrays and inline tables).
    mutating func skipBlank() throws(TOMLSyntaxError) {
        while let c = peek() {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"): advance()
            case UInt8(ascii: "\r"): try newline()
            case UInt8(ascii: "#"): skipComment()
            default: return
            }
        }
    }

    mutating func skipComment() {
        while let c = peek(), c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") { advance() }
    }

    /// Consumes `\n` or `\r\n`.
    mutating func newline() throws(TOMLSyntaxError) {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else { throw fail("carriage return not followed by a newline") }
            advance(2)
        } else {
            advance()
        }
    }

    /// After a header or key/value: spaces, an optional comment, then a newline or the end.
    mutating func endOfLine(after what: String) throws(TOMLSyntaxError) {
        skipWhitespace()
        if peek() == UInt8(ascii: "#") { skipComment() }
        guard let c = peek() else { return }
        guard c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else {
            throw fail("expected end of line after \(what), found \(describeNext())")
        }
        try newline()
    }

    mutating func document() throws(TOMLSyntaxError) -> TOMLTable {
        let root = TableNode(kind: .explicit, line: 1)
        var current = root
        while true {
            skipWhitespace()
            guard let c = peek() else { break }
            switch c {
            case UInt8(ascii: "#"):
                skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
            case UInt8(ascii: "["):
                current = try header(root: root)
                try endOfLine(after: "the table header")
            default:
                try keyValue(into: current)
                try endOfLine(after: "the value")
            }
        }
        return root.frozen()
    }

    /// `[a.b]` or `[[a.b]]`; returns the table later keys go into.
    mutating func header(root: TableNode) throws(TOMLSyntaxError) -> TableNode {
        let start = line
        let isArray = peek(1) == UInt8(ascii: "[")
        advance(isArray ? 2 : 1)
        skipWhitespace()
        let path = try keyPath()
        skipWhitespace()
        let close = isArray ? "]]" : "]"
        guard peek() == UInt8(ascii: "]"), !isArray || peek(1) == UInt8(ascii: "]") else {
            throw fail("expected '\(close)' to close the table header, found \(describeNext())")
        }
        advance(isArray ? 2 : 1)
        return isArray
            ? try TableNode.appendTable(root: root, path: path, line: start)
            : try TableNode.openTable(root: root, path: path, line: start)
    }

    /// `key = value` (the key may be dotted) stored into `table`.
    mutating func keyValue(into table: TableNode) throws(TOMLSyntaxError) {
        let start = line
        let path = try keyPath()
        skipWhitespace()
        guard peek() == UInt8(ascii: "=") else {
            throw fail("expected '=' after key \(TableNode.dotted(path)), found \(describeNext())")
        }
        advance()
        skipWhitespace()
        try enterNesting(path.count)
        defer { nesting -= path.count }
        var item = try value()
        item.origin = .line(start)
        try table.insert(path: path, value: item, line: start)
    }

    /// One or more simple keys separated by dots.
    mutating func keyPath() throws(TOMLSyntaxError) -> [String] {
        var path = [try simpleKey()]
        while true {
            let save = (position, line)
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else {
                (position, line) = save
                return path
            }
            advance()
            skipWhitespace()
            path.append(try simpleKey())
            guard path.count <= Self.maxNesting else {
                throw fail("key has more than \(Self.maxNesting) dotted parts")
            }
        }
    }

    /// Opens `levels` levels of nesting; fails past `maxNesting` instead of recursing on.
    mutating func enterNesting(_ levels: Int) throws(TOMLSyntaxError) {
        nesting += levels
        guard nesting <= Self.maxNesting else {
            nesting -= levels
            throw fail("keys, arrays and inline tables nested more than \(Self.maxNesting) levels deep")
        }
    }

    mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\""):
            return try basicString()
        case UInt8(ascii: "'"):
            return try literalString()
        case let c? where Self.isBareKeyByte(c):
            let start = position
            while let c = peek(), Self.isBareKeyByte(c) { advance() }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        default:
            throw fail("expected a key, found \(describeNext())")
        }
    }
}
