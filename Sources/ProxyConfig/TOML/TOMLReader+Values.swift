extension TOMLReader {
    /// Any value at the cursor; its origin is the line it starts on.
    mutating func value() throws(TOMLSyntaxError) -> TOMLValue {
        let start = line
        let kind: TOMLValue.Kind
        switch peek() {
        case UInt8(ascii: "\"")?:
            let multiline = peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"")
            kind = .string(multiline ? try multilineBasicString() : try basicString())
        case UInt8(ascii: "'")?:
            let multiline = peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'")
            kind = .string(multiline ? try multilineLiteralString() : try literalString())
        case UInt8(ascii: "[")?:
            try enterNesting(1)
            defer { nesting -= 1 }
            kind = .array(try array())
        case UInt8(ascii: "{")?:
            try enterNesting(1)
            defer { nesting -= 1 }
            kind = .table(try inlineTable())
        case nil, UInt8(ascii: "\n")?, UInt8(ascii: "\r")?, UInt8(ascii: "#")?:
            throw fail("expected a value, found \(describeNext())")
        default:
            kind = try scalar()
        }
        return TOMLValue(kind, origin: .line(start))
    }

    /// `[v, v, …]` with newlines, comments and a trailing comma allowed.
    mutating func array() throws(TOMLSyntaxError) -> [TOMLValue] {
        let start = line
        advance()
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: start, message: "unterminated array: missing ']'") }
            if peek() == UInt8(ascii: "]") { break }
            items.append(try value())
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: start, message: "unterminated array: missing ']'") }
            if peek() == UInt8(ascii: ",") {
                advance()
            } else if peek() != UInt8(ascii: "]") {
                throw fail("expected ',' or ']' in array, found \(describeNext())")
            }
        }
        advance()
        return items
    }

    /// `{ k = v, a.b = v }`; frozen once read, so later headers cannot extend it.
    mutating func inlineTable() throws(TOMLSyntaxError) -> TOMLTable {
        let start = line
        advance()
        let node = TableNode(kind: .explicit, line: line)
        while true {
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: start, message: "unterminated inline table: missing '}'") }
            if peek() == UInt8(ascii: "}") { break }
            try keyValue(into: node)
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: start, message: "unterminated inline table: missing '}'") }
            if peek() == UInt8(ascii: ",") {
                advance()
            } else if peek() != UInt8(ascii: "}") {
                throw fail("expected ',' or '}' in inline table, found \(describeNext())")
            }
        }
        advance()
        return node.frozen()
    }

    /// Booleans, integers, floats; a bare word gets a hint about quoting.
    mutating func scalar() throws(TOMLSyntaxError) -> TOMLValue.Kind {
        let start = position
        while let c = peek(), Self.isBareKeyByte(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: ":")
        {
            advance()
        }
        let token = String(decoding: bytes[start..<position], as: UTF8.self)
        if token.isEmpty { throw fail("expected a value, found \(describeNext())") }
        if token == "true" { return .boolean(true) }
        if token == "false" { return .boolean(false) }
        if let number = try Self.number(token, line: line) { return number }
        throw fail("'\(token)' is not a value; write strings in quotes: \"\(token)\"")
    }

    /// Parses a number token, nil when it does not look like a number at all.
    static func number(_ token: String, line: Int) throws(TOMLSyntaxError) -> TOMLValue.Kind? {
        let bad = { (what: String) in TOMLSyntaxError(line: line, message: "invalid \(what) '\(token)'") }
        let u = Array(token.utf8)
        let isDigit = { (c: UInt8) in c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        if u.count >= 5, u[0..<4].allSatisfy(isDigit), u[4] == UInt8(ascii: "-") {
            throw TOMLSyntaxError(line: line, message: "dates and times are not supported ('\(token)')")
        }
        if u.count >= 3, isDigit(u[0]), isDigit(u[1]), u[2] == UInt8(ascii: ":") {
            throw TOMLSyntaxError(line: line, message: "dates and times are not supported ('\(token)')")
        }
        var body = Substring(token)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        if body == "inf" { return .float(sign == "-" ? -.infinity : .infinity) }
        if body == "nan" { return .float(.nan) }
        guard let first = body.first, first.isASCII, first.isNumber else { return nil }
        for radix in [("0x", 16, "hexadecimal"), ("0o", 8, "octal"), ("0b", 2, "binary")]
        where body.hasPrefix(radix.0) {
            let digits = body.dropFirst(2)
            guard sign.isEmpty, token.first != "+", let clean = underscoresRemoved(digits, radix: radix.1),
                let n = Int(clean, radix: radix.1)
            else { throw bad("\(radix.2) integer") }
            return .integer(n)
        }
        if body.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            guard isValidFloat(body), let x = Double(sign + body.replacingUnderscores()) else {
                throw bad("float")
            }
            return .float(x)
        }
        guard let clean = underscoresRemoved(body, radix: 10), !(clean.count > 1 && clean.first == "0") else {
            throw bad("integer")
        }
        guard let n = Int(sign + clean) else {
            throw TOMLSyntaxError(line: line, message: "integer '\(token)' is out of range")
        }
        return .integer(n)
    }

    /// Digits with single underscores between digits, without the underscores.
    private static func underscoresRemoved(_ s: Substring, radix: Int) -> String? {
        var out = ""
        var previousWasDigit = false
        for c in s {
            if c == "_" {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
            } else {
                guard c.isASCII, c.hexDigitValue.map({ $0 < radix }) == true else { return nil }
                out.append(c)
                previousWasDigit = true
            }
        }
        return previousWasDigit ? out : nil
    }

    /// `int ( "." digits )? ( [eE] [+-]? digits )?` with at least one of the two parts, no
    /// leading zero in the integer part and underscores only between digits.
    private static func isValidFloat(_ s: Substring) -> Bool {
        var rest = s
        func digits() -> String? {
            let run = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            rest = rest.dropFirst(run.count)
            return underscoresRemoved(run, radix: 10)
        }
        guard let whole = digits(), !(whole.count > 1 && whole.first == "0") else { return false }
        var hasPart = false
        if rest.first == "." {
            rest = rest.dropFirst()
            guard digits() != nil else { return false }
            hasPart = true
        }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            if let s = rest.first, s == "+" || s == "-" { rest = rest.dropFirst() }
            guard digits() != nil else { return false }
            hasPart = true
        }
        return hasPart && rest.isEmpty
    }
}

extension Substring {
    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}
