import Testing
@testable import ProxyConfig

private func parse(_ text: String) throws -> TOMLTable {
    try TOMLParser.parse(text)
}

private func syntaxError(_ text: String) -> TOMLSyntaxError? {
    do {
        _ = try TOMLParser.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct TOMLParserTests {
    @Test func tablesKeysAndLines() throws {
        let doc = try parse("""
            # comment
            top = 1

            [a.b]   # trailing comment
            x = "s"
            [a]
            y = true
            """)
        #expect(doc["top"]?.integer == 1)
        #expect(doc["top"]?.line == 2)
        let a = try #require(doc["a"]?.table)
        #expect(a["y"]?.boolean == true)
        #expect(a["y"]?.line == 7)
        #expect(doc["a"]?.line == 6)
        let b = try #require(a["b"]?.table)
        #expect(b["x"]?.string == "s")
        #expect(b["x"]?.line == 5)
        #expect(a["b"]?.line == 4)
        #expect(a.keys == ["b", "y"])
    }

    @Test func dottedBareAndQuotedKeys() throws {
        let doc = try parse("""
            site."google.com" = 1
            'lit key' = 2
            "" = 3
            a . b . c = 4
            bare-key_1 = 5
            """)
        #expect(doc["site"]?.table?["google.com"]?.integer == 1)
        #expect(doc["lit key"]?.integer == 2)
        #expect(doc[""]?.integer == 3)
        #expect(doc["a"]?.table?["b"]?.table?["c"]?.integer == 4)
        #expect(doc["bare-key_1"]?.integer == 5)
        #expect(TOMLParser.parseKeyPath("databases.\"my db\".host") == ["databases", "my db", "host"])
        #expect(TOMLParser.parseKeyPath("a..b") == nil)
    }

    @Test func arraysOfTables() throws {
        let doc = try parse("""
            [[cache.rules]]
            name = "one"
            [[cache.rules]]
            name = "two"
            [cache.rules.sub]
            k = 1
            """)
        let rules = try #require(doc["cache"]?.table?["rules"]?.array)
        #expect(rules.count == 2)
        #expect(rules[0].table?["name"]?.string == "one")
        #expect(rules[1].table?["name"]?.string == "two")
        #expect(rules[0].line == 1)
        #expect(rules[1].line == 3)
        #expect(rules[1].table?["sub"]?.table?["k"]?.integer == 1)
    }

    @Test(arguments: [
        (#""tab\there""#, "tab\there"),
        (#""q\"b\\""#, "q\"b\\"),
        (#""\u00e9\U0001F600""#, "é😀"),
        (#""\b\f\n\r\e""#, "\u{8}\u{c}\n\r\u{1b}"),
        (#"'C:\path\n'"#, #"C:\path\n"#),
        ("\"\"\"\nline1\nline2\"\"\"", "line1\nline2"),
        ("\"\"\"a \\\n    b\"\"\"", "a b"),
        ("\"\"\"two \"\"quotes\"\"\"\"\"", "two \"\"quotes\"\""),
        ("'''\nraw \\n 'x'\n'''", "raw \\n 'x'\n"),
        ("\"é ü\"", "é ü"),
    ])
    func strings(source: String, expected: String) throws {
        let doc = try parse("v = \(source)\nafter = 1")
        #expect(doc["v"]?.string == expected)
    }

    @Test func multiLineStringKeepsLineCount() throws {
        let doc = try parse("a = \"\"\"\none\ntwo\n\"\"\"\nb = 1")
        #expect(doc["a"]?.line == 1)
        #expect(doc["b"]?.line == 5)
    }

    @Test(arguments: [
        ("42", 42), ("+17", 17), ("-5", -5), ("0", 0), ("1_000_000", 1_000_000),
        ("0xDEAD_beef", 0xDEAD_BEEF), ("0o755", 0o755), ("0b1101", 13),
    ])
    func integers(source: String, expected: Int) throws {
        #expect(try parse("v = \(source)")["v"]?.integer == expected)
    }

    @Test(arguments: [
        ("1.5", 1.5), ("-0.25", -0.25), ("5e3", 5000), ("1E-2", 0.01), ("6.626e-34", 6.626e-34),
        ("1_000.5", 1000.5), ("+inf", Double.infinity), ("-inf", -Double.infinity),
    ])
    func floats(source: String, expected: Double) throws {
        #expect(try parse("v = \(source)")["v"]?.float == expected)
    }

    @Test func nanAndBooleans() throws {
        let doc = try parse("n = nan\nt = true\nf = false")
        #expect(doc["n"]?.float?.isNaN == true)
        #expect(doc["t"]?.boolean == true)
        #expect(doc["f"]?.boolean == false)
    }

    @Test func arrays() throws {
        let doc = try parse("""
            a = [1, 2, 3]
            b = [
              "x",   # first
              "y",
            ]
            c = []
            d = [[1, 2], ["m", 1.5]]
            e = 1
            """)
        #expect(doc["a"]?.array?.compactMap(\.integer) == [1, 2, 3])
        let b = try #require(doc["b"]?.array)
        #expect(b.compactMap(\.string) == ["x", "y"])
        #expect(b.map(\.line) == [3, 4])
        #expect(doc["c"]?.array?.isEmpty == true)
        #expect(doc["d"]?.array?[1].array?[1].float == 1.5)
        #expect(doc["e"]?.line == 8)
    }

    @Test func inlineTables() throws {
        let doc = try parse("""
            point = { x = 1, y.z = "two" }
            empty = {}
            multi = {
              a = 1,
              b = [1, 2],
            }
            """)
        #expect(doc["point"]?.table?["x"]?.integer == 1)
        #expect(doc["point"]?.table?["y"]?.table?["z"]?.string == "two")
        #expect(doc["empty"]?.table?.isEmpty == true)
        #expect(doc["multi"]?.table?["b"]?.array?.count == 2)
    }

    @Test func crlfLineEndings() throws {
        let doc = try parse("a = 1\r\n[t]\r\nb = \"x\"\r\n")
        #expect(doc["t"]?.table?["b"]?.line == 3)
    }

    @Test func standaloneValues() {
        #expect(TOMLParser.parseValue("50")?.integer == 50)
        #expect(TOMLParser.parseValue("true")?.boolean == true)
        #expect(TOMLParser.parseValue("\"a b\"")?.string == "a b")
        #expect(TOMLParser.parseValue("[\"a\", \"b\"]")?.array?.count == 2)
        #expect(TOMLParser.parseValue("10.0.0.2") == nil)
        #expect(TOMLParser.parseValue("session") == nil)
        #expect(TOMLParser.parseValue("5s") == nil)
    }

    @Test(arguments: [
        ("a = 1\nb = \"unterminated\nc = 3", 2, "unterminated string"),
        ("a = 1\n\n[t\nx = 1", 3, "expected ']'"),
        ("a = 1\na = 2", 2, "duplicate key a (first defined on line 1)"),
        ("[t]\nx = 1\n[t]", 3, "table [t] is already defined on line 1"),
        ("x = 1 2", 1, "expected end of line"),
        ("mode = session", 1, "write strings in quotes"),
        ("a = [1, 2\nb = 3", 2, "expected ',' or ']'"),
        ("a = \"bad \\q escape\"", 1, "invalid escape sequence '\\q'"),
        ("a = 01", 1, "invalid integer '01'"),
        ("a = 1__0", 1, "invalid integer"),
        ("a = 1.", 1, "invalid float"),
        ("a = 99999999999999999999", 1, "out of range"),
        ("a = 1979-05-27", 1, "dates and times are not supported"),
        ("a =", 1, "expected a value"),
        ("a\n", 1, "expected '='"),
        ("x = 1\ny = \"\"\"\nopen", 2, "unterminated multi-line string"),
        ("a.b = 1\n[a]", 2, "table [a] is already defined"),
        ("[a]\nb = 1\n[[a]]", 3, "not an array of tables"),
        ("t = { x = 1 }\n[t.y]", 2, "inline table"),
        ("[t]\nx.y = 1\n[t.x]\nz = 1", 3, "already defined"),
        ("[[r]]\n[r]", 2, "array of tables"),
        ("a = \"\\u12\"", 1, "invalid unicode escape"),
        ("a = { b = 1 c = 2 }", 1, "expected ',' or '}'"),
        ("x = 1\na = [\n  1,\n  2\n", 2, "unterminated array"),
        ("x = 1\na = { b = 1,\n", 2, "unterminated inline table"),
        ("x = 1\n[t\n", 2, "expected ']'"),
        ("x = 1\ny = [1, 2\n# end\n", 2, "unterminated array"),
        ("x = 1\ny = 2 $\n", 2, "expected end of line"),
    ])
    func syntaxErrors(source: String, line: Int, fragment: String) throws {
        let error = try #require(syntaxError(source))
        #expect(error.line == line)
        #expect(error.message.contains(fragment), "\(error.message)")
    }
}
