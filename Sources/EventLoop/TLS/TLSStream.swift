import COpenSSL
import Glibc

/// Which side of the handshake a connection plays, and (as a client) whom it expects.
public enum TLSRole: Sendable, Equatable {
    /// pgstash accepts the handshake (a client sent SSLRequest and got 'S').
    case server
    /// pgstash starts the handshake toward an upstream server. `serverName` goes in SNI
    /// (not for IP literals, as libpq does); `verifyHost` is checked against the
    /// certificate's subjectAltName (and CN when it has no DNS names), as libpq's verify-full.
    case client(serverName: String?, verifyHost: String?)
}

/// What a TLS call needs before it can go on.
enum TLSWant: Equatable {
    case read, write
}

/// One `SSL` object over a non-blocking socket: the handshake, record reads and writes,
/// mapped to results the `Connection` understands. Not thread-safe (one loop thread).
final class TLSStream {
    enum IOStep: Equatable {
        /// Bytes read or written; 0 from `read` is the end of the stream.
        case processed(Int)
        case want(TLSWant)
        case failed(IOError)
    }

    let ssl: OpaquePointer
    /// Kept for what it knows of our certificate (channel binding).
    let context: TLSContext
    private(set) var handshakeDone = false

    init(context: TLSContext, fd: Int32, role: TLSRole) throws(TLSError) {
        _ = TLSError.drainErrorQueue()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.fromQueue("SSL_new failed") }
        self.ssl = ssl
        self.context = context
        guard SSL_set_fd(ssl, fd) == 1 else { throw TLSError.fromQueue("SSL_set_fd failed") }
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case let .client(serverName, verifyHost):
            SSL_set_connect_state(ssl)
            if let serverName, !Self.isIPAddress(serverName) {
                _ = copenssl_set_tlsext_host_name(ssl, serverName)
            }
            if let verifyHost {
                SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                let ok = Self.isIPAddress(verifyHost)
                    ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verifyHost)
                    : SSL_set1_host(ssl, verifyHost)
                guard ok == 1 else { throw TLSError.fromQueue("cannot verify host name \(verifyHost)") }
            }
        }
    }

    deinit { SSL_free(ssl) }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// One step of the handshake: `.processed(0)` once it is complete.
    func handshake() -> IOStep {
        _ = TLSError.drainErrorQueue()
        let r = SSL_do_handshake(ssl)
        if r == 1 {
            handshakeDone = true
            return .processed(0)
        }
        let step = failure(r, operation: "TLS handshake")
        if case .processed = step {
            return .failed(IOError(tls: "the peer closed the connection during the TLS handshake", operation: "TLS handshake"))
        }
        return step
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOStep {
        _ = TLSError.drainErrorQueue()
        let r = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if r > 0 { return .processed(Int(r)) }
        return failure(r, operation: "TLS read")
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> IOStep {
        _ = TLSError.drainErrorQueue()
        let r = SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        if r > 0 { return .processed(Int(r)) }
        return failure(r, operation: "TLS write")
    }

    /// Decrypted bytes, or raw bytes of a record, held inside OpenSSL: the socket may be
    /// empty (epoll will not wake us) while these wait to be read.
    /// (Bytes of an incomplete record are not counted: the rest of it wakes the loop.)
    var hasPending: Bool { SSL_pending(ssl) > 0 }

    /// Sends close_notify, once, without waiting for the peer's (best effort).
    func shutdown() {
        guard handshakeDone else { return }
        _ = SSL_shutdown(ssl)
        _ = TLSError.drainErrorQueue()
    }

    /// "TLSv1.3/TLS_AES_256_GCM_SHA384" (SHOW CLIENTS, SHOW SERVERS, logs).
    var summary: String {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)).map { String(cString: $0) } ?? "?"
        return "\(version)/\(cipher)"
    }

    /// The peer's certificate subject CN, when it sent a certificate that verified.
    var verifiedPeerCommonName: String? {
        guard SSL_get_verify_result(ssl) == X509_V_OK, let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        guard let name = X509_get_subject_name(cert) else { return nil }
        let length = X509_NAME_get_text_by_NID(name, NID_commonName, nil, 0)
        guard length >= 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(length) + 1)
        _ = X509_NAME_get_text_by_NID(name, NID_commonName, &text, Int32(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func failure(_ r: Int32, operation: String) -> IOStep {
        let savedErrno = errno
        switch SSL_get_error(ssl, r) {
        case SSL_ERROR_WANT_READ: return .want(.read)
        case SSL_ERROR_WANT_WRITE: return .want(.write)
        case SSL_ERROR_ZERO_RETURN: return .processed(0)
        case SSL_ERROR_SYSCALL:
            let reasons = TLSError.drainErrorQueue()
            if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK { return .want(.read) }
            if savedErrno != 0 { return .failed(IOError(errno: savedErrno, operation: operation)) }
            if !reasons.isEmpty { return .failed(IOError(tls: reasons.joined(separator: "; "), operation: operation)) }
            return .processed(0)       // the peer closed the socket
        default:
            var reasons = TLSError.drainErrorQueue()
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                reasons.append(String(cString: text))
            }
            return .failed(IOError(tls: reasons.isEmpty ? "protocol error" : reasons.joined(separator: ": "),
                                   operation: operation))
        }
    }
}

extension IOError {
    /// A TLS failure (errno EPROTO) with OpenSSL's reason as its message.
    public init(tls message: String, operation: String) {
        self.init(errno: EPROTO, operation: operation, message: message)
    }

    /// Whether this came from the TLS layer rather than the socket.
    public var isTLS: Bool { errno == EPROTO && operation.hasPrefix("TLS") }
}
