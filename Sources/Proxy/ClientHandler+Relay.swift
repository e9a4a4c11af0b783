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
        session?.serverAttached(&s.state, out: &out)
        if !out.toServer.isEmpty { s.send(out.toServer) }
        out.resetToServer()
        updateReading()
    }

    /// Splits the client's input into messages and runs each through the session machine,
    /// leasing a server when a message needs one.
    func relayInput() {
        guard case .ready = phase, session != nil, let pool else { return }
        session!.configuration.pinningAvailable = pool.pinnedClients < pool.maxPinned
        defer { flushOutput() }
        let proxy = server          // one strong reference, not an unowned load per message
        let maxMessageSize = proxy.config.listen.maxMessageSize
        // Stops while the client's answers are backed up: it resumes when they drain.
        while !conn.isOverHighWaterMark {
            let header: FrameHeader
            do {
                guard let h = try Framing.peekHeader(conn.inbound, maxBodyLength: maxMessageSize) else { break }
                header = h
            } catch let e as WireDecodingError {
                if case .messageTooLarge = e.reason {
                    return fatal(SQLState.programLimitExceeded, "message too large: \(e)", hint: "The limit is listen.max_message_size.")
                }
                return fatal(SQLState.protocolViolation, "invalid message: \(e)")
            } catch { return fatal(SQLState.protocolViolation, "invalid message: \(error)") }
            guard conn.inbound.readableBytes >= header.frameLength else { break }
            if requestStartedAt == nil { requestStartedAt = server.loop.now }
            guard let id = FrontendMessageID(rawValue: header.id) else {
                return fatal(SQLState.protocolViolation, "invalid frontend message type \(header.id)")
            }
            guard let s = leased else {
                if id == .terminate { return close(error: nil) }
                if cacheOn {
                    switch cacheStep(maxMessageSize: maxMessageSize) {
                    case .wait: return
                    case .served: continue
                    case .forward: break
                    }
                }
                let n = session!.inputWithoutServer(conn.inbound.readableView, maxMessageSize: maxMessageSize,
                                                    names: &proxy.statementNames, out: &out)
                if n > 0 {
                    conn.inbound.moveReaderIndex(forwardBy: n)
                    cacheBatchDone()
                    continue
                }
                if !waitingForServer {
                    // What is due to the client goes first: a server may be assigned at once,
                    // and its relaying starts here.
                    flushOutput()
                    waitingForServer = true
                    updateReading()
                    pool.acquire(for: self)
                }
                return
            }
            let frame = conn.inbound.readableView(first: header.frameLength)
            let body = frame.dropFirst(5)
            let outstanding = cacheOn ? cacheBeforeClientMessage(id, body: body, server: s) : 0
            let result = session!.messageReceived(id, body: body, frame: frame,
                                                  server: &s.state, names: &proxy.statementNames, out: &out)
            if cacheOn { cacheAfterClientMessage(outstandingBefore: outstanding, server: s) }
            switch result {
            case .consumed:
                if admin.digest != nil { digestMessageSent(id, body: body) }
                conn.inbound.moveReaderIndex(forwardBy: header.frameLength)
            case .terminate:
                flushOutput()
                return close(error: nil)
            case let .fail(sqlState, message):
                return fatal(sqlState, message)
            case .needServer, .wait:
                return
            }
            s.state.tracker.drainSynthesized(into: &out.toClient)
            if out.toServer.readableBytes >= 256 * 1024 { flushOutput() }
        }
    }

    /// Sends what the machine wrote, and logs what it reported.
    private func flushOutput() {
        if !out.toServer.isEmpty, let s = leased { s.send(out.toServer) }
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
        guard let s = leased, let pool else { return }
        if server.log.level == .debug { log.debug("\(id) releases \(s.id)") }
        leased = nil
        s.client = nil
        pool.release(s, reusable: true)
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
        guard let s = leased, session?.shouldCancel(s.state) == true else { return }
        s.sendCancel()
    }
}
