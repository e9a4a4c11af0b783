/// TLS under a `Connection`'s buffers: the handshake runs on the loop (interest follows what
/// OpenSSL wants), then every read and write goes through `SSL_read`/`SSL_write` and the
/// owner keeps seeing plaintext in `inbound` and the same callbacks.
///
/// Two things differ from a plain socket. A TLS read returns at most one record, so a short
/// read does not mean the socket is drained: reading goes on until OpenSSL wants more.
/// And OpenSSL may hold decrypted bytes the socket no longer shows (epoll will not report
/// them): after a capped read or a resume, a read of those is scheduled for this loop turn.
extension Connection {
    /// Starts TLS on this connected socket: as `.server` after answering an SSLRequest
    /// with 'S', as `.client` after the server answered 'S'. Plaintext output still buffered
    /// (the 'S') is written first. `connectionDidCompleteTLSHandshake` follows, or
    /// `connectionDidClose` with the reason the handshake failed.
    public func startTLS(_ context: TLSContext, role: TLSRole) {
        precondition(tls == nil && !isConnecting, "startTLS on a connecting or TLS connection")
        guard !isClosed, !failed else { return }
        while !outbound.isEmpty {
            guard case .processed(let n)? = try? outbound.withReadableBytes({ try Socket.write(fd, $0) }) else {
                return close(error: IOError(tls: "plaintext output could not be written before the handshake",
                                            operation: "TLS setup"))
            }
            outbound.moveReaderIndex(forwardBy: n)
        }
        do {
            tls = try TLSStream(context: context, fd: fd, role: role)
        } catch {
            return close(error: IOError(tls: error.message, operation: "TLS setup"))
        }
        tlsHandshakeWant = .read
        continueTLSHandshake()
    }

    /// Whether the connection runs TLS (from `startTLS` on, handshake included).
    public var isTLS: Bool { tls != nil }

    /// Version and cipher once the handshake is done ("TLSv1.3/TLS_AES_256_GCM_SHA384").
    public var tlsSummary: String? {
        guard let tls, tls.handshakeDone else { return nil }
        return tls.summary
    }

    /// Channel binding data (tls-server-end-point) of the certificate this side presented,
    /// once the handshake is done; nil without TLS or as a TLS client.
    public var tlsServerEndPoint: [UInt8]? {
        guard let tls, tls.handshakeDone, tls.context.isServer else { return nil }
        return tls.context.serverEndPoint
    }

    /// The subject CN of the peer's certificate, when it sent one that verified.
    public var tlsPeerCommonName: String? { tls?.verifiedPeerCommonName }

    func continueTLSHandshake() {
        guard let tls, !isClosed else { return }
        switch tls.handshake() {
        case .processed:
            tlsHandshakeWant = nil
            updateInterest()
            delegate?.connectionDidCompleteTLSHandshake(self)
            guard !isClosed, !failed else { return }
            if !outbound.isEmpty { flushFromEvent() }
            // The peer may have sent data right behind its last handshake message.
            if !isClosed, !failed, !isReadingPaused, !receivedEOF, !closeWhenFlushed {
                readAvailable(cap: Self.readCapPerEvent, untilEOF: false)
            }
        case .want(let want):
            tlsHandshakeWant = want
            updateInterest()
        case .failed(let error):
            close(error: error)
        }
    }

    @inline(__always)
    func transportRead(_ buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        guard let tls else { return try Socket.read(fd, into: buffer) }
        switch tls.read(into: buffer) {
        case .processed(let n):
            tlsReadWantsWrite = false
            return .processed(n)
        case .want(let want):
            tlsReadWantsWrite = want == .write
            return .wouldBlock
        case .failed(let error):
            throw error
        }
    }

    @inline(__always)
    func transportWrite(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        guard let tls else { return try Socket.write(fd, bytes) }
        switch tls.write(bytes) {
        case .processed(let n):
            tlsWriteWantsRead = false
            return .processed(n)
        case .want(let want):
            tlsWriteWantsRead = want == .read
            return .wouldBlock
        case .failed(let error):
            throw error
        }
    }

    /// Reads, before the loop next waits, the decrypted bytes OpenSSL holds.
    func scheduleTLSPendingRead() {
        guard !tlsReadScheduled else { return }
        tlsReadScheduled = true
        loop.runBeforeNextWait { [weak self] in
            guard let self else { return }
            self.tlsReadScheduled = false
            guard !self.isClosed, !self.failed, !self.isReadingPaused, !self.receivedEOF, !self.closeWhenFlushed,
                  self.tlsHandshakeWant == nil, self.tls?.hasPending == true else { return }
            self.readAvailable(cap: Self.readCapPerEvent, untilEOF: false)
        }
    }
}
