import Testing
@testable import Metrics

private func parse(_ s: String, max: Int = 8192) -> HTTPParseResult {
    Array(s.utf8).withUnsafeBytes { HTTPRequestParser.parse($0, maxHeadLength: max) }
}

@Suite struct HTTPTests {
    @Test func getIsParsedWithItsLength() {
        let req = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"
        #expect(parse(req + "GET /next") == .request(
            HTTPRequestHead(method: "GET", path: "/metrics", minorVersion: 1, keepAlive: true), consumed: req.utf8.count))
    }

    @Test func partialHeadIsIncomplete() {
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n") == .incomplete)
        #expect(parse("") == .incomplete)
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true), ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.0", "", false), ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
    ])
    func keepAliveFollowsVersionAndHeader(version: String, header: String, keepAlive: Bool) {
        guard case .request(let head, _) = parse("GET / \(version)\r\n\(header)\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(head.keepAlive == keepAlive)
    }

    @Test func bodyIsSkippedWhenComplete() {
        let req = "POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
        #expect(parse(req + "ab") == .incomplete)
        guard case .request(let head, let n) = parse(req + "abcd") else { Issue.record("not parsed"); return }
        #expect(head.method == "POST" && n == req.utf8.count + 4)
    }

    @Test(arguments: [
        ("GARBAGE\r\n\r\n", HTTPStatus.badRequest),
        ("GET /x HTTP/2.0\r\n\r\n", .versionNotSupported),
        ("GET noslash HTTP/1.1\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nno colon\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", .badRequest),
        ("GET / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", .payloadTooLarge),
        ("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", .notImplemented),
    ])
    func badRequestsAreRefused(text: String, status: HTTPStatus) {
        #expect(parse(text) == .invalid(status))
    }

    @Test func oversizedHeadIsRefusedBeforeItEnds() {
        let long = "GET / HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 200)
        #expect(parse(long, max: 64) == .invalid(.headersTooLarge))
        #expect(parse(String(long.prefix(40)), max: 64) == .incomplete)
    }

    @Test(arguments: [
        ("GET", "/metrics", MetricsRoute.metrics), ("HEAD", "/healthz", .healthz), ("GET", "/readyz", .readyz),
        ("GET", "/", .notFound), ("POST", "/metrics", .methodNotAllowed), ("DELETE", "/nowhere", .methodNotAllowed),
    ])
    func routes(method: String, path: String, route: MetricsRoute) {
        #expect(MetricsRoute(HTTPRequestHead(method: method, path: path, minorVersion: 1, keepAlive: true)) == route)
    }

    @Test func responseCarriesLengthAndConnection() {
        let r = HTTPResponse(status: .methodNotAllowed, body: "no\n", extraHeaders: [("Allow", "GET, HEAD")])
        #expect(String(decoding: r.encoded(keepAlive: true), as: UTF8.self) == """
        HTTP/1.1 405 Method Not Allowed\r
        Content-Type: text/plain; charset=utf-8\r
        Content-Length: 3\r
        Allow: GET, HEAD\r
        Connection: keep-alive\r
        \r
        no

        """)
        let head = String(decoding: r.encoded(keepAlive: false, includeBody: false), as: UTF8.self)
        #expect(head.hasSuffix("Connection: close\r\n\r\n"))
    }
}
