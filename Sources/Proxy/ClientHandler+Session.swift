import PostgresWire
import ProxyCore
import SQLAnalysis

/// Session state under transaction pooling: what a simple-protocol query does to the
/// session is found by SQL analysis and carried to the client's next server, or refused.
extension ClientHandler {
    /// A Query under transaction pooling.
    func relayQuery(_ body: ArraySlice<UInt8>, frame: ArraySlice<UInt8>, _ s: ServerHandler) {
        let sqlBytes = body.dropLast()     // the NUL terminator
        guard SessionGate.mayChangeSession(sqlBytes) else {
            session.queryForwarded([])
            s.tracker.requestSent(.query)
            toServer.append(frame)
            return
        }
        let statements = server.analysisCache.analysis(of: String(decoding: sqlBytes, as: UTF8.self)).statements
        if let feature = sessionBoundFeature(of: statements, s) { return refuse(feature, s) }
        restorePreparedStatements(for: statements, on: s)
        session.queryForwarded(statements)
        // Anything injected goes on the wire, and into the tracker, before the query itself.
        var replaced: String?
        if statements.count == 1, statements[0].kind == .deallocate, let name = statements[0].preparedName {
            replaced = deallocateOfProtocolStatement(name, s)
        }
        s.tracker.requestSent(.query)
        if let replaced {
            FrontendMessage.query(replaced).encode(into: &toServer)
        } else {
            toServer.append(frame)
        }
    }

    /// `DEALLOCATE name` of a protocol-level statement (drivers such as psycopg name theirs
    /// `_pg3_N`): the server knows it as `pgstash_N`, shared with other clients. The client
    /// forgets its name; the server drops the shared statement (others re-prepare it on
    /// demand). Returns the SQL to send instead, or nil when the name is not one of those.
    func deallocateOfProtocolStatement(_ name: String, _ s: ServerHandler) -> String? {
        guard session.preparedStatements[name] == nil, let mine = statements[name] else { return nil }
        statements[name] = nil
        if !s.statements.touch(mine.serverName) {
            // Prepared elsewhere: prepare it here so that DEALLOCATE answers as PostgreSQL would.
            prepare(mine.key, as: mine.serverName, on: s, forward: false)
            FrontendMessage.sync.encode(into: &toServer)
            s.tracker.requestSent(.sync, forward: false)
        }
        s.statements.remove(mine.serverName)
        return "DEALLOCATE \(quoteIdentifier(mine.serverName))"
    }

    /// The session-bound feature these statements use, when the client may not use it;
    /// with pin_on_session_state the client is pinned to `s` instead (and nil returned).
    func sessionBoundFeature(of statements: [StatementAnalysis], _ s: ServerHandler) -> String? {
        guard let feature = statements.lazy.compactMap(SessionTracker.sessionBoundFeature).first else { return nil }
        guard pool?.config.pinOnSessionState == true else { return feature }
        if !pinned { log.info("client \(id) pinned to server \(s.id) for \(feature)") }
        pinned = true
        return nil
    }

    func refusalMessage(_ feature: String) -> String {
        let poolName = pool.map { "\($0.key.database)/\($0.key.user)" } ?? "?"
        return "\(feature) cannot be used under transaction pooling: pool \(poolName) runs in transaction mode, and the next transaction may run on another server connection"
    }

    var refusalHint: String {
        "Use a session-mode pool for this client (pool.mode = \"session\", per database or per user), or set pool.pin_on_session_state = true to keep such clients on one server."
    }

    /// Sends, instead of the client's query, one that fails with a clear error: the server
    /// then aborts the client's transaction block exactly as a failing statement would.
    private func refuse(_ feature: String, _ s: ServerHandler) {
        func lit(_ t: String) -> String { "'" + t.replacingOccurrences(of: "'", with: "''") + "'" }
        let sql = "DO $pgstash$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = \(lit(refusalMessage(feature))), HINT = \(lit(refusalHint)); END $pgstash$"
        log.info("client \(id): refused \(feature) under transaction pooling")
        session.queryForwarded([])
        s.tracker.requestSent(.query)
        FrontendMessage.query(sql).encode(into: &toServer)
    }

    /// EXECUTE/DEALLOCATE of a statement the client PREPAREd on another server: prepare it
    /// here first (answers dropped). A PREPARE of a name another client left here: free it.
    private func restorePreparedStatements(for statements: [StatementAnalysis], on s: ServerHandler) {
        var sql: [String] = []
        for st in statements {
            let target = st.kind == .explain ? st.preparedStatement ?? st : st
            guard let name = target.preparedName else { continue }
            switch target.kind {
            case .execute, .deallocate:
                guard let text = session.preparedStatements[name], s.sqlPrepared[name] != text else { continue }
                if s.sqlPrepared[name] != nil { sql.append("DEALLOCATE \(quoteIdentifier(name))") }
                sql.append(text)
                s.sqlPrepared[name] = text
            case .prepare:
                if s.sqlPrepared[name] != nil {
                    sql.append("DEALLOCATE \(quoteIdentifier(name))")
                    s.sqlPrepared[name] = nil
                }
            default: continue
            }
        }
        guard !sql.isEmpty else { return }
        FrontendMessage.query(sql.joined(separator: "; ")).encode(into: &toServer)
        s.tracker.requestSent(.query, forward: false)
    }

    /// An Execute: the effect of the statement behind its portal (extended-protocol SET,
    /// DEALLOCATE ALL, DISCARD ALL…) applies when it completes.
    func executeForwarded(_ body: ArraySlice<UInt8>) {
        guard !portalStatements.isEmpty, let end = body.firstIndex(of: 0) else {
            session.executeForwarded(.none)
            return
        }
        let portal = String(decoding: body[body.startIndex..<end], as: UTF8.self)
        let effect = portalStatements[portal].flatMap { statementEffects[$0] } ?? .none
        session.executeForwarded(effect)
    }

    private func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Responses that move session state

    func commandCompleted(tagBytes: ArraySlice<UInt8>, server s: ServerHandler) {
        guard transactionPooling else { return }
        let tag = String(decoding: tagBytes.prefix { $0 != 0 }, as: UTF8.self)
        apply(session.commandCompleted(tag: tag), to: s)
    }

    func errorRelayed() {
        if transactionPooling { session.errorReceived() }
    }

    func readyForQueryRelayed(status: TransactionStatus, server s: ServerHandler) {
        if transactionPooling { apply(session.readyForQuery(status != .idle), to: s) }
    }

    private func apply(_ changes: [SessionTracker.Change], to s: ServerHandler) {
        for c in changes {
            switch c {
            case .settings: s.settings = session.settings
            case let .prepared(name, text): s.sqlPrepared[name] = text
            case .deallocated(let name):
                if let name {
                    s.sqlPrepared[name] = nil
                } else {
                    // DEALLOCATE ALL / DISCARD ALL also dropped the protocol-level statements
                    // on that server, pgstash's shared ones included, and the client's names.
                    s.sqlPrepared.removeAll()
                    s.statements.removeAll()
                    statements.removeAll()
                }
            }
        }
    }
}
