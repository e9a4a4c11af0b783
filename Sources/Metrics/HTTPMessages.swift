/// The little HTTP/1.1 the metrics endpoint speaks, as values: a request head parsed from
/// bytes, a route, and a response encoded to bytes. No sockets here (`Proxy.MetricsServer`
/// drives a connection with these).

/// The status codes the endpoint answers with.
public enum HTTPStatus: Int, Sendable {
    case ok = 200
    case badRequest = 400
    case notFound = 404
    case methodNotAllowed = 405
    case payloadTooLarge = 413
    case headersTooLarge = 431
    case notImplemented = 501
    case serviceUnavailable = 503
    case versionNotSupported = 505

    public var reason: String {
        switch self {
        case .ok: "OK"
        case .badRequest: "Bad Request"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .payloadTooLarge: "Payload Too Large"
        case .headersTooLarge: "Request Header Fields Too Large"
        case .notImplemented: "Not Implemented"
        case .serviceUnavailable: "Service Unavailable"
        case .versionNotSupported: "HTTP Version Not Supported"
        }
    }
}

/// A request line and the headers that matter here.
public struct HTTPRequestHead: Equatable, Sendable {
    public var method: String
    /// The path, without the query string.
    public var path: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection:
    /// close`; HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool
}

/// What the bytes at the front of a connection's input are.
public enum HTTPParseResult: Equatable, Sendable {
    /// No complete head yet, and still under the size limit.
    case incomplete
    /// A request; `consumed` bytes (head and any body, which is ignored) are its.
    case request(HTTPRequestHead, consumed: Int)
    /// Not a request this endpoint takes: answer with this status and close.
    case invalid(HTTPStatus)
}

public enum HTTPRequestParser {
    /// Parses one request from the front of `bytes`. A head longer than `maxHeadLength`
    /// (request line and headers) is refused with 431; a body longer than it with 413.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxHeadLength: Int = 8192) -> HTTPParseResult {
        guard let headEnd = endOfHead(bytes, limit: maxHeadLength + 4) else {
            return bytes.count > maxHeadLength + 4 ? .invalid(.headersTooLarge) : .incomplete
        }
        guard let head = String(validating: bytes[0..<headEnd], as: UTF8.self) else { return .invalid(.badRequest) }
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .invalid(.badRequest) }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, !requestLine[0].isEmpty, requestLine[1].first == "/" || requestLine[1] == "*" else {
            return .invalid(.badRequest)
        }
        let minor: Int
        switch requestLine[2] {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default: return requestLine[2].hasPrefix("HTTP/") ? .invalid(.versionNotSupported) : .invalid(.badRequest)
        }
        var keepAlive = minor == 1
        var bodyLength = 0
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(.badRequest) }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces().lowercased()
            switch name {
            case "connection":
                let tokens = value.split(separator: ",").map { $0.trimmingSpaces() }
                if tokens.contains("close") { keepAlive = false }
                if tokens.contains("keep-alive") { keepAlive = true }
            case "content-length":
                guard let n = Int(value), n >= 0 else { return .invalid(.badRequest) }
                bodyLength = n
            case "transfer-encoding":
                return .invalid(.notImplemented)
            default:
                continue
            }
        }
        guard bodyLength <= maxHeadLength else { return .invalid(.payloadTooLarge) }
        let consumed = headEnd + 4 + bodyLength
        guard bytes.count >= consumed else { return .incomplete }
        let target = requestLine[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return .request(HTTPRequestHead(method: String(requestLine[0]), path: path, minorVersion: minor, keepAlive: keepAlive),
                        consumed: consumed)
    }

    /// Offset of the blank line's `\r\n\r\n`, searched within `limit` bytes.
    private static func endOfHead(_ b: UnsafeRawBufferPointer, limit: Int) -> Int? {
        let n = min(b.count, limit)
        guard n >= 4 else { return nil }
        for i in 0...(n - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}

/// An answer, encoded with `Content-Length` (never chunked).
public struct HTTPResponse: Equatable, Sendable {
    public var status: HTTPStatus
    public var contentType: String
    public var body: String
    public var extraHeaders: [(String, String)]

    public init(status: HTTPStatus, contentType: String = "text/plain; charset=utf-8", body: String,
                extraHeaders: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.extraHeaders = extraHeaders
    }

    /// The bytes on the wire; `includeBody` false answers a HEAD request.
    public func encoded(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status.rawValue) \(status.reason)\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n"
        for (n, v) in extraHeaders { head += "\(n): \(v)\r\n" }
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if includeBody { bytes += body.utf8 }
        return bytes
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.contentType == b.contentType && a.body == b.body
            && a.extraHeaders.elementsEqual(b.extraHeaders, by: { $0 == $1 })
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
