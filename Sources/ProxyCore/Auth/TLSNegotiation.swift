import ProxyConfig

/// How pgstash answers a client's SSLRequest and StartupMessage under `[tls] client_mode`
/// (PgBouncer's `client_tls_sslmode`; docs/tls.md). "Message Flow: SSL Session Encryption".
public struct ClientTLSPolicy: Sendable, Equatable {
    public enum Action: Equatable, Sendable {
        /// Answer 'S' and run the server side of the TLS handshake.
        case acceptTLS
        /// Answer 'N'; the client goes on unencrypted or gives up.
        case refuseTLS
        /// Go on with the startup.
        case proceed
        /// FATAL ErrorResponse with this SQLSTATE, then close.
        case fail(sqlState: String, message: String, hint: String?)
    }

    public let mode: SSLMode
    /// A certificate and key are loaded (with `allow` and `prefer` they are optional).
    public let certificateLoaded: Bool

    public init(mode: SSLMode, certificateLoaded: Bool) {
        self.mode = mode
        self.certificateLoaded = certificateLoaded
    }

    /// An SSLRequest arrived. `unencryptedBytesFollow`: more bytes came behind it, before
    /// our answer — a client waits for 'S', so they may have been injected (CVE-2021-23214).
    public func sslRequestReceived(overTLS: Bool, unencryptedBytesFollow: Bool) -> Action {
        if overTLS {
            return .fail(sqlState: "08P01", message: "SSLRequest received on an already encrypted connection", hint: nil)
        }
        guard mode != .disable, certificateLoaded else { return .refuseTLS }
        if unencryptedBytesFollow {
            return .fail(sqlState: "08P01", message: "received unencrypted data after SSL request",
                         hint: "This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.")
        }
        return .acceptTLS
    }

    /// The StartupMessage arrived; `peerCommonName` is the CN of a client certificate that verified.
    public func startupReceived(overTLS: Bool, user: String, peerCommonName: String?) -> Action {
        if mode.requiresTLS && !overTLS {
            return .fail(sqlState: "28000",
                         message: "pgstash requires SSL: connection for user \"\(user)\" is not encrypted (tls.client_mode = \"\(mode.rawValue)\")",
                         hint: "Connect with sslmode=require or stronger.")
        }
        if mode == .verifyFull && peerCommonName != user {
            // PostgreSQL's clientcert=verify-full: the certificate's CN is the user name.
            let cn = peerCommonName.map { "\"\($0)\"" } ?? "none"
            return .fail(sqlState: "28000",
                         message: "certificate validation (clientcert=verify-full) failed for user \"\(user)\": CN mismatch (certificate CN \(cn))",
                         hint: "tls.client_mode = \"verify-full\" requires the client certificate's common name to be the user name.")
        }
        return .proceed
    }
}

/// The SSLRequest exchange of an upstream connection before its StartupMessage, as libpq
/// runs it for each `sslmode`.
public struct UpstreamTLSNegotiation: Sendable, Equatable {
    public enum Action: Equatable, Sendable {
        /// Send an SSLRequest and wait for the one-byte answer.
        case sendSSLRequest
        /// Run the client side of the TLS handshake, then send the StartupMessage.
        case startTLS
        /// Send the StartupMessage unencrypted.
        case sendStartup
        /// Give up on this connection.
        case fail(sqlState: String, message: String)
    }

    public let mode: SSLMode
    /// `allow`: the unencrypted attempt was refused, this connection tries TLS.
    public let retryingWithTLS: Bool

    public init(mode: SSLMode, retryingWithTLS: Bool = false) {
        self.mode = mode
        self.retryingWithTLS = retryingWithTLS
    }

    /// The TCP connection is up.
    public func connected() -> Action {
        switch mode {
        case .disable: return .sendStartup
        case .allow: return retryingWithTLS ? .sendSSLRequest : .sendStartup
        case .prefer, .require, .verifyCA, .verifyFull: return .sendSSLRequest
        }
    }

    /// The server's one-byte answer to SSLRequest; `trailingBytes` arrived behind it.
    public func responseReceived(_ byte: UInt8, trailingBytes: Int) -> Action {
        switch byte {
        case UInt8(ascii: "S"):
            if trailingBytes > 0 {
                return .fail(sqlState: "08P01", message: "received unencrypted data after SSL response")
            }
            return .startTLS
        case UInt8(ascii: "N"):
            if mode.requiresTLS || retryingWithTLS {
                return .fail(sqlState: "08006", message: "server does not support SSL, but SSL was required (sslmode = \(mode.rawValue))")
            }
            return .sendStartup
        default:
            return .fail(sqlState: "08P01", message: "received invalid response to SSL negotiation: \(Self.describe(byte))")
        }
    }

    /// `allow`: after an unencrypted login refused by the server's pg_hba (28000), libpq
    /// tries again with TLS, once.
    public func shouldRetryWithTLS(afterLoginFailure sqlState: String) -> Bool {
        mode == .allow && !retryingWithTLS && sqlState == "28000"
    }

    static func describe(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
    }
}
