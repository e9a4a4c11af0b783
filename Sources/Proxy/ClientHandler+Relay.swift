import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// Relaying a logged-in client's messages through its session machine to its leased server.
extension ClientHandler {
    func attach(_ s: ServerHandler) {
        leased = s
        s.client = self
        if let pid = cancelKey?.processID { s.lastClientPID = pid }
        out.resetToServer()
        if hasSession { machine.serverAttached(&s.state, out: &out) }
        if !out.toServer.isEmpty { s.send(out.toServer) }
        out.resetToServer()
        updateReading()
    }

    /// Splits the client's input into messages and runs each through the session machine,
    /// leasing a server when a message needs one.
    func relayInput() {
        guard case .ready = phase, hasSession, let poolRef else { return }
        poolRef._withUnsafeGuaranteedRef { relayInput(pool: $0) }
    }

    private func relayInput(pool: PoolDriver) {
        machine.configuration.pinningAvailable = pool.pinnedClients < pool.maxPinned
        defer { flushOutput() }
        let proxy = server          // one strong reference, not an unowned load per message
        let maxMessageSize = proxy.config.listen.maxMessageSize
        // Stops while the client's answers are backed up: it resumes when they drain.
        while !conn.isOverHighWaterMark {
            if let s = leased {
                // The lease changed under the batch (the result cache's doing): look again.
                guard relayLeased(to: s, proxy: proxy, maxMessageSize: maxMessageSize) else { return }
                continue
            }
            guard case let .message(header, id) = peekMessage(maxMessageSize: maxMessageSize) else { return }
            if id == .terminate { return close(error: nil) }
            if cacheOn {
                switch cacheStep(maxMessageSize: maxMessageSize) {
                case .wait: return
                case .served: continue
                case .forward: break
                }
            }
            let firstBodyByte = header.bodyLength > 0 ? conn.inbound.peekByte(at: 5) ?? 0 : 0
            if !machine.needsServer(id, firstBodyByte: firstBodyByte) {
                let n = machine.inputWithoutServer(conn.inbound.readableView, maxMessageSize: maxMessageSize,
                                                    names: &proxy.statementNames, out: &out)
                if n > 0 {
                    conn.inbound.moveReaderIndex(forwardBy: n)
                    cacheBatchDone()
                    continue
                }
            }
            if !waitingForServer {
                if let s = pool.leaseIdle(for: self) {
                    if server.log.level == .debug { log.debug("\(id) leases \(s.id)") }
                    attach(s)
                    continue
                }
                // What is due to the client goes first: a server may be assigned at once,
                // and its relaying starts here.
                flushOutput()
                waitingForServer = true
                updateReading()
                pool.acquire(for: self)
            }
            return
        }
    }

    /// Runs the input's messages through the session machine to the leased server `s`, held
    /// once for the batch (not retained per message). False when relaying stops here: the
    /// input is used up, the client waits, back-pressure, or the client was failed or closed;
    /// true when the lease changed under it and the caller must look again.
    private func relayLeased(to s: ServerHandler, proxy: ProxyServer, maxMessageSize: Int) -> Bool {
        while !conn.isOverHighWaterMark {
            guard case let .message(header, id) = peekMessage(maxMessageSize: maxMessageSize) else { return false }
            let frameLength = header.frameLength
            let outstanding = cacheOn ? cacheBeforeClientMessage(id, body: conn.inbound.readableView(first: frameLength).dropFirst(5), server: s) : 0
            // The frame is lent to the machine in place: no slice (and reference count) per message.
            let result = conn.inbound.withReadableBytesInPlace { raw in
                machine.messageReceived(id, frame: UnsafeRawBufferPointer(rebasing: raw[0..<frameLength]),
                                        server: &s.state, names: &proxy.statementNames, out: &out)
            }
            if cacheOn { cacheAfterClientMessage(outstandingBefore: outstanding, server: s) }
            switch result {
            case .consumed:
                if admin.digest != nil { digestMessageSent(id, body: conn.inbound.readableView(first: frameLength).dropFirst(5)) }
                conn.inbound.moveReaderIndex(forwardBy: frameLength)
            case .terminate:
                flushOutput()
                close(error: nil)
                return false
            case let .fail(sqlState, message):
                fatal(sqlState, message)
                return false
            case .needServer, .wait:
                return false
            }
            s.state.tracker.drainSynthesized(into: &out.toClient)
            if out.toServer.readableBytes >= 256 * 1024 { flushOutput() }
            if leased !== s { return true }
        }
        return false
    }

    enum PeekedMessage { case message(FrameHeader, FrontendMessageID), incomplete, failed }

    /// The message at the front of the input, if it has arrived whole; an invalid one fails
    /// the client. Starts the request's clock. Inlined: it runs for every message, and the
    /// failures go to `failInvalidMessage`.
    @inline(__always)
    private func peekMessage(maxMessageSize: Int) -> PeekedMessage {
        guard let (rawID, word) = conn.inbound.peekByteAndInt32() else { return .incomplete }
        let length = Int(word)
        guard length >= 4 && length - 4 <= maxMessageSize else { return failInvalidMessage(maxMessageSize: maxMessageSize) }
        guard conn.inbound.readableBytes > length else { return .incomplete }
        if requestStartedAt == nil { requestStartedAt = server.loop.now }
        guard let id = FrontendMessageID(byte: rawID) else {
            fatal(SQLState.protocolViolation, "invalid frontend message type \(rawID)")
            return .failed
        }
        return .message(FrameHeader(id: rawID, bodyLength: length - 4), id)
    }

    /// A header with an impossible length word: the client is failed with the decoder's error.
    @inline(never)
    private func failInvalidMessage(maxMessageSize: Int) -> PeekedMessage {
        do {
            _ = try Framing.peekHeader(conn.inbound, maxBodyLength: maxMessageSize)
            fatal(SQLState.protocolViolation, "invalid message")
        } catch let e as WireDecodingError {
            if case .messageTooLarge = e.reason {
                fatal(SQLState.programLimitExceeded, "message too large: \(e)", hint: "The limit is listen.max_message_size.")
            } else {
                fatal(SQLState.protocolViolation, "invalid message: \(e)")
            }
        } catch {
            fatal(SQLState.protocolViolation, "invalid message: \(error)")
        }
        return .failed
    }

    /// Sends what the machine wrote, and logs what it reported.
    private func flushOutput() {
        if !out.toServer.isEmpty, let s = leased {
            // `s` at +0 inside the buffer's closure: without it the closure retains it again
            // (about 30 instructions per transaction, measured).
            Unmanaged.passUnretained(s)._withUnsafeGuaranteedRef { s in out.toServer.withReadableBytesInPlace { s.sendGuaranteed($0) } }
        }
        if !out.toClient.isEmpty { sendToClient(out.toClient) }
        out.reset()
        if !out.events.isEmpty {
            for e in out.events { log.info("client \(id): \(e)") }
            out.events.removeAll()
        }
        if out.pinChanged {
            pool?.pinnedClients += 1
            out.pinChanged = false
        }
        updateReading()
    }

    // MARK: Callbacks from the leased server

    /// Sends, or holds while the client's LISTEN is not yet in force upstream.
    func sendToClient(_ b: ByteBuffer) {
        if outputHeld { heldOutput.append(b.readableView) } else { conn.send(b) }
    }

    func sendToClient(_ bytes: ArraySlice<UInt8>) {
        if outputHeld { heldOutput.append(bytes) } else { conn.send(bytes) }
    }

    /// The pool's listener connection LISTENs on the client's channels: what was held (the
    /// ReadyForQuery of the committing LISTEN) goes out, then any notifications.
    func releaseHeldOutput() {
        guard outputHeld else { return }
        outputHeld = false
        if !heldOutput.isEmpty { conn.send(heldOutput) }
        heldOutput = ByteBuffer()
        flushNotifications()
    }

    /// The lease ended (ReadyForQuery 'I', nothing outstanding).
    func releaseServer() {
        guard let s = leased, let poolRef else { return }
        if server.log.level == .debug { log.debug("\(id) releases \(s.id)") }
        leased = nil
        s.client = nil
        poolRef._withUnsafeGuaranteedRef { $0.release(s, reusable: true) }
        cacheBatchDone()
        if closeWhenIdle { return shutDownNow() }
        flushNotifications()
        updateReading()
        if conn.inbound.readableBytes > 0 { relayInput() }
    }

    /// The leased server died: the client's transaction is lost with it.
    func serverLost(_ s: ServerHandler, message: String) {
        guard leased === s else { return }
        leased = nil
        cachePublishOrphanedWrites()
        fatal("08006", "the upstream server connection was lost: \(message)",
              hint: "The transaction, if any, was rolled back by PostgreSQL; reconnect and retry.")
    }

    func serverDrained() {
        updateReading()
        relayInput()
    }

    /// A CancelRequest with this client's key arrived: forward it to the server running
    /// its query, if any (never to another client's server).
    func cancelRunningQuery() {
        guard let s = leased, hasSession, machine.shouldCancel(s.state) else { return }
        s.sendCancel()
    }
}
