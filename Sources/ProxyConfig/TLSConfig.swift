/// An `sslmode`, in libpq's words: for `[tls] client_mode`, how pgstash treats its clients'
/// SSLRequest (PgBouncer's `client_tls_sslmode`); for `[databases.NAME] sslmode`, how pgstash
/// connects to PostgreSQL (libpq's `sslmode`). docs/tls.md.
public enum SSLMode: String, Sendable, Equatable, CaseIterable {
    case disable, allow, prefer, require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"

    /// The peer must use TLS.
    public var requiresTLS: Bool { self == .require || self == .verifyCA || self == .verifyFull }
    /// The peer's certificate must verify against a CA.
    public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }
}

/// A TLS protocol version pgstash may offer (older ones never are).
public enum TLSProtocol: String, Sendable, Equatable, CaseIterable, Comparable {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"

    public static func < (a: TLSProtocol, b: TLSProtocol) -> Bool { a == .tls12 && b == .tls13 }
}

/// `[tls]`: TLS between clients and pgstash. Paths are resolved against the config file's folder.
public struct TLSConfig: Sendable, Equatable {
    public var clientMode: SSLMode = .disable
    /// PEM certificate (chain) pgstash presents to clients.
    public var certFile: String?
    /// PEM private key of `certFile`.
    public var keyFile: String?
    /// PEM CAs that client certificates must chain to (verify-ca, verify-full; optional otherwise).
    public var caFile: String?
    /// Versions offered, lowest to highest (a contiguous range).
    public var protocols: ClosedRange<TLSProtocol> = .tls12 ... .tls13
    /// OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults).
    public var ciphers = TLSConfig.defaultCiphers

    /// Forward secrecy and AEAD only.
    public static let defaultCiphers = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

    /// A certificate and key are configured, so an SSLRequest can be answered 'S'.
    public var canServeTLS: Bool { certFile != nil && keyFile != nil && clientMode != .disable }

    public init() {}
}

/// The TLS part of a `[databases.NAME]` entry: how pgstash connects to that PostgreSQL.
public struct UpstreamTLSConfig: Sendable, Equatable, Hashable {
    /// pgstash's default is `disable` (libpq's is `prefer`): an upstream on the same host or
    /// network pays no TLS cost unless asked to.
    public var sslmode: SSLMode = .disable
    /// PEM CAs the server's certificate must chain to, or `system` (verify-ca, verify-full).
    public var sslrootcert: String?
    /// pgstash's client certificate and key, for servers that ask for one (`clientcert` in pg_hba).
    public var sslcert: String?
    public var sslkey: String?
    public init() {}
}
