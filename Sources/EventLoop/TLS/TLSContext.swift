import COpenSSL
import Glibc

/// Why a TLS context could not be built or a handshake failed, in OpenSSL's words.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// `what`, followed by the reasons queued in OpenSSL's error stack (which is emptied).
    static func fromQueue(_ what: String) -> TLSError {
        let reasons = drainErrorQueue()
        return TLSError(reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
    }

    /// The reasons in OpenSSL's thread-local error queue, oldest first; empties it.
    static func drainErrorQueue() -> [String] {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let r = ERR_reason_error_string(code) {
                reasons.append(String(cString: r))
            } else {
                var text = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &text, text.count)
                reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons
    }
}

/// A TLS protocol version pgstash can offer. Older ones are not offered at all.
public enum TLSVersion: String, Sendable, CaseIterable, Comparable {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"

    var openSSLValue: Int32 { self == .tls12 ? copenssl_tls1_2_version() : copenssl_tls1_3_version() }

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a == .tls12 && b == .tls13 }
}

/// An OpenSSL `SSL_CTX`: certificates, trust anchors, versions and ciphers shared by many
/// connections. Build one per configuration, not per connection; a reload builds a new one
/// (connections already running keep the context they started with, OpenSSL counts its users).
///
/// TLS writes go through `write(2)` on the socket, which raises SIGPIPE when the peer is gone:
/// building a context makes the process ignore SIGPIPE (plain writes use `MSG_NOSIGNAL`).
public final class TLSContext {
    let ctx: OpaquePointer
    public let isServer: Bool
    /// Client contexts: check the peer's certificate chain (verify-ca, verify-full).
    public let verifiesPeer: Bool
    /// Server contexts: the tls-server-end-point channel binding data of the certificate
    /// (RFC 5929 §4.1: its hash with the hash of its signature algorithm, SHA-256 in place of
    /// MD5 or SHA-1); nil when the algorithm names no hash (Ed25519), as PostgreSQL.
    public private(set) var serverEndPoint: [UInt8]?

    /// The default TLS 1.2 cipher list: forward secrecy and AEAD only (TLS 1.3 suites are
    /// OpenSSL's defaults, all of which qualify).
    public static let defaultCiphers = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

    private init(ctx: OpaquePointer, isServer: Bool, verifiesPeer: Bool) {
        self.ctx = ctx
        self.isServer = isServer
        self.verifiesPeer = verifiesPeer
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { SSL_CTX_free(ctx) }

    /// The server side, pgstash facing its clients: `certFile` (PEM, the chain after the
    /// leaf) and `keyFile`; with `clientCAFile`, clients are asked for a certificate signed by
    /// one of its CAs, and `requireClientCertificate` makes one mandatory.
    public static func server(certFile: String, keyFile: String, clientCAFile: String? = nil,
                              requireClientCertificate: Bool = false,
                              versions: ClosedRange<TLSVersion> = .tls12 ... .tls13,
                              ciphers: String = defaultCiphers) throws(TLSError) -> TLSContext {
        _ = TLSError.drainErrorQueue()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromQueue("SSL_CTX_new failed") }
        let context = TLSContext(ctx: ctx, isServer: true, verifiesPeer: requireClientCertificate)
        try context.configureCommon(versions: versions, ciphers: ciphers)
        guard SSL_CTX_use_certificate_chain_file(ctx, certFile) == 1 else {
            throw TLSError.fromQueue("cannot load certificate \(certFile)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.fromQueue("cannot load private key \(keyFile)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.fromQueue("private key \(keyFile) does not match certificate \(certFile)")
        }
        context.serverEndPoint = SSL_CTX_get0_certificate(ctx).flatMap(Self.endPointHash)
        // Session tickets save a client nothing here: PostgreSQL clients do not resume.
        _ = SSL_CTX_set_num_tickets(ctx, 0)
        let idContext = Array("pgstash".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, idContext, UInt32(idContext.count))
        if let clientCAFile {
            guard SSL_CTX_load_verify_locations(ctx, clientCAFile, nil) == 1 else {
                throw TLSError.fromQueue("cannot load CA file \(clientCAFile)")
            }
            if let names = SSL_load_client_CA_file(clientCAFile) { SSL_CTX_set_client_CA_list(ctx, names) }
            let mode = requireClientCertificate ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER
            SSL_CTX_set_verify(ctx, mode, nil)
        }
        return context
    }

    /// The client side, pgstash facing PostgreSQL: with `verifyPeer`, the server's chain must
    /// lead to a CA in `rootCertFile` (`"system"`: the system's trust store); `certFile` and
    /// `keyFile` are pgstash's own client certificate, when the server asks for one.
    public static func client(rootCertFile: String?, verifyPeer: Bool, certFile: String? = nil,
                              keyFile: String? = nil,
                              versions: ClosedRange<TLSVersion> = .tls12 ... .tls13) throws(TLSError) -> TLSContext {
        _ = TLSError.drainErrorQueue()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.fromQueue("SSL_CTX_new failed") }
        let context = TLSContext(ctx: ctx, isServer: false, verifiesPeer: verifyPeer)
        try context.configureCommon(versions: versions, ciphers: nil)
        if let rootCertFile {
            let loaded = rootCertFile == "system"
                ? SSL_CTX_set_default_verify_paths(ctx)
                : SSL_CTX_load_verify_locations(ctx, rootCertFile, nil)
            guard loaded == 1 else { throw TLSError.fromQueue("cannot load root certificates \(rootCertFile)") }
        }
        SSL_CTX_set_verify(ctx, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if let certFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, certFile) == 1 else {
                throw TLSError.fromQueue("cannot load client certificate \(certFile)")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, keyFile ?? certFile, SSL_FILETYPE_PEM) == 1 else {
                throw TLSError.fromQueue("cannot load client key \(keyFile ?? certFile)")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                throw TLSError.fromQueue("client key \(keyFile ?? certFile) does not match certificate \(certFile)")
            }
        }
        return context
    }

    static func endPointHash(_ cert: OpaquePointer) -> [UInt8]? {
        var digestNID: Int32 = 0
        guard OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digestNID, nil) == 1 else { return nil }
        let md: OpaquePointer?
        if digestNID == NID_md5 || digestNID == NID_sha1 {
            md = EVP_sha256()
        } else {
            md = OBJ_nid2sn(digestNID).flatMap { EVP_get_digestbyname($0) }
        }
        guard let md else { return nil }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, md, &out, &length) == 1 else { return nil }
        return Array(out.prefix(Int(length)))
    }

    private func configureCommon(versions: ClosedRange<TLSVersion>, ciphers: String?) throws(TLSError) {
        _ = copenssl_ctx_set_default_options(ctx)
        _ = copenssl_ctx_set_nonblocking_write_modes(ctx)
        guard copenssl_ctx_set_min_proto(ctx, versions.lowerBound.openSSLValue) == 1,
              copenssl_ctx_set_max_proto(ctx, versions.upperBound.openSSLValue) == 1 else {
            throw TLSError.fromQueue("cannot set TLS versions \(versions.lowerBound.rawValue)–\(versions.upperBound.rawValue)")
        }
        if let ciphers, SSL_CTX_set_cipher_list(ctx, ciphers) != 1 {
            throw TLSError.fromQueue("no usable cipher in \"\(ciphers)\"")
        }
    }
}
