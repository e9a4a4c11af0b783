import EventLoop
import ProxyConfig

/// The TLS contexts of one pgstash: the certificate it presents to clients, and one client
/// context per distinct upstream TLS setting. Both are rebuilt from the files at a reload
/// (SIGHUP or RELOAD), so renewed certificates take effect for new connections.
extension ProxyServer {
    /// The context clients' handshakes use; nil when `[tls]` serves no TLS.
    static func clientFacingContext(_ tls: TLSConfig) throws(TLSError) -> TLSContext? {
        guard tls.canServeTLS, let cert = tls.certFile, let key = tls.keyFile else { return nil }
        return try TLSContext.server(certFile: cert, keyFile: key, clientCAFile: tls.caFile,
                                     requireClientCertificate: tls.clientMode.verifiesCertificate,
                                     versions: versions(tls.protocols), ciphers: tls.ciphers)
    }

    static func versions(_ range: ClosedRange<TLSProtocol>) -> ClosedRange<TLSVersion> {
        func map(_ p: TLSProtocol) -> TLSVersion { p == .tls12 ? .tls12 : .tls13 }
        return map(range.lowerBound) ... map(range.upperBound)
    }

    /// The client context for upstream servers with this setting (built once, until a reload).
    func upstreamTLSContext(_ settings: UpstreamTLSConfig) throws(TLSError) -> TLSContext {
        if let context = upstreamTLSContexts[settings] { return context }
        let verify = settings.sslmode.verifiesCertificate
        let context = try TLSContext.client(rootCertFile: verify ? settings.sslrootcert : nil, verifyPeer: verify,
                                            certFile: settings.sslcert, keyFile: settings.sslkey)
        upstreamTLSContexts[settings] = context
        return context
    }

    /// Builds the client-facing context of `new` before anything else of it is installed:
    /// a certificate that does not load rejects the reload whole.
    func reloadTLS(_ new: ProxyConfiguration) throws(TLSError) {
        let context = try Self.clientFacingContext(new.tls)
        for db in new.databases.values where db.tls.sslmode != .disable {
            _ = try TLSContext.client(rootCertFile: db.tls.sslmode.verifiesCertificate ? db.tls.sslrootcert : nil,
                                      verifyPeer: db.tls.sslmode.verifiesCertificate,
                                      certFile: db.tls.sslcert, keyFile: db.tls.sslkey)
        }
        clientTLSContext = context
        upstreamTLSContexts = [:]
    }
}
