import CachePolicy
import Testing

/// The cache key: what separates entries, what does not, and that its hash is stable.
@Suite struct KeyTests {
    static let base = CacheKeyInput(
        database: "shop", role: "app", settings: ["timezone": "UTC", "search_path": "public"],
        statement: "SELECT * FROM orders WHERE id = $1", protocolKind: .extended, parameterTypes: [23],
        parameterFormats: [], parameterValues: [Array("7".utf8)], resultFormats: [])

    static func key(_ change: (inout CacheKeyInput) -> Void) -> CacheKey {
        var input = base
        change(&input)
        return CacheKey(input)
    }

    /// Each change must give another key.
    static let separating: [(String, @Sendable (inout CacheKeyInput) -> Void)] = [
        ("database", { $0.database = "shop2" }),
        ("role", { $0.role = "admin" }),
        ("shared", { $0.role = nil }),
        ("timezone", { $0.settings["timezone"] = "Europe/Paris" }),
        ("setting unknown vs empty", { $0.settings["datestyle"] = "" }),
        ("search_path", { $0.settings["search_path"] = "app, public" }),
        ("extra_float_digits", { $0.settings["extra_float_digits"] = "3" }),
        ("bytea_output", { $0.settings["bytea_output"] = "escape" }),
        ("standard_conforming_strings", { $0.settings["standard_conforming_strings"] = "off" }),
        ("client_encoding", { $0.settings["client_encoding"] = "LATIN1" }),
        ("intervalstyle", { $0.settings["intervalstyle"] = "iso_8601" }),
        ("statement text", { $0.statement = "SELECT * FROM orders WHERE id = $1 " }),
        ("protocol", { $0.protocolKind = .simple }),
        ("parameter type", { $0.parameterTypes = [20] }),
        ("parameter value", { $0.parameterValues = [Array("8".utf8)] }),
        ("NULL vs empty", { $0.parameterValues = [nil] }),
        ("parameter format", { $0.parameterFormats = [1] }),
        ("result format", { $0.resultFormats = [1] }),
        ("value split", { $0.parameterValues = [Array("7".utf8), []] }),
    ]

    @Test(arguments: separating.map(\.0))
    func separates(_ name: String) throws {
        let change = try #require(Self.separating.first { $0.0 == name }?.1)
        #expect(Self.key(change) != CacheKey(Self.base))
    }

    @Test func empty() {
        #expect(CacheKey(CacheKeyInput(database: "", role: "", settings: [:], statement: "")).hash
            != CacheKey(CacheKeyInput(database: "", role: nil, settings: [:], statement: "")).hash)
    }

    @Test func equivalentFormatCodesShareAKey() {
        #expect(Self.key { $0.parameterFormats = [0] } == CacheKey(Self.base))
        #expect(Self.key { $0.resultFormats = [0] } == CacheKey(Self.base))
        #expect(Self.key { $0.resultFormats = [1, 1, 1] } == Self.key { $0.resultFormats = [1] })
        #expect(Self.key { $0.resultFormats = [0, 1] } != Self.key { $0.resultFormats = [1, 0] })
        #expect(Self.key { $0.settings["application_name"] = "x" } == CacheKey(Self.base))
    }

    @Test func hashIsSHA256OfTheCanonicalBytes() {
        let key = CacheKey(Self.base)
        #expect(key.hash.count == 64)
        #expect(key.hash == SHA256.hash(key.bytes).map { String($0 / 16, radix: 16) + String($0 % 16, radix: 16) }.joined())
        #expect(CacheKey(Self.base).hash == key.hash)
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
        (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
    ])
    func sha256Vectors(_ text: String, _ hex: String) {
        #expect(SHA256.hash(Array(text.utf8)).map { String($0 / 16, radix: 16) + String($0 % 16, radix: 16) }.joined() == hex)
    }

    @Test func policyLeavesTheRoleOutOfSharedKeys() throws {
        let session = Fixture.session()
        var plan = try #require(Fixture.decide(Fixture.everything, "SELECT id FROM orders").plan)
        #expect(Fixture.everything.keyInput(plan, session: session, statement: "q").role == "webuser")
        plan.shared = true
        let input = Fixture.everything.keyInput(plan, session: session, statement: "q")
        #expect(input.role == nil)
        #expect(input.settings == ["timezone": "UTC", "datestyle": "ISO, MDY"])
    }
}
