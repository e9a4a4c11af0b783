import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// Relaying a logged-in client's requests to its leased server.
extension ClientHandler {
    /// Reported settings pgstash carries from server to server for the client.
    static let trackedReportedSettings: Set<String> = [
        "client_encoding", "datestyle", "timezone", "intervalstyle", "application_name",
        "standard_conforming_strings", "default_transaction_read_only",
    ]

    var transactionPooling: Bool { pool?.mode == .transaction }

    func attach(_ s: ServerHandler) {
        leased = s
        s.client = self
        // The common case, nothing to change, costs one dictionary comparison.
        if session.settings != s.settings, let sql = session.settings.statements(from: s.settings) {
            // Pipelined ahead of the client's own request; its answers are not relayed.
            toServer.clear()
            FrontendMessage.query(sql).encode(into: &toServer)
            s.tracker.requestSent(.query, forward: false)
            s.settings = session.settings
            s.send(toServer)
        }
    }

    /// Splits the client's input into messages and relays them to the leased server,
    /// leasing one first when needed.
    func relayInput() {
        guard case .ready = phase else { return }
        toServer.clear()
        toClient.clear()
        while true {
            let header: FrameHeader
            do {
                guard let h = try Framing.peekHeader(conn.inbound, maxBodyLength: config.listen.maxMessageSize) else { break }
                header = h
            } catch let e as WireDecodingError {
                if case .messageTooLarge = e.reason {
                    return protocolError("54000", "message too large: \(e)", hint: "The limit is listen.max_message_size.")
                }
                return protocolError("08P01", "invalid message: \(e)")
            } catch { return protocolError("08P01", "invalid message: \(error)") }
            guard conn.inbound.readableBytes >= header.frameLength else { break }
            guard let id = FrontendMessageID(rawValue: header.id) else {
                return protocolError("08P01", "invalid frontend message type \(header.id)")
            }
            if id == .terminate {
                flushToServer()
                return close(error: nil)
            }
            guard let s = leased else {
                if answerKnownPreparesLocally() { continue }
                if id == .sync || id == .flush, toServer.isEmpty {
                    // Nothing pending anywhere: answer a bare Sync ourselves.
                    conn.inbound.moveReaderIndex(forwardBy: header.frameLength)
                    if id == .sync { toClient.append(CannedMessage.readyForQuery(.idle)) }
                    continue
                }
                flushToServer()
                if !toClient.isEmpty { conn.send(toClient) }
                if !waitingForServer, let pool {
                    log.debug("\(self.id) waits for a server")
                    waitingForServer = true
                    pool.acquire(for: self)
                }
                return
            }
            if skippingToSync && id != .sync {
                // After an error pgstash raised itself, drop everything up to Sync, as the
                // server would have.
                conn.inbound.moveReaderIndex(forwardBy: header.frameLength)
                continue
            }
            skippingToSync = false
            let bodyStart = conn.inbound.readerIndex + 5
            let body = conn.inbound.readableView[bodyStart..<(bodyStart + header.bodyLength)]
            let frame = conn.inbound.readableView[conn.inbound.readerIndex..<(bodyStart + header.bodyLength)]
            switch id {
            case .query where transactionPooling:
                relayQuery(body, frame: frame, s)
            case .query:
                s.tracker.requestSent(.query)
                toServer.append(frame)
            case .parse where transactionPooling:
                guard relayParse(body, frame: frame, s) else { return }
            case .bind where transactionPooling:
                guard relayBind(body, frame: frame, s) else { return }
            case .describe where transactionPooling && body.first == UInt8(ascii: "S"):
                guard relayStatementTarget(body, kind: .describeStatement, s) else { return }
            case .close where transactionPooling && body.first == UInt8(ascii: "S"):
                guard relayCloseStatement(body, s) else { return }
            case .parse: s.tracker.requestSent(.parse); toServer.append(frame)
            case .bind: s.tracker.requestSent(.bind); toServer.append(frame)
            case .describe:
                s.tracker.requestSent(body.first == UInt8(ascii: "S") ? .describeStatement : .describePortal)
                toServer.append(frame)
            case .close: s.tracker.requestSent(.close); toServer.append(frame)
            case .execute:
                if transactionPooling { executeForwarded(body) }
                s.tracker.requestSent(.execute)
                toServer.append(frame)
            case .sync: s.tracker.requestSent(.sync); toServer.append(frame)
            case .functionCall: s.tracker.requestSent(.functionCall); toServer.append(frame)
            case .flush, .copyData, .copyDone, .copyFail: toServer.append(frame)
            case .password:
                return protocolError("08P01", "unexpected password message after authentication")
            case .terminate: break
            }
            conn.inbound.moveReaderIndex(forwardBy: header.frameLength)
            s.tracker.drainSynthesized(into: &toClient)
            if toServer.readableBytes >= 256 * 1024 { flushToServer() }
        }
        flushToServer()
        if !toClient.isEmpty { conn.send(toClient) }
        if let s = leased, s.isOverHighWaterMark { conn.pauseReading() }
    }

    private func flushToServer() {
        guard !toServer.isEmpty, let s = leased else { return }
        s.send(toServer)
        toServer.clear()
    }

    /// A Parse under transaction pooling: named statements get their shared server name
    /// and are sent only to servers that do not have them yet.
    private func relayParse(_ body: ArraySlice<UInt8>, frame: ArraySlice<UInt8>, _ s: ServerHandler) -> Bool {
        guard let nameEnd = body.firstIndex(of: 0), let queryEnd = body[(nameEnd + 1)...].firstIndex(of: 0) else {
            protocolError("08P01", "invalid Parse message")
            return false
        }
        let queryBytes = body[(nameEnd + 1)..<queryEnd]
        let statementName = String(decoding: body[body.startIndex..<nameEnd], as: UTF8.self)
        statementEffects[statementName] = nil
        if SessionGate.mayChangeSession(queryBytes) {
            let analysed = server.analysisCache.analysis(of: String(decoding: queryBytes, as: UTF8.self)).statements
            if let feature = sessionBoundFeature(of: analysed, s) {
                s.tracker.synthesize(CannedMessage.error("ERROR", "0A000", refusalMessage(feature), hint: refusalHint))
                skippingToSync = true
                return true
            }
            if analysed.count == 1 {
                let effect = SessionTracker.effect(analysed[0])
                if case .none = effect {} else { statementEffects[statementName] = effect }
                if case .deallocate(let target?) = effect, let replaced = deallocateOfProtocolStatement(target, s) {
                    // DEALLOCATE of a driver's own protocol-level statement, sent as a Parse.
                    s.tracker.requestSent(.parse)
                    var types: [Int32] = []
                    if case let .parse(_, _, t)? = try? FrontendMessage.decode(id: FrontendMessageID.parse.rawValue, body: body) {
                        types = t
                    }
                    FrontendMessage.parse(name: statementName, query: replaced, parameterTypes: types).encode(into: &toServer)
                    statementEffects[statementName] = nil
                    return true
                }
            }
        }
        if nameEnd == body.startIndex {
            // Unnamed statements live until the next Parse, within this lease: as is.
            s.tracker.requestSent(.parse)
            toServer.append(frame)
            return true
        }
        guard case let .parse(name, query, types)? = try? FrontendMessage.decode(id: FrontendMessageID.parse.rawValue, body: body) else {
            protocolError("08P01", "invalid Parse message")
            return false
        }
        let key = StatementKey(query: query, parameterTypes: types)
        let serverName = server.statementNames.serverName(for: key)
        statements[name] = (key, serverName)
        if s.statements.touch(serverName) {
            s.tracker.synthesize(CannedMessage.parseComplete)
        } else {
            prepare(key, as: serverName, on: s, forward: true)
        }
        return true
    }

    /// Outside a transaction, named Parse messages of statements some server already parsed,
    /// followed by Sync (libpq's PQprepare), are answered without leasing a server: the
    /// statement is prepared on whichever server the client's next Bind lands. A client
    /// that blocks on PQprepare (pgbench runs many clients per thread) then cannot wait for
    /// a server that its own other connections hold.
    private func answerKnownPreparesLocally() -> Bool {
        guard transactionPooling else { return false }
        var offset = 0
        var parses: [(name: String, key: StatementKey, serverName: String)] = []
        while true {
            let view = conn.inbound.readableView.dropFirst(offset)
            guard let h = try? view.withUnsafeBytes({ try Framing.peekHeader($0, maxBodyLength: config.listen.maxMessageSize) }),
                  view.count >= h.frameLength else { return false }
            if h.id == FrontendMessageID.sync.rawValue {
                guard !parses.isEmpty else { return false }
                offset += h.frameLength
                break
            }
            let bodyStart = view.startIndex + 5
            guard h.id == FrontendMessageID.parse.rawValue,
                  case let .parse(name, query, types)? = try? FrontendMessage.decode(id: h.id, body: view[bodyStart..<(bodyStart + h.bodyLength)]),
                  !name.isEmpty else { return false }
            // Statements that may touch session state take the ordinary path (analysis,
            // effects, refusals).
            guard !SessionGate.mayChangeSession(Array(query.utf8)[...]) else { return false }
            let key = StatementKey(query: query, parameterTypes: types)
            guard let serverName = server.statementNames.knownServerName(for: key) else { return false }
            parses.append((name, key, serverName))
            offset += h.frameLength
        }
        conn.inbound.moveReaderIndex(forwardBy: offset)
        for p in parses {
            statements[p.name] = (p.key, p.serverName)
            toClient.append(CannedMessage.parseComplete)
        }
        toClient.append(CannedMessage.readyForQuery(.idle))
        return true
    }

    /// Sends a Parse of `key` under `serverName`, closing statements the cache evicts.
    func prepare(_ key: StatementKey, as serverName: String, on s: ServerHandler, forward: Bool) {
        for victim in s.statements.insert(serverName) {
            FrontendMessage.close(kind: UInt8(ascii: "S"), name: victim).encode(into: &toServer)
            s.tracker.requestSent(.close, forward: false)
        }
        // Closing a statement that does not exist is not an error: this makes the Parse
        // safe even if the server lost the statement behind pgstash's back.
        FrontendMessage.close(kind: UInt8(ascii: "S"), name: serverName).encode(into: &toServer)
        s.tracker.requestSent(.close, forward: false)
        FrontendMessage.parse(name: serverName, query: key.query, parameterTypes: key.parameterTypes).encode(into: &toServer)
        s.tracker.requestSent(.parse, forward: forward, statement: serverName)
    }

    /// Makes sure the server has the client's statement `name`; returns its server name,
    /// or nil when the client never prepared it (the server then reports the error).
    private func ensurePrepared(_ name: String, on s: ServerHandler) -> String? {
        guard let st = statements[name] else { return nil }
        if !s.statements.touch(st.serverName) { prepare(st.key, as: st.serverName, on: s, forward: false) }
        return st.serverName
    }

    private func relayBind(_ body: ArraySlice<UInt8>, frame: ArraySlice<UInt8>, _ s: ServerHandler) -> Bool {
        guard let portalEnd = body.firstIndex(of: 0), let stmtEnd = body[(portalEnd + 1)...].firstIndex(of: 0) else {
            protocolError("08P01", "invalid Bind message")
            return false
        }
        let name = String(decoding: body[(portalEnd + 1)..<stmtEnd], as: UTF8.self)
        if !statementEffects.isEmpty || !portalStatements.isEmpty {
            let portal = String(decoding: body[body.startIndex..<portalEnd], as: UTF8.self)
            portalStatements[portal] = statementEffects[name] == nil ? nil : name
        }
        // Any injected Parse goes first, on the wire and in the tracker.
        let serverName = name.isEmpty ? nil : ensurePrepared(name, on: s)
        s.tracker.requestSent(.bind)
        guard let serverName else {
            toServer.append(frame)
            return true
        }
        // Same message with the statement name replaced.
        let start = toServer.writerIndex
        toServer.writeByte(FrontendMessageID.bind.rawValue)
        toServer.writeInteger(Int32(0))
        toServer.append(body[body.startIndex...portalEnd])
        toServer.writeCString(serverName)
        toServer.append(body[(stmtEnd + 1)...])
        toServer.setInt32(Int32(toServer.writerIndex - start - 1), at: start + 1)
        return true
    }

    private func relayStatementTarget(_ body: ArraySlice<UInt8>, kind: RequestKind, _ s: ServerHandler) -> Bool {
        guard case let .describe(k, name)? = try? FrontendMessage.decode(id: FrontendMessageID.describe.rawValue, body: body) else {
            protocolError("08P01", "invalid Describe message")
            return false
        }
        let target = name.isEmpty ? name : (ensurePrepared(name, on: s) ?? name)
        s.tracker.requestSent(kind)
        FrontendMessage.describe(kind: k, name: target).encode(into: &toServer)
        return true
    }

    /// Closing a named statement under transaction pooling only forgets the client's name:
    /// the server keeps the shared statement for others. Answered in order, like PostgreSQL.
    private func relayCloseStatement(_ body: ArraySlice<UInt8>, _ s: ServerHandler) -> Bool {
        guard case let .close(k, name)? = try? FrontendMessage.decode(id: FrontendMessageID.close.rawValue, body: body) else {
            protocolError("08P01", "invalid Close message")
            return false
        }
        if name.isEmpty {
            s.tracker.requestSent(.close)
            FrontendMessage.close(kind: k, name: name).encode(into: &toServer)
        } else {
            statements[name] = nil
            s.tracker.synthesize(CannedMessage.closeComplete)
        }
        return true
    }

    /// A protocol violation after login: ErrorResponse with a real SQLSTATE, then close.
    func protocolError(_ sqlState: String, _ message: String, hint: String? = nil) {
        fatal(sqlState, message, hint: hint)
    }

    // MARK: Callbacks from the leased server

    func sendToClient(_ b: ByteBuffer) { conn.send(b) }


    func parameterReported(name: String, value: String, server s: ServerHandler) {
        let lower = name.lowercased()
        guard Self.trackedReportedSettings.contains(lower) else { return }
        session.settings[lower] = .literal(value)
        s.settings[lower] = .literal(value)
    }

    /// Whether the lease ends after the message just relayed.
    func shouldReleaseServer(_ s: ServerHandler) -> Bool {
        transactionPooling && !pinned && s.isQuiescent && !waitingForServer
    }

    func releaseServer() {
        guard let s = leased, let pool else { return }
        log.debug("\(id) releases \(s.id)")
        leased = nil
        s.client = nil
        pool.release(s, reusable: true)
        if closeWhenIdle { return shutDownNow() }
        if conn.inbound.readableBytes > 0 { relayInput() }
    }

    /// The leased server died: the client's transaction is lost with it.
    func serverLost(_ s: ServerHandler, message: String) {
        guard leased === s else { return }
        leased = nil
        fatal("08006", "the upstream server connection was lost: \(message)",
              hint: "The transaction, if any, was rolled back by PostgreSQL; reconnect and retry.")
    }

    func serverDrained() { conn.resumeReading(); relayInput() }

    /// A CancelRequest with this client's key arrived: forward it to the server running
    /// its query, if any (never to another client's server).
    func cancelRunningQuery() {
        guard let s = leased, !s.tracker.isIdle else { return }
        s.sendCancel()
    }
}
