import Foundation
import Proxy
import ProxyConfig
import Testing

/// The three log formats: quoting and escaping of values that come from anywhere (user names,
/// PostgreSQL's messages), so that one event stays one parsable line.
@Suite("LogLine")
struct LogLineTests {
    /// 2026-11-28T08:19:17.123Z
    static let time = 1_795_853_957.123

    @Test(arguments: [
        ("app", "app"), ("", "\"\""), ("two words", "\"two words\""), ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""), ("back\\slash", "\"back\\\\slash\""),
        ("line\nbreak", "\"line\\nbreak\""), ("tab\there", "\"tab\\there\""), ("bell\u{7}", "\"bell\\u0007\""),
        ("ünïcode", "ünïcode"), ("127.0.0.1:5432", "127.0.0.1:5432"),
    ])
    func logfmtQuotesOnlyWhatItMust(value: String, expected: String) {
        #expect(LogLine.logfmtValue(value) == expected)
    }

    @Test func logfmtLine() {
        let line = LogLine.format(.logfmt, time: Self.time, level: "info", message: "client connected",
                                  fields: [("client", "C3"), ("user", "o'neil \"x\""), ("bad key", "v")])
        #expect(line == "time=2026-11-28T08:19:17.123Z level=info msg=\"client connected\" client=C3 user=\"o'neil \\\"x\\\"\" bad_key=v\n")
    }

    @Test func jsonLineParsesBackToTheSameValues() throws {
        let nasty = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} ünï 😀"
        let line = LogLine.format(.json, time: Self.time, level: "warning", message: "login failed: \(nasty)",
                                  fields: [("user", nasty), ("addr", "::1"), ("level", "ignored: reserved")])
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["time"] == "2026-11-28T08:19:17.123Z")
        #expect(object["level"] == "warning")
        #expect(object["msg"] == "login failed: \(nasty)")
        #expect(object["user"] == nasty)
        #expect(object["addr"] == "::1")
        #expect(LogLine.jsonString("\u{1f}") == "\"\\u001f\"")
    }

    @Test func textLineStaysOnOneLine() {
        let line = LogLine.format(.text, time: Self.time, level: "error", message: "two\nlines",
                                  fields: [("error", "a b")])
        #expect(line == "pgstash error: two lines error=\"a b\"\n")
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(LogLine.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(LogLine.rfc3339(951_782_400.5) == "2000-02-29T00:00:00.500Z")
    }
}
