import Glibc

/// An IPv4 or IPv6 socket address (the bytes of a `sockaddr_in` or `sockaddr_in6`), ready to
/// connect to without any name lookup: from `init?(numericHost:port:)` or an `AsyncResolver`.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// `AF_INET` or `AF_INET6`.
    public let family: Int32
    let bytes: [UInt8]

    init(family: Int32, bytes: [UInt8]) {
        self.family = family
        self.bytes = bytes
    }

    /// Parses an IPv4 ("10.0.0.7") or IPv6 ("::1", "[::1]") literal with `inet_pton`, which never
    /// consults a name service. Nil for anything else, host names included.
    public init?(numericHost: String, port: Int) {
        precondition((0...65535).contains(port), "port \(port) out of range")
        let networkPort = in_port_t(UInt16(port).bigEndian)
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, numericHost, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = networkPort
            self.init(family: AF_INET, bytes: withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var text = Substring(numericHost)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, String(text), &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = networkPort
            self.init(family: AF_INET6, bytes: withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    /// The port (`sin_port` and `sin6_port` both sit at offset 2, in network byte order).
    public var port: Int { Int(UInt16(bytes[2]) << 8 | UInt16(bytes[3])) }

    /// The address in numeric form ("127.0.0.1", "::1").
    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let offset = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
                                        : MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress! + offset, &text, socklen_t(text.count)) != nil
        }
        return ok ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    /// "127.0.0.1:5432" or "[::1]:5432".
    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }
}
