import Buffers
import Glibc

/// A buffered, non-blocking stream socket on an `EventLoop`, used for every client and server
/// connection. Reads in chunks until a read comes back short (the socket is drained: epoll is
/// level-triggered and reports later bytes), EAGAIN, end of file or a per-event cap; writes at
/// once when it can and buffers the rest, watching EPOLLOUT only while output is pending.
///
/// A short read does not hide a pending end of file: read interest stays registered, so a FIN
/// that arrives later (or sits behind the data) makes the socket readable again on the next
/// turn, and when EPOLLRDHUP already says the FIN is queued the same event reads on to it.
///
/// `pauseReading` is lazy: read interest stays registered until a readable event arrives while
/// paused (then it is dropped), so a pause and resume with no input in between (a client
/// waiting for a pooled server) cost no `epoll_ctl`.
///
/// Back-pressure: when `isOverHighWaterMark`, the owner pauses the connection that feeds this
/// one (`pauseReading`) and resumes it on `connectionDidDrain`:
///
/// ```swift
/// func connectionDidRead(_ c: Connection) {          // c = client, server = its upstream
///     server.send(c.inbound); c.inbound.clear()
///     if server.isOverHighWaterMark { c.pauseReading() }
/// }
/// func connectionDidDrain(_ c: Connection) { client.resumeReading() }   // c = server
/// ```
///
/// End of file from the peer: buffered output is flushed, then the connection closes
/// (`connectionDidClose(error: nil)`). All callbacks may close this or any connection.
///
/// TLS (`startTLS`, Connection+TLS.swift) sits under the buffers: once started, reads and
/// writes go through OpenSSL and the owner sees plaintext, with the same callbacks.
public final class Connection: IOHandler {
    /// Bytes read per `recv` (the size of the loop's receive scratch space).
    public static let readChunk = 64 * 1024
    /// Bytes read per readiness event before other descriptors get their turn.
    public static let readCapPerEvent = 256 * 1024
    /// Free space in `inbound` from which a read lands there directly instead of in the loop's
    /// scratch space (and is then copied): a batch of ordinary requests or answers fits.
    static let readInPlaceMinimum = 512
    /// Default of `retainedBufferCapacity`: what one read event can bring in.
    public static let defaultRetainedBufferCapacity = readCapPerEvent

    public let loop: EventLoop
    public let fd: Int32
    /// Held strongly until the connection closes (dropped as it closes, before `connectionDidClose`):
    /// a weak reference would cost a side-table load on every callback.
    public var delegate: ConnectionDelegate?
    /// Received bytes; the delegate consumes from the front. Reading may move the unread bytes
    /// to the front, so absolute indices into it are valid only within one callback.
    public var inbound = ByteBuffer()
    /// Free for the owner's bookkeeping.
    public var userData: AnyObject?
    /// Free for the owner's bookkeeping.
    public var tag = 0
    /// Buffered output above this makes `isOverHighWaterMark` true.
    public let highWaterMark: Int
    /// After being over the high-water mark, `connectionDidDrain` fires once output is below this.
    public let lowWaterMark: Int
    /// An empty `inbound` or outbound buffer with more storage than this gives it back (after a
    /// read event, and when the output is flushed), so that a burst does not pin its peak size
    /// for the rest of the connection's life.
    public var retainedBufferCapacity = Connection.defaultRetainedBufferCapacity
    /// Bytes of storage held by the outbound buffer, used or not (diagnostics and tests).
    public var outboundCapacity: Int { outbound.capacity }

    /// Closed, unregistered, fd released; `connectionDidClose` has been called.
    public private(set) var isClosed = false
    /// An outgoing connect has not completed yet.
    public private(set) var isConnecting: Bool
    public private(set) var isReadingPaused = false
    /// The peer sent end of file.
    public private(set) var receivedEOF = false
    /// Bytes accepted by `send` and not yet taken by the kernel.
    public var outboundBytes: Int { outbound.readableBytes }
    /// Bytes read from and written to the socket so far (metrics).
    public private(set) var bytesReceived = 0, bytesSent = 0
    /// The owner should stop feeding this connection (pause its source) until `connectionDidDrain`.
    @inlinable public var isOverHighWaterMark: Bool { outbound.readableBytes > highWaterMark }

    /// This connection's registration with `loop`.
    public var registration: Registration { registered }
    private var registered: Registration!
    /// What `registered` is watched for in the loop, mirrored to skip redundant `setInterest`.
    private var registeredInterest: Interest
    @usableFromInline var outbound = ByteBuffer()
    var closeWhenFlushed = false
    private var shutdownWhenFlushed = false
    private var outputShutdown = false
    private var drainOwed = false
    var failed = false
    /// Output waits for the end of the loop's batch of events (SendBatch.swift): no write
    /// interest is registered for it meanwhile.
    private(set) var isCorked = false

    /// The TLS session once `startTLS` was called (Connection+TLS.swift).
    var tls: TLSStream?
    /// While the handshake runs: what it waits for (interest follows it; no data moves).
    var tlsHandshakeWant: TLSWant?
    /// SSL_read needs the socket writable (or SSL_write needs it readable) to go on.
    var tlsReadWantsWrite = false, tlsWriteWantsRead = false
    /// A read of bytes OpenSSL holds (invisible to epoll) is scheduled.
    var tlsReadScheduled = false

    /// Wraps a connected (or, with `connecting`, connecting) non-blocking socket and registers it.
    /// The connection owns `fd` from here on, even when this throws.
    public init(loop: EventLoop, fd: Int32, connecting: Bool = false,
                highWaterMark: Int = 1 << 20, lowWaterMark: Int? = nil) throws {
        precondition(highWaterMark > 0)
        self.loop = loop
        self.fd = fd
        self.isConnecting = connecting
        self.highWaterMark = highWaterMark
        self.lowWaterMark = min(lowWaterMark ?? highWaterMark / 2, highWaterMark)
        registeredInterest = connecting ? .writable : .readable
        do {
            registered = try loop.register(fd: fd, interest: registeredInterest, handler: self)
        } catch {
            Socket.close(fd)
            throw error
        }
    }

    /// Starts an outgoing connection; `connectionDidConnect` or `connectionDidClose` follows
    /// from the loop. Throws only for failures known at once (resolution, no route, EMFILE...).
    public static func connect(loop: EventLoop, host: String, port: Int,
                               highWaterMark: Int = 1 << 20) throws -> Connection {
        let (fd, _) = try Socket.connectTCP(host: host, port: port)
        Socket.setNoDelay(fd)
        return try Connection(loop: loop, fd: fd, connecting: true, highWaterMark: highWaterMark)
    }

    /// Starts an outgoing connection to an address resolved beforehand (see `AsyncResolver`);
    /// nothing blocks. Throws only for failures known at once (no route, EMFILE...).
    public static func connect(loop: EventLoop, address: SocketAddress,
                               highWaterMark: Int = 1 << 20) throws -> Connection {
        let (fd, _) = try Socket.connectTCP(address: address)
        Socket.setNoDelay(fd)
        return try Connection(loop: loop, fd: fd, connecting: true, highWaterMark: highWaterMark)
    }

    // MARK: Sending

    /// Writes what the socket takes now and buffers the rest. Ignored once closing.
    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !failed, !closeWhenFlushed, !shutdownWhenFlushed, !outputShutdown, bytes.count > 0 else { return }
        if loop.corking && tls == nil && !isConnecting
            && (isCorked || (outbound.isEmpty && bytes.count <= SendBatch.corkLimit)) {
            outbound.append(bytes)
            if !isCorked {
                isCorked = true
                loop.sendBatch.add(self)
            }
            if isOverHighWaterMark { drainOwed = true }
            return
        }
        var written = 0
        if outbound.isEmpty && !isConnecting && tlsHandshakeWant == nil {
            writing: while written < bytes.count {
                do {
                    switch try transportWrite(UnsafeRawBufferPointer(rebasing: bytes[written...])) {
                    case .processed(let n): written += n; bytesSent += n
                    case .wouldBlock: break writing
                    }
                } catch let error as IOError {
                    failLater(error)
                    return
                } catch {
                    preconditionFailure("unexpected \(error)")
                }
            }
        }
        guard written < bytes.count else { return }
        outbound.reserveWritable(bytes.count - written)
        outbound.append(UnsafeRawBufferPointer(rebasing: bytes[written...]))
        if isOverHighWaterMark { drainOwed = true }
        updateInterest()
    }

    public func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    public func send(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Sends the readable bytes of `buffer` (its reader index is not moved).
    public func send(_ buffer: ByteBuffer) {
        buffer.withReadableBytes { send($0) }
    }

    /// Sends `count` readable bytes of `buffer` starting `offset` bytes after its reader index.
    public func sendSlice(of buffer: ByteBuffer, offset: Int = 0, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.readableBytes)
        buffer.withReadableBytes { send(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
    }

    // MARK: Flow control and closing

    /// Stops reading (back-pressure); the kernel buffers and then TCP stalls the peer.
    /// No callback reads while paused. Read interest is dropped lazily, at the first readable
    /// event while paused, so a pause undone before any input arrives costs no syscall.
    public func pauseReading() {
        guard !isReadingPaused else { return }
        isReadingPaused = true
        updateInterest()
    }

    /// Undoes `pauseReading`; bytes already in the kernel are reported on the next iteration.
    public func resumeReading() {
        guard isReadingPaused else { return }
        isReadingPaused = false
        updateInterest()
        if let tls, tls.hasPending { scheduleTLSPendingRead() }
    }

    /// Half-close: sends FIN once the buffered output is flushed, and keeps reading.
    public func shutdownOutput() {
        guard !isClosed, !outputShutdown, !closeWhenFlushed else { return }
        if outbound.isEmpty && !isConnecting {
            outputShutdown = true
            Socket.shutdownOutput(fd)
        } else {
            shutdownWhenFlushed = true
        }
    }

    /// Stops reading, flushes the buffered output, then closes.
    public func closeAfterFlush() {
        guard !isClosed, !failed else { return }
        if outbound.isEmpty && !isConnecting {
            discardUnreadAndClose()
        } else {
            closeWhenFlushed = true
            updateInterest()
        }
    }

    /// Closes now, dropping buffered output; `connectionDidClose(error: nil)` follows at once.
    public func close() {
        close(error: nil)
    }

    func close(error: IOError?) {
        guard !isClosed else { return }
        if isCorked && error == nil && !failed {
            // Corked output was sent as far as the caller knows: write what the socket takes.
            while !outbound.isEmpty,
                  case .processed(let n)? = try? outbound.withReadableBytes({ try transportWrite($0) }), n > 0 {
                outbound.moveReaderIndex(forwardBy: n)
                bytesSent += n
            }
        }
        isClosed = true
        if error == nil, !failed { tls?.shutdown() }
        loop.unregister(registration)
        Socket.close(fd)
        outbound = ByteBuffer()
        let d = delegate
        delegate = nil
        d?.connectionDidClose(self, error: error)
    }

    /// A write failed inside `send`: report it from the loop, not from inside the caller's `send`.
    private func failLater(_ error: IOError) {
        failed = true
        outbound = ByteBuffer()
        updateInterest()
        loop.runBeforeNextWait { [self] in close(error: error) }
    }

    /// Unread input makes close() send RST, which can destroy the output the peer has not read
    /// yet; reading what is already queued first lets the close be a FIN.
    private func discardUnreadAndClose() {
        var discarded = 0
        while discarded < 4 * Self.readCapPerEvent,
              case .processed(let n)? = try? Socket.read(fd, into: loop.readScratch), n > 0 {
            discarded += n
        }
        close(error: nil)
    }

    /// `enforcingPause`: a paused connection drops read interest now (a readable event came
    /// while paused); otherwise a pause keeps read interest that is already registered.
    func updateInterest(enforcingPause: Bool = false) {
        guard !isClosed else { return }
        var interest: Interest = []
        if isConnecting {
            interest = .writable
        } else if let want = tlsHandshakeWant {
            if !failed { interest = want == .read ? .readable : .writable }
        } else if !failed {
            if !receivedEOF && !closeWhenFlushed
                && (!isReadingPaused || (!enforcingPause && registeredInterest.contains(.readable))) {
                interest.insert(.readable)
            }
            if (!outbound.isEmpty && !isCorked) || (tlsReadWantsWrite && !isReadingPaused) { interest.insert(.writable) }
            if tlsWriteWantsRead && !outbound.isEmpty { interest.insert(.readable) }
        }
        guard interest != registeredInterest else { return }
        registeredInterest = interest
        loop.setInterest(registration, interest)
    }

    // MARK: Events

    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        handleEvent(readable: readable, writable: writable, hangup: hangup, peerClosed: false)
    }

    public func handleEvent(readable: Bool, writable: Bool, hangup: Bool, peerClosed: Bool) {
        guard !isClosed, !failed else { return }
        if isConnecting {
            if writable || hangup { finishConnect() }
            return
        }
        if tlsHandshakeWant != nil {
            continueTLSHandshake()
            return
        }
        if (writable || (readable && tlsWriteWantsRead)) && !outbound.isEmpty {
            flushFromEvent()
            if isClosed { return }
        }
        if writable && tlsReadWantsWrite && !isReadingPaused {
            readAvailable(cap: Self.readCapPerEvent, untilEOF: false)
            if isClosed || failed { return }
        }
        if hangup {
            readAll()
        } else if readable && !receivedEOF && !closeWhenFlushed {
            if isReadingPaused {
                updateInterest(enforcingPause: true)     // the lazy pause takes effect
            } else {
                readAvailable(cap: Self.readCapPerEvent, untilEOF: peerClosed)
            }
        }
    }

    private func finishConnect() {
        let error = Socket.pendingError(fd)
        if error != 0 {
            close(error: IOError(errno: error, operation: "connect"))
            return
        }
        isConnecting = false
        updateInterest()
        delegate?.connectionDidConnect(self)
        if isClosed || failed { return }
        // Also carries out a closeAfterFlush or shutdownOutput requested while connecting.
        if outbound.isEmpty { flush() } else { flushFromEvent() }
    }

    /// EPOLLHUP/EPOLLERR: read what is left (bounded by the kernel's buffer, and even while
    /// reading is paused, since the peer can send nothing more) and close.
    private func readAll() {
        readAvailable(cap: .max, untilEOF: true)
        guard !isClosed, !failed else { return }
        let error = Socket.pendingError(fd)
        close(error: error == 0 ? nil : IOError(errno: error, operation: "recv"))
    }

    /// Reads until a short read (the socket is drained), EAGAIN, end of file or `cap`.
    /// `untilEOF` (a hang-up, or EPOLLRDHUP: the peer's FIN is queued) reads past short reads
    /// up to the end of file, so that it is seen in this event rather than the next turn.
    func readAvailable(cap: Int, untilEOF: Bool) {
        var total = 0
        var sawEOF = false
        var failure: IOError?
        let scratch = loop.readScratch
        reading: while total < cap {
            do {
                let space: Int
                let result: IOResult<Int>
                if inbound.writableBytes >= Self.readInPlaceMinimum {
                    // Room for the usual request or answer: read in place, no copy.
                    space = min(inbound.writableBytes, cap - total)
                    result = try inbound.writeIntoFreeSpace { free in
                        let r = try transportRead(UnsafeMutableRawBufferPointer(rebasing: free[0..<space]))
                        if case .processed(let n) = r { return (r, n) }
                        return (r, 0)
                    }
                } else {
                    space = min(scratch.count, cap - total)
                    result = try transportRead(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<space]))
                    if case .processed(let n) = result, n > 0 {
                        // Reclaims what the delegate consumed before growing: a stream that always
                        // leaves a partial message behind would otherwise grow `inbound` forever.
                        // Leaves room for the next read to land in place.
                        inbound.reserveWritable(Swift.max(n, Self.readInPlaceMinimum))
                        inbound.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                    }
                }
                switch result {
                case .processed(0): sawEOF = true; break reading
                case .processed(let n):
                    total += n
                    // Short: the socket is empty now. Level-triggered read interest stays on,
                    // so bytes or a FIN arriving later wake the loop; no recv just for EAGAIN.
                    // (Not under TLS: a read returns at most one record.)
                    if n < space && !untilEOF && tls == nil { break reading }
                case .wouldBlock: break reading
                }
            } catch let error as IOError {
                failure = error
                break reading
            } catch {
                preconditionFailure("unexpected \(error)")
            }
        }
        bytesReceived += total
        if total > 0 {
            delegate?.connectionDidRead(self)
            if isClosed || failed { return }
        }
        // After the delegate consumed what it could (not before the read as well: the
        // buffer is appended to at its front when empty, and given back just after).
        releaseInboundIfIdle()
        if let tls {
            updateInterest()
            if failure == nil, !sawEOF, tls.hasPending { scheduleTLSPendingRead() }
        }
        if let failure {
            close(error: failure)
        } else if sawEOF {
            receivedEOF = true
            if outbound.isEmpty && !isConnecting {
                close(error: nil)
            } else {
                closeWhenFlushed = true
                updateInterest()
            }
        }
    }

    /// Only an empty buffer is shrunk: one holding a partial message in the middle of a stream
    /// would shrink and regrow on every read event.
    private func releaseInboundIfIdle() {
        if inbound.isEmpty { inbound.shrink(ifCapacityAbove: retainedBufferCapacity) }
    }

    func flushFromEvent() {
        flush()
        guard !isClosed, !failed else { return }
        if drainOwed && outbound.readableBytes < lowWaterMark {
            drainOwed = false
            delegate?.connectionDidDrain(self)
        } else if outbound.isEmpty {
            delegate?.connectionDidDrain(self)
        }
    }

    /// The corked output, for the batch's io_uring send; nil when there is none to send now.
    /// The pointer stays valid until the output buffer is next changed (`corkedOutputSent`).
    func corkedOutput() -> (UnsafeRawPointer, Int)? {
        guard isCorked, !isClosed, !failed, !outbound.isEmpty, tlsHandshakeWant == nil else { return nil }
        return outbound.withReadableBytes { ($0.baseAddress!, $0.count) }
    }

    /// The batch sent the corked output: `result` bytes taken, or -errno.
    func corkedOutputSent(_ result: Int32) {
        isCorked = false
        guard !isClosed, !failed else { return }
        if result > 0 {
            outbound.moveReaderIndex(forwardBy: Int(result))
            bytesSent += Int(result)
        } else if result < 0 && result != -EAGAIN && result != -EINTR {
            close(error: IOError(errno: -result, operation: "send"))
            return
        }
        flushUncorked()
    }

    /// The batch ended without an io_uring send for this connection: write with send(2).
    func flushCorked() {
        isCorked = false
        guard !isClosed, !failed else { return }
        flushUncorked()
    }

    /// Writes the rest with send(2) (none is left after a whole io_uring send). The owner hears
    /// of a drain only if it was told to pause its source, as when `send` writes at once.
    private func flushUncorked() {
        flush()
        if !isClosed, !failed, drainOwed, outbound.readableBytes < lowWaterMark {
            drainOwed = false
            delegate?.connectionDidDrain(self)
        }
    }

    func flush() {
        if tlsHandshakeWant != nil { return updateInterest() }
        while !outbound.isEmpty {
            do {
                let result = try outbound.withReadableBytes { try transportWrite($0) }
                guard case .processed(let n) = result else { break }
                outbound.moveReaderIndex(forwardBy: n)
                bytesSent += n
            } catch let error as IOError {
                close(error: error)
                return
            } catch {
                preconditionFailure("unexpected \(error)")
            }
        }
        if outbound.isEmpty {
            outbound.shrink(ifCapacityAbove: retainedBufferCapacity)
            if closeWhenFlushed {
                if receivedEOF { close(error: nil) } else { discardUnreadAndClose() }
                return
            }
            if shutdownWhenFlushed {
                shutdownWhenFlushed = false
                outputShutdown = true
                Socket.shutdownOutput(fd)
                if receivedEOF {
                    close(error: nil)
                    return
                }
            }
        }
        updateInterest()
    }
}
