import CachePolicy
import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// One upstream PostgreSQL connection: logs in, then relays responses to the client it is
/// leased to, tracking the requests in flight so that the pool knows when it is free.
final class ServerHandler: ConnectionDelegate {
    enum Phase { case connecting, loggingIn, ready, closed }

    let id: ServerID
    let pool: PoolDriver       // pools are never removed (strong: used at +0 by the relay)
    /// What deferred callbacks capture instead of `[weak self]` (see `LoopWeak`).
    let weakRef = LoopWeak<ServerHandler>()
    private(set) var conn: Connection?
    private(set) var phase = Phase.connecting
    private var login: ServerLogin?
    /// SSLRequest and handshake before the StartupMessage (sslmode); nil once logging in.
    private var tlsStart: UpstreamTLSStart?
    /// `sslmode = allow`: the unencrypted login was refused, this attempt uses TLS.
    private var retryingWithTLS = false
    private var connectTimer: TimerID?
    private(set) var parameters: [String: String] = [:]
    private(set) var backendKey: (processID: Int32, secretKey: Int32) = (0, 0)
    /// pgstash's process id of the client that last leased this server (notifications).
    var lastClientPID: Int32?
    /// Connect, lease and request times (admin console, SHOW STATS, timeouts).
    var times: ServerTimes

    /// The client this server is leased to (cleared when the lease ends or the client leaves).
    var client: ClientHandler?
    /// The protocol state: requests in flight, statements, settings, transaction status.
    var state: ServerConnection
    /// Bytes left of a large message being streamed through without buffering it whole.
    private var passthroughRemaining = 0
    private var passthroughForward = true
    private var toClient = ByteBuffer(capacity: 64 * 1024)
    /// A committed transaction's writes are being published: the client's acknowledgement
    /// (the message at the head of the input) waits, and so does reading.
    private var publishing = false

    /// ErrorResponse bodies that start with these end the server's session.
    static let fatalSeverity: [UInt8] = [UInt8(ascii: "S")] + Array("FATAL".utf8)
    static let panicSeverity: [UInt8] = [UInt8(ascii: "S")] + Array("PANIC".utf8)

    init(id: ServerID, pool: PoolDriver, connectedAt: Double) {
        self.id = id
        self.pool = pool
        self.times = ServerTimes(connectedAt: connectedAt)
        self.state = ServerConnection(maxPreparedStatements: pool.config.maxPreparedStatements)
        weakRef.target = self
    }

    deinit { weakRef.target = nil }

    var log: Logger { pool.server.log }
    var loop: EventLoop { pool.server.loop }


    // MARK: Connecting and logging in

    func connect() {
        let db = pool.database
        // Strong captures (the timer is cancelled once logged in or failed; the resolver answers
        // once): a weak one would slow down every retain of this server for its lifetime.
        connectTimer = loop.schedule(after: pool.config.connectTimeout) {
            guard self.phase == .connecting || self.phase == .loggingIn else { return }
            self.fail(sqlState: "08006", "timed out after \(self.pool.config.connectTimeout) s connecting to upstream server \(db.host):\(db.port)")
        }
        // Host names are resolved off the loop thread (a literal or a cached answer at once).
        pool.server.resolver.resolve(host: db.host, port: db.port) { result in
            guard self.phase == .connecting else { return }
            switch result {
            case .success(let addresses): self.connect(to: addresses[0])
            case .failure(let e):
                self.fail(sqlState: "08006", "could not resolve upstream server \(db.host): \(e)")
            }
        }
    }

    private func connect(to address: SocketAddress) {
        let db = pool.database
        do {
            let (fd, inProgress) = try Socket.connectTCP(address: address)
            Socket.setNoDelay(fd)
            let c = try Connection(loop: loop, fd: fd, connecting: inProgress,
                                   highWaterMark: pool.server.config.listen.highWaterMark)
            c.delegate = self
            conn = c
            if !inProgress { connectionDidConnect(c) }
        } catch {
            fail(sqlState: "08006", "could not connect to upstream server \(db.host):\(db.port): \(error)")
        }
    }

    func connectionDidConnect(_ c: Connection) {
        phase = .loggingIn
        var start = UpstreamTLSStart(settings: pool.database.tls, host: pool.database.host, retryingWithTLS: retryingWithTLS)
        let step = start.connected(c)
        tlsStart = start
        run(step, c)
    }

    func connectionDidCompleteTLSHandshake(_ c: Connection) {
        log.debug("\(id): TLS to \(pool.database.host):\(pool.database.port): \(c.tlsSummary ?? "")")
        run(.sendStartup, c)
    }

    private func run(_ step: UpstreamTLSStart.Step, _ c: Connection) {
        switch step {
        case .wait: return
        case let .startTLS(context, role):
            // Starting TLS may complete the handshake, or close `c`, before it returns.
            c.startTLS(context, role: role)
        case .sendStartup:
            tlsStart = nil
            let l = pool.newLogin()
            login = l
            c.send(l.startupPacket)
        case let .fail(sqlState, message):
            fail(sqlState: sqlState, message)
        }
    }

    /// `sslmode = allow`: the server's pg_hba refused the unencrypted login; try once with TLS.
    private func retryWithTLS() {
        log.info("\(id): upstream refused an unencrypted login (sslmode = allow); retrying with TLS")
        conn?.delegate = nil
        conn?.close()
        conn = nil
        login = nil
        if let t = connectTimer { loop.cancel(t) }
        retryingWithTLS = true
        phase = .connecting
        connect()
    }

    private func loginInput(_ c: Connection) {
        if var start = tlsStart {
            guard start.awaitingAnswer else { return }      // handshaking: OpenSSL reads
            let step = start.answerReceived(c, server: pool.server)
            tlsStart = start
            return run(step, c)
        }
        while let frame = nextFrame(c) {
            let msg: BackendMessage
            do { msg = try BackendMessage.decode(id: frame.id, body: frame.body) } catch {
                return fail(sqlState: "08P01", "upstream server sent a malformed message during login: \(error)")
            }
            guard var l = login else { return }
            let action = l.messageReceived(msg)
            login = l
            switch action {
            case .wait: continue
            case .send(let bytes): c.send(bytes)
            case let .fail(sqlState, message):
                if UpstreamTLSNegotiation(mode: pool.database.tls.sslmode, retryingWithTLS: retryingWithTLS)
                    .shouldRetryWithTLS(afterLoginFailure: sqlState) {
                    return retryWithTLS()
                }
                return fail(sqlState: sqlState, "upstream login to \(pool.database.host):\(pool.database.port) failed: \(message)")
            case let .ready(params, pid, key):
                parameters = params
                backendKey = (pid, key)
                pool.server.backendServers[pid] = weakRef
                phase = .ready
                login = nil
                if let t = connectTimer { loop.cancel(t) }
                pool.serverReady(self)
                if c.inbound.readableBytes > 0 { relayInput(c) }
                return
            }
        }
    }

    private func nextFrame(_ c: Connection) -> (id: UInt8, body: [UInt8])? {
        do { return try Framing.nextFrame(&c.inbound, maxBodyLength: Int(Int32.max)) } catch {
            fail(sqlState: "08P01", "upstream server sent a malformed message: \(error)")
            return nil
        }
    }

    private func fail(sqlState: String, _ message: String) {
        guard phase != .closed else { return }
        if phase == .ready, pool.server.backendServers[backendKey.processID] === weakRef {
            pool.server.backendServers[backendKey.processID] = nil
        }
        let wasReady = phase == .ready
        phase = .closed
        if let t = connectTimer { loop.cancel(t) }
        conn?.delegate = nil
        conn?.close()
        conn = nil
        if wasReady {
            client?.serverLost(self, message: message)
            pool.serverClosed(self)
        } else {
            pool.serverFailed(self, sqlState: sqlState, message: message)
        }
    }

    /// Closes the connection (pool decision or a dirty server); the pool hears of it.
    func close() { fail(sqlState: "08006", "server connection closed") }

    // MARK: Relaying to the client

    func connectionDidRead(_ c: Connection) {
        switch phase {
        case .loggingIn: loginInput(c)
        case .ready: relayInput(c)
        case .connecting, .closed: c.inbound.clear()
        }
    }

    /// Splits what the server sent into frames and runs each through the client's session
    /// machine; big DataRow and CopyData messages stream through without being buffered whole.
    private func relayInput(_ c: Connection) {
        if publishing { return }
        guard let client, client.hasSession else {
            return resetting ? resetInput(c) : (state.draining ? drainInput(c) : idleInput(c))
        }
        toClient.clear()
        var released = false
        var resume = false
        var transactionEnded = false
        var listens: [ListenChange] = []
        var unpinned = false
        var failure: ClientSession.Failure?
        // Forwarded frames go to the client from the read itself (`span`: storage indices of
        // `input`, contiguous) while nothing else is due before them: no copy into `toClient`.
        // Not with the result cache on: its capture and commit gate work on `toClient`.
        let input = c.inbound.readableView
        // Bodies go to the session machine as raw bytes of `input` (alive to the end of this
        // function; nothing in the loop reallocates `c.inbound`): no slice per message.
        let inputBase = input.withUnsafeBytes { $0.baseAddress }
        var span = 0..<0
        let sendsFromInput = !client.cacheOn
        loop: while c.inbound.readableBytes > 0 {
            if passthroughRemaining > 0 {
                spanFirst(input, &span)
                let n = min(passthroughRemaining, c.inbound.readableBytes)
                if passthroughForward { toClient.append(c.inbound.readableView.prefix(n)) }
                c.inbound.moveReaderIndex(forwardBy: n)
                passthroughRemaining -= n
                continue
            }
            let header: FrameHeader
            do {
                guard let h = try Framing.peekHeader(c.inbound, maxBodyLength: Int(Int32.max) - 4) else { break }
                header = h
            } catch {
                return fail(sqlState: "08P01", "upstream server sent a malformed message: \(error)")
            }
            if c.inbound.readableBytes < header.frameLength {
                // Stream big rows and COPY data through instead of buffering them whole.
                let streamable = header.id == BackendMessageID.dataRow.rawValue || header.id == BackendMessageID.copyData.rawValue
                guard streamable && header.frameLength > 256 * 1024 else { break }
                if client.cacheOn && client.cacheState!.fill != nil { client.cacheStreamed() }
                passthroughForward = client.machine.backendMessageReceived(header.id, body: [], server: &state,
                                                                    names: &pool.server.statementNames, toClient: &toClient).forward
                passthroughRemaining = header.frameLength
                continue
            }
            if let forward = client.machine.plainMessageReceived(header.id, server: &state, toClient: &toClient) {
                // Rows and the like: nothing to decide but whether they reach the client.
                if forward {
                    if sendsFromInput {
                        forwardFromInput(c.inbound.readerIndex..<(c.inbound.readerIndex + header.frameLength), input, &span)
                    } else {
                        forwardToClient(c.inbound.readableView(first: header.frameLength), id: header.id, to: client)
                    }
                }
                c.inbound.moveReaderIndex(forwardBy: header.frameLength)
                state.tracker.drainSynthesized(into: &toClient)
                continue
            }
            let body = UnsafeRawBufferPointer(start: inputBase! + (c.inbound.readerIndex + 5 - input.startIndex),
                                              count: header.bodyLength)
            if client.cacheOn, !client.cacheState!.gate.isIdle {
                switch commitGate(client, header, body: c.inbound.readableView(first: header.frameLength).dropFirst(5), in: c) {
                case .relay: break
                case .needNext: break loop
                case .publish(let writes):
                    if publish(writes, for: client) { break loop }
                }
            }
            pool.stats.backendMessage(header.id, body: body, client: client, now: loop.now)
            let r = client.machine.backendMessageReceived(header.id, body: body, server: &state,
                                                   names: &pool.server.statementNames, toClient: &toClient)
            if header.id == BackendMessageID.parameterStatus.rawValue,
               case let .parameterStatus(name, value)? = try? BackendMessage.decode(id: header.id, body: ArraySlice(body)) {
                parameters[name] = value
            } else if header.id == BackendMessageID.errorResponse.rawValue,
                      body.starts(with: Self.fatalSeverity) || body.starts(with: Self.panicSeverity) {
                log.warning("upstream server \(id) reported a fatal error")
            }
            if r.forward {
                let frameStart = c.inbound.readerIndex
                if sendsFromInput {
                    forwardFromInput(frameStart..<(frameStart + header.frameLength), input, &span)
                } else {
                    forwardToClient(c.inbound.readableView(first: header.frameLength), id: header.id, to: client)
                }
            }
            if r.forward, header.id == BackendMessageID.readyForQuery.rawValue { pool.readyForQueryRelayed(self, status: body.first ?? 0) }
            c.inbound.moveReaderIndex(forwardBy: header.frameLength)
            state.tracker.drainSynthesized(into: &toClient)
            if r.resumeClient { resume = true }
            if r.transactionEnded { transactionEnded = true }
            if let l = r.listenChanges, !l.isEmpty { listens += l }
            if r.unpinned { unpinned = true }
            if let f = r.failure { failure = f; break loop }
            if r.release { released = true; break loop }
        }
        withExtendedLifetime(input) {}      // `inputBase`'s bytes
        pool.bytesRelayedToClient(toClient.readableBytes + span.count)
        if !listens.isEmpty {
            // The answer of a committing LISTEN waits until the listener LISTENs upstream.
            let inForce = pool.listensChanged(client, listens) { [weakRef = client.weakRef] in weakRef.target?.releaseHeldOutput() }
            if !inForce { client.outputHeld = true }
        }
        if !span.isEmpty && toClient.isEmpty {
            client.sendToClient(input[span])
        } else {
            spanFirst(input, &span)
            if toClient.readableBytes > 0 { client.sendToClient(toClient) }
        }
        if unpinned { pool.pinnedClients -= 1 }
        if transactionEnded && !released { client.flushNotifications() }
        if let failure {
            // The server's settings are not what pgstash thinks: nobody may use it.
            client.leased = nil
            self.client = nil
            client.fatal(failure.sqlState, failure.message,
                         hint: "A setting or role the client set earlier is no longer valid on PostgreSQL (e.g. a dropped role); reconnect.")
            return close()
        }
        if resume { client.settingsRestored() }
        if released {
            client.releaseServer()
            // Bytes left over belong to no one: a healthy idle server sends nothing.
            if c.inbound.readableBytes > 0 { idleInput(c) }
        } else {
            updateReading()
        }
    }

    /// The frame at `range` of the read goes to the client after everything due before it:
    /// it extends `span` while `toClient` is empty and it follows the span, else it is copied.
    @inline(__always)
    private func forwardFromInput(_ range: Range<Int>, _ input: ArraySlice<UInt8>, _ span: inout Range<Int>) {
        if toClient.isEmpty && (span.isEmpty || span.upperBound == range.lowerBound) {
            span = span.isEmpty ? range : span.lowerBound..<range.upperBound
        } else {
            spanFirst(input, &span)
            toClient.append(input[range])
        }
    }

    /// The span's frames go into `toClient` ahead of what the session machine wrote there
    /// since the span began (made-up answers due after them): the order the client must see.
    private func spanFirst(_ input: ArraySlice<UInt8>, _ span: inout Range<Int>) {
        guard !span.isEmpty else { return }
        if toClient.isEmpty {
            toClient.append(input[span])
        } else {
            var merged = ByteBuffer(capacity: max(toClient.capacity, span.count + toClient.readableBytes))
            merged.append(input[span])
            merged.append(toClient.readableView)
            toClient = merged
        }
        span = 0..<0
    }

    /// A whole frame goes to the client (and to the result cache's capture, when it fills an
    /// entry).
    private func forwardToClient(_ frame: ArraySlice<UInt8>, id: UInt8, to client: ClientHandler) {
        toClient.append(frame)
        if client.cacheOn && client.cacheState!.fill != nil { client.cacheObserve(id, frame: frame) }
    }

    /// Reading the server goes on while its client can take what it sends.
    func updateReading() {
        guard let c = conn else { return }
        if publishing { return c.pauseReading() }
        if let client, client.isOverHighWaterMark { c.pauseReading() } else { c.resumeReading() }
    }

    /// Asks the client's commit gate about a message the client is to be sent: ErrorResponse,
    /// CommandComplete and ReadyForQuery of the client's own requests (not pgstash's).
    private func commitGate(_ client: ClientHandler, _ header: FrameHeader, body: ArraySlice<UInt8>,
                            in c: Connection) -> CommitGate.Decision {
        let id = header.id
        guard id == BackendMessageID.commandComplete.rawValue || id == BackendMessageID.readyForQuery.rawValue
                || id == BackendMessageID.errorResponse.rawValue, state.tracker.headForwards else { return .relay }
        var next: (id: UInt8, status: UInt8?)?
        if id == BackendMessageID.commandComplete.rawValue {
            let view = c.inbound.readableView
            let at = view.startIndex + header.frameLength
            if view.endIndex > at {
                let nextID = view[at]
                if nextID != BackendMessageID.readyForQuery.rawValue {
                    next = (nextID, nil)
                } else if view.endIndex >= at + 6 {
                    next = (nextID, view[at + 5])
                }
            }
        }
        return client.cacheState!.gate.beforeRelay(id, body: body, next: next)
    }

    /// Publishes a committed transaction's writes, then relays the acknowledgement.
    private func publish(_ writes: WriteSet, for client: ClientHandler) -> Bool {
        guard let cache = pool.server.cache, let prefix = client.cachePrefix else { return false }
        publishing = true
        conn?.pauseReading()
        var inside = true
        cache.publish(prefix, writes) { [weakRef] in
            guard let self = weakRef.target else { return }
            let resume = { [weakRef] in
                guard let self = weakRef.target else { return }
                self.publishing = false
                self.updateReading()
                self.pump()
            }
            // Done before `publish` returned (owed while Redis is unreachable: no round trip):
            // the caller's relay loop is still running; relay again once it has returned.
            if inside { self.loop.runBeforeNextWait(resume) } else { resume() }
        }
        inside = false
        return true
    }

    /// Does what the machine decided for a server whose client left.
    func dispose(_ d: ServerConnection.Disposition) {
        updateReading()
        switch d {
        case .release: pool.release(self, reusable: true)
        case .reset: resetAndRelease(query: pool.config.serverResetQuery.isEmpty ? "DISCARD ALL" : pool.config.serverResetQuery)
        case .close: close()
        case .cancelAndClose:
            sendCancel()
            close()
        case .drain: pump()
        }
    }

    /// A departed client's statement runs to completion; its answers are dropped.
    private func drainInput(_ c: Connection) {
        while let frame = nextFrame(c) {
            if let d = state.drainingMessageReceived(frame.id, body: frame.body[...]) { return dispose(d) }
        }
    }

    /// Input while no client holds this server: only asynchronous messages are expected;
    /// anything else (a FATAL error on admin shutdown) ends it.
    private func idleInput(_ c: Connection) {
        while let frame = nextFrame(c) {
            switch BackendMessageID(rawValue: frame.id) {
            case .parameterStatus?:
                if case let .parameterStatus(name, value)? = try? BackendMessage.decode(id: frame.id, body: frame.body) {
                    parameters[name] = value
                }
            case .noticeResponse?, .notificationResponse?:
                continue
            default:
                if case .errorResponse(let f)? = try? BackendMessage.decode(id: frame.id, body: frame.body) {
                    log.warning("idle server \(id) closed by upstream: \(f.message ?? "")")
                }
                return close()
            }
        }
    }

    // MARK: Session-mode reset

    private var resetting = false

    /// Runs `query` (DISCARD ALL) with its answers dropped, then returns to the pool.
    func resetAndRelease(query: String) {
        guard let c = conn, phase == .ready, !query.isEmpty else {
            pool.release(self, reusable: phase == .ready)
            return
        }
        resetting = true
        var b = ByteBuffer()
        FrontendMessage.query(query).encode(into: &b)
        state.tracker.requestSent(.query, forward: false)
        c.send(b)
        state.resetSent()
    }

    private func resetInput(_ c: Connection) {
        var sink = ByteBuffer()
        while let frame = nextFrame(c) {
            _ = state.tracker.responseReceived(frame.id, into: &sink)
            if frame.id == BackendMessageID.readyForQuery.rawValue, state.tracker.isIdle {
                resetting = false
                state.transactionStatus = TransactionStatus(rawValue: frame.body.first ?? 0) ?? .idle
                pool.release(self, reusable: state.transactionStatus == .idle)
                return
            }
        }
    }

    func connectionDidDrain(_ c: Connection) { client?.serverDrained() }

    func connectionDidClose(_ c: Connection, error: IOError?) {
        conn = nil
        let db = pool.database
        let cause = error.map { ": \($0.message)" } ?? ""
        switch phase {
        case .connecting:
            fail(sqlState: "08006", "could not connect to upstream server \(db.host):\(db.port)\(cause)")
        case .loggingIn:
            if let error, error.isTLS {
                return fail(sqlState: "08006", UpstreamTLSStart.describe(error, host: db.host, port: db.port))
            }
            fail(sqlState: "08006", "upstream server \(db.host):\(db.port) closed the connection during login\(cause)")
        default:
            fail(sqlState: "08006", "upstream server \(db.host):\(db.port) closed the connection\(cause)")
        }
    }

    // MARK: Used by the client handler

    func send(_ b: ByteBuffer) {
        pool.requestSent(self, bytes: b.readableBytes)
        conn?.send(b)
    }

    /// `send` for the relay path: the pool and the connection used at +0 (both outlive the
    /// call: pools are never removed, and a failed send closes the connection later).
    func sendGuaranteed(_ bytes: UnsafeRawBufferPointer) {
        pool.requestSent(self, bytes: bytes.count)
        guard let conn else { return }
        Unmanaged.passUnretained(conn)._withUnsafeGuaranteedRef { $0.send(bytes) }
    }
    func resumeReading() { conn?.resumeReading() }
    var isOverHighWaterMark: Bool { conn?.isOverHighWaterMark ?? false }

    /// Re-reads buffered input (after the client drained or after a lease started).
    func pump() { if let c = conn, phase == .ready, c.inbound.readableBytes > 0 { relayInput(c) } }

    /// Sends a CancelRequest for this server's backend. Until the postmaster has taken it
    /// (it closes the cancel connection), the server is not released: a late cancel must
    /// never hit the next client's query.
    func sendCancel() {
        state.cancelsInFlight += 1
        pool.server.sendCancel(host: pool.database.host, port: pool.database.port,
                               processID: backendKey.processID, secretKey: backendKey.secretKey) { [weakRef] in
            weakRef.target?.cancelCompleted()
        }
    }

    private func cancelCompleted() {
        state.cancelsInFlight -= 1
        guard phase == .ready else { return }
        if let client, let session = client.session {
            if client.leased === self, session.shouldRelease(state) { client.releaseServer() }
        } else if let d = state.drainedDisposition() {
            dispose(d)
        }
    }
}
