/// `postgresql://USER:PASSWORD@HOST:PORT/DB`, the `--upstream` of no-file mode.
public struct UpstreamURL: Sendable, Equatable {
    public var user: String
    /// Nil when the URL has none (the upstream then trusts the user, and so does pgstash).
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// `sslmode`, `sslrootcert`, `sslcert`, `sslkey` from the query string, as written.
    public var sslParameters: [String: String] = [:]

    /// Parses a libpq connection URI: `postgresql://` or `postgres://`, percent-encoded user,
    /// password and database, `[v6]` hosts, port 5432 and database = user by default. The
    /// query parameters accepted are libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey`.
    public static func parse(_ url: String) -> Result<UpstreamURL, UpstreamURLError> {
        let fail = { (message: String) in Result<UpstreamURL, UpstreamURLError>.failure(UpstreamURLError(message: message)) }
        let scheme = ["postgresql://", "postgres://"].first { url.hasPrefix($0) }
        guard let scheme else { return fail("expected postgresql://USER:PASSWORD@HOST:PORT/DB") }
        var rest = url.dropFirst(scheme.count)
        var ssl: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for parameter in rest[rest.index(after: question)...].split(separator: "&") {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, ["sslmode", "sslrootcert", "sslcert", "sslkey"].contains(pair[0]),
                      let value = percentDecoded(pair[1][...]), !value.isEmpty,
                      pair[0] != "sslmode" || SSLMode(rawValue: value) != nil else {
                    return fail("unsupported parameter \"\(parameter)\" (only sslmode=disable|allow|prefer|require|verify-ca|verify-full, sslrootcert, sslcert, sslkey)")
                }
                ssl[pair[0]] = value
            }
            rest = rest[..<question]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash < rest.endIndex ? rest[rest.index(after: slash)...] : ""
        guard let at = authority.lastIndex(of: "@") else { return fail("missing USER@ before the host") }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let userPart = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
        let passwordPart = userInfo.firstIndex(of: ":").map { userInfo[userInfo.index(after: $0)...] }
        guard let user = percentDecoded(userPart), !user.isEmpty else { return fail("missing or invalid user name") }
        var password: String?
        if let passwordPart {
            guard let decoded = percentDecoded(passwordPart) else { return fail("invalid percent-encoding in the password") }
            password = decoded
        }
        guard let database = percentDecoded(path) else { return fail("invalid percent-encoding in the database name") }
        let endpoint: (String, Int)?
        if hostPort.isEmpty {
            endpoint = (DatabaseConfig(dbname: "").host, 5432)
        } else if hostPort.contains(":") && !(hostPort.hasPrefix("[") && hostPort.hasSuffix("]")) {
            endpoint = HostPort.parse(String(hostPort), defaultHost: DatabaseConfig(dbname: "").host)
        } else {
            let bare = hostPort.hasPrefix("[") ? String(hostPort.dropFirst().dropLast()) : String(hostPort)
            endpoint = (bare, 5432)
        }
        guard let (host, port) = endpoint, !host.isEmpty else { return fail("invalid HOST:PORT \"\(hostPort)\"") }
        guard (1...65535).contains(port) else { return fail("port \(port) is out of range 1–65535") }
        return .success(UpstreamURL(
            user: user, password: password, host: host, port: port, database: database.isEmpty ? user : database,
            sslParameters: ssl))
    }

    /// `%XX` sequences decoded as UTF-8 (bad UTF-8 is replaced); nil when a `%XX` is malformed.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h < utf8.endIndex, utf8.index(after: h) < utf8.endIndex,
                    let hi = Character(Unicode.Scalar(utf8[h])).hexDigitValue,
                    let lo = Character(Unicode.Scalar(utf8[utf8.index(after: h)])).hexDigitValue
                else { return nil }
                bytes.append(UInt8(hi * 16 + lo))
                i = utf8.index(h, offsetBy: 2)
            } else {
                bytes.append(c)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why an `--upstream` URL was rejected.
public struct UpstreamURLError: Error, Sendable, Equatable {
    public var message: String
}
