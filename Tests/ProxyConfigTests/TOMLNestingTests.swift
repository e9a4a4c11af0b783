import Testing
@testable import ProxyConfig

/// Found by reading the reader while fuzzing it (docs/fuzzing.md): the reader and the tree it
/// builds recurse once per nesting level, and one line of deep nesting overflowed the stack
/// (AddressSanitizer: stack-overflow in TOMLReader.value / TableNode.frozen). Nesting is now
/// capped at `TOMLReader.maxNesting` levels and deeper input is a syntax error on its line.
@Suite struct TOMLNestingTests {
    /// 100,000 levels of each kind of nesting (built here: Swift Testing prints arguments).
    static func deep(_ what: String) -> String {
        let n = 100_000
        switch what {
        case "arrays": return "a = " + String(repeating: "[", count: n)
        case "inline tables": return "a = " + String(repeating: "{b=", count: n)
        case "a dotted key": return String(repeating: "a.", count: n) + "b = 1"
        case "a table header": return "[" + String(repeating: "a.", count: n) + "b]"
        default: return "x = 1\na = " + String(repeating: "{b=[", count: n / 2)
        }
    }

    @Test(arguments: ["arrays", "inline tables", "a dotted key", "a table header", "arrays in inline tables on line 2"])
    func deepNestingIsASyntaxError(what: String) throws {
        let source = Self.deep(what)
        do {
            _ = try TOMLParser.parse(source)
            Issue.record("\(what): parsed")
        } catch {
            #expect(error.message.contains("\(TOMLReader.maxNesting)"), "\(what): \(error.message)")
            #expect(error.line == (source.hasPrefix("x = 1") ? 2 : 1))
        }
    }

    @Test func nestingUpToTheCapParses() throws {
        let depth = TOMLReader.maxNesting - 1     // the key `a` is one level
        let doc = try TOMLParser.parse("a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        var value = try #require(doc["a"])
        for _ in 1..<depth { value = try #require(value.array?.first) }
        #expect(value.array == [])
    }

    @Test func deepOverrideKeyIsAnError() {
        let key = String(repeating: "a.", count: 100_000) + "b"
        #expect(TOMLParser.parseKeyPath(key) == nil)
        #expect(TOMLParser.parseValue(String(repeating: "[", count: 100_000)) == nil)
    }

    @Test func deepConfigFileIsReportedWithItsLine() {
        do {
            _ = try ConfigLoader.parse(text: "[pool]\nmax_upstream = " + String(repeating: "[", count: 100_000),
                                       fileName: "proxy.conf", baseDirectory: "")
            Issue.record("parsed")
        } catch {
            #expect(error.errors.map(\.description) == [
                "proxy.conf:2: keys, arrays and inline tables nested more than 100 levels deep",
            ])
        }
    }
}
