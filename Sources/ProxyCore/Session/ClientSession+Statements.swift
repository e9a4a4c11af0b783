import PostgresWire
import SQLAnalysis

/// Prepared statements under transaction pooling. A named statement is prepared on servers
/// under a shared name (`pgstash_N`) and re-prepared wherever the client's next Bind lands;
/// the client's unnamed statement is the client's, not the server's: it lives until the
/// client's next Parse "" or Query and is re-parsed on another server when needed. A client
/// never reaches a statement it did not prepare.
extension ClientSession {
    mutating func parseReceived(_ body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer, server: inout ServerConnection,
                                names: inout StatementNames, out: inout SessionOutput) -> InputResult {
        // The same bytes as the last ordinary unnamed Parse (a repeated query): the gate's
        // answer is known, and the frame's bytes are shared.
        if Self.bytesEqual(plainUnnamedParse, frame) {
            if !statementEffects.isEmpty { statementEffects[""] = nil }
            parsedUnnamed(plainUnnamedParse, server: &server, out: &out)
            return .consumed
        }
        var mayChange = false
        if let nameEnd = Self.nul(in: body, from: body.startIndex), let queryEnd = Self.nul(in: body, from: nameEnd + 1) {
            mayChange = mayChangeSession(body.bytes((nameEnd + 1)..<queryEnd))
        }
        if !mayChange && body.first == 0 {
            // The unnamed statement of an ordinary query (every query of pgbench -M extended,
            // node-postgres, Prisma): kept as its frame, nothing decoded.
            if !statementEffects.isEmpty { statementEffects[""] = nil }
            let parse = Array(frame)
            if parse.count <= 4096 { plainUnnamedParse = parse }
            parsedUnnamed(parse, server: &server, out: &out)
            return .consumed
        }
        guard case let .parse(name, query, types)? = try? FrontendMessage.decode(id: FrontendMessageID.parse.rawValue, body: ArraySlice(body)) else {
            return .fail(sqlState: SQLState.protocolViolation, message: "invalid Parse message")
        }
        statementEffects[name] = nil
        var replacedQuery: String?
        if mayChange {
            let analysed = analyze(query)
            if let feature = admitSessionState(analysed, server: &server, out: &out) {
                if name.isEmpty { unnamed = nil }     // a failed Parse "" leaves no unnamed statement
                raiseError(SQLState.featureNotSupported, refusalMessage(feature), hint: refusalHint, server: &server, out: &out)
                return .consumed
            }
            if let e = unknownStatementReference(in: analysed, server: server) {
                if name.isEmpty { unnamed = nil }
                raiseError(SQLState.invalidSQLStatementName, e, server: &server, out: &out)
                return .consumed
            }
            if analysed.count == 1 {
                restoreSQLPrepared(for: analysed, server: &server, out: &out)
                let effect = SessionTracker.effect(analysed[0])
                if effect != .none { statementEffects[name] = effect }
                if case .deallocate(let target?) = effect, let replaced = deallocateOfProtocolStatement(target, server: &server, names: &names, out: &out) {
                    replacedQuery = replaced
                    statementEffects[name] = nil
                }
            }
        }
        let key = StatementKey(query: replacedQuery ?? query, parameterTypes: types)
        if name.isEmpty {
            if let replacedQuery {
                var b = ByteBuffer()
                FrontendMessage.parse(name: name, query: replacedQuery, parameterTypes: types).encode(into: &b)
                parsedUnnamed(Array(b.readableView), server: &server, out: &out)
            } else {
                parsedUnnamed(Array(frame), server: &server, out: &out)
            }
            return .consumed
        }
        if statements[name] != nil || session.preparedStatements[name] != nil {
            raiseError(SQLState.duplicatePreparedStatement, "prepared statement \"\(name)\" already exists",
                       server: &server, out: &out)
            return .consumed
        }
        let serverName = names.acquire(key)
        statements[name] = ClientStatement(key: key, serverName: serverName)
        let ref = StatementRef(clientName: name, serverName: serverName, key: key)
        if server.statements.touch(serverName) {
            server.tracker.synthesize(CannedMessage.parseComplete, statement: ref)
        } else {
            prepare(key, as: serverName, server: &server, forward: true, ref: ref, out: &out)
        }
        return .consumed
    }

    /// The client's Parse "" (`parse`, as sent): the client's unnamed statement from now on,
    /// and the server's. Its failure drops it; a skip leaves the previous one.
    mutating func parsedUnnamed(_ parse: [UInt8], server: inout ServerConnection, out: inout SessionOutput) {
        let previous = unnamed
        unnamedGeneration += 1
        unnamed = (parse, unnamedGeneration)
        server.unnamedOwner = UnnamedTag(client: clientID, generation: unnamedGeneration)
        server.tracker.clientUnnamedParseSent(replacing: previous.map { ReplacedUnnamed(parse: $0.parse, generation: $0.generation) })
        out.toServer.append(parse)
    }

    /// Sends a Parse of `key` under `serverName`, closing statements the server's cache evicts.
    mutating func prepare(_ key: StatementKey, as serverName: String, server: inout ServerConnection, forward: Bool,
                          ref: StatementRef? = nil, out: inout SessionOutput) {
        for victim in server.statements.insert(serverName) {
            FrontendMessage.close(kind: DescribeTarget.statement.rawValue, name: victim).encode(into: &out.toServer)
            server.tracker.requestSent(.close, forward: false)
        }
        // Closing a statement that does not exist is not an error: this makes the Parse
        // safe even if the server lost the statement behind pgstash's back.
        FrontendMessage.close(kind: DescribeTarget.statement.rawValue, name: serverName).encode(into: &out.toServer)
        server.tracker.requestSent(.close, forward: false)
        FrontendMessage.parse(name: serverName, query: key.query, parameterTypes: key.parameterTypes).encode(into: &out.toServer)
        server.tracker.requestSent(.parse, forward: forward,
                                   ref: ref ?? StatementRef(clientName: nil, serverName: serverName, key: key))
    }

    /// The name the server knows the client's statement `name` by, preparing it there first
    /// when needed; nil when the client has no such statement (an error was raised).
    mutating func resolveStatement(_ name: String, server: inout ServerConnection, out: inout SessionOutput) -> String? {
        if name.isEmpty {
            guard let u = unnamed else {
                raiseError(SQLState.invalidSQLStatementName, "unnamed prepared statement does not exist", server: &server, out: &out)
                return nil
            }
            let tag = UnnamedTag(client: clientID, generation: u.generation)
            if server.unnamedOwner != tag {
                out.toServer.append(u.parse)
                server.tracker.requestSent(.parse, forward: false, ref: StatementRef(clientName: nil, serverName: ""))
                server.unnamedOwner = tag
            }
            return ""
        }
        if let st = statements[name] {
            if !server.statements.touch(st.serverName) { prepare(st.key, as: st.serverName, server: &server, forward: false, out: &out) }
            return st.serverName
        }
        if session.preparedStatements[name] != nil {
            ensureSQLPrepared(name, server: &server, out: &out)
            return name
        }
        guard server.holds(name) else {
            // The server has no statement of that name either: it answers 26000 itself.
            return name
        }
        raiseError(SQLState.invalidSQLStatementName, "prepared statement \"\(name)\" does not exist", server: &server, out: &out)
        return nil
    }

    mutating func bindReceived(_ body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer, server: inout ServerConnection,
                               names: inout StatementNames, out: inout SessionOutput) -> InputResult {
        let portalEnd: Int, stmtEnd: Int
        if body.count >= 2 && body[body.startIndex] == 0 && body[body.startIndex + 1] == 0 {
            (portalEnd, stmtEnd) = (body.startIndex, body.startIndex + 1)      // unnamed both
        } else {
            guard let p = Self.nul(in: body, from: body.startIndex), let s = Self.nul(in: body, from: p + 1) else {
                return .fail(sqlState: SQLState.protocolViolation, message: "invalid Bind message")
            }
            (portalEnd, stmtEnd) = (p, s)
        }
        // The unnamed statement (every Bind of pgbench -M extended, node-postgres, Prisma):
        // no String to decode.
        let name = stmtEnd == portalEnd + 1 ? "" : String(decoding: body.bytes((portalEnd + 1)..<stmtEnd), as: UTF8.self)
        if !statementEffects.isEmpty || !portalEffects.isEmpty {
            portalEffects[String(decoding: body.bytes(0..<portalEnd), as: UTF8.self)] = statementEffects[name]
        }
        guard let serverName = resolveStatement(name, server: &server, out: &out) else { return .consumed }
        server.tracker.requestSent(.bind)
        guard serverName != name else {
            out.toServer.append(frame)
            return .consumed
        }
        // The same message with the statement name replaced.
        let start = out.toServer.writerIndex
        out.toServer.writeByte(FrontendMessageID.bind.rawValue)
        out.toServer.writeInteger(Int32(0))
        out.toServer.append(body.bytes(0..<(portalEnd + 1)))
        out.toServer.writeCString(serverName)
        out.toServer.append(body.bytes((stmtEnd + 1)..<body.count))
        out.toServer.setInt32(Int32(out.toServer.writerIndex - start - 1), at: start + 1)
        return .consumed
    }

    mutating func describeReceived(_ body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer, server: inout ServerConnection,
                                   names: inout StatementNames, out: inout SessionOutput) -> InputResult {
        if body.first == DescribeTarget.portal.rawValue {
            // Portals live on the server for the transaction: nothing to rename or decode.
            server.tracker.requestSent(.describePortal)
            out.toServer.append(frame)
            return .consumed
        }
        guard case let .describe(kind, name)? = try? FrontendMessage.decode(id: FrontendMessageID.describe.rawValue, body: ArraySlice(body)),
              kind == DescribeTarget.statement.rawValue else {
            return .fail(sqlState: SQLState.protocolViolation, message: "invalid Describe message")
        }
        guard let serverName = resolveStatement(name, server: &server, out: &out) else { return .consumed }
        server.tracker.requestSent(.describeStatement)
        FrontendMessage.describe(kind: kind, name: serverName).encode(into: &out.toServer)
        return .consumed
    }

    /// Closing a statement forgets the client's name: the server keeps the shared statement
    /// for others. Answered in order, like PostgreSQL (closing a missing one is no error).
    mutating func closeReceived(_ body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer, server: inout ServerConnection,
                                names: inout StatementNames, out: inout SessionOutput) -> InputResult {
        if body.first == DescribeTarget.portal.rawValue {
            server.tracker.requestSent(.close)
            out.toServer.append(frame)
            return .consumed
        }
        guard case let .close(kind, name)? = try? FrontendMessage.decode(id: FrontendMessageID.close.rawValue, body: ArraySlice(body)) else {
            return .fail(sqlState: SQLState.protocolViolation, message: "invalid Close message")
        }
        guard kind == DescribeTarget.statement.rawValue else {
            server.tracker.requestSent(.close)
            out.toServer.append(frame)
            return .consumed
        }
        if name.isEmpty {
            unnamed = nil
        } else if session.preparedStatements[name] != nil {
            // A SQL-level statement closed through the protocol: DEALLOCATE in effect.
            ensureSQLPrepared(name, server: &server, out: &out)
            session.forgetPrepared(name)
            server.sqlPrepared[name] = nil
            server.tracker.requestSent(.close)
            out.toServer.append(frame)
            return .consumed
        } else {
            forget(name, names: &names)
        }
        server.tracker.synthesize(CannedMessage.closeComplete)
        return .consumed
    }

    // MARK: SQL-level PREPARE / EXECUTE / DEALLOCATE

    /// An EXECUTE or DEALLOCATE of a name the client never prepared but the server holds (for
    /// another client: its PREPARE, or a shared `pgstash_N`): PostgreSQL's error message, or
    /// nil. The server must not see such a statement; one it does not hold, it refuses itself.
    func unknownStatementReference(in statements: [StatementAnalysis], server: ServerConnection) -> String? {
        for st in statements {
            let target = st.kind == .explain ? st.preparedStatement ?? st : st
            guard target.kind == .execute || target.kind == .deallocate, let name = target.preparedName else { continue }
            if session.preparedStatements[name] != nil { continue }
            if target.kind == .deallocate && self.statements[name] != nil { continue }
            guard server.holds(name) else { continue }
            return "prepared statement \"\(name)\" does not exist"
        }
        return nil
    }

    /// Makes the server hold the client's SQL-level statement `name` (injected through the
    /// extended protocol, so it may sit anywhere in a pipeline; answers dropped).
    mutating func ensureSQLPrepared(_ name: String, server: inout ServerConnection, out: inout SessionOutput) {
        guard let text = session.preparedStatements[name], server.sqlPrepared[name] != text else { return }
        var sql = text
        if server.sqlPrepared[name] != nil {
            inject("DEALLOCATE \(Self.quoteIdentifier(name))", server: &server, out: &out)
        }
        sql = text
        inject(sql, server: &server, out: &out)
        server.sqlPrepared[name] = text
    }

    /// Runs `sql` on the server through the unnamed statement, answers dropped (an error is
    /// the client's to see; `marker` tags pgstash's own raised errors).
    mutating func inject(_ sql: String, marker: SessionEffect? = nil, server: inout ServerConnection, out: inout SessionOutput) {
        FrontendMessage.parse(name: "", query: sql, parameterTypes: []).encode(into: &out.toServer)
        server.tracker.requestSent(.parse, forward: false)
        FrontendMessage.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: []))
            .encode(into: &out.toServer)
        server.tracker.requestSent(.bind, forward: false)
        FrontendMessage.execute(portal: "", maxRows: 0).encode(into: &out.toServer)
        server.tracker.requestSent(.execute, forward: false, ref: nil, effects: marker.map { [$0] } ?? [])
        server.unnamedOwner = nil
    }

    /// EXECUTE/DEALLOCATE of statements the client PREPAREd on another server: prepare them
    /// here first. A PREPARE of a name another client left here: free it.
    mutating func restoreSQLPrepared(for statements: [StatementAnalysis], server: inout ServerConnection, out: inout SessionOutput) {
        for st in statements {
            let target = st.kind == .explain ? st.preparedStatement ?? st : st
            guard let name = target.preparedName else { continue }
            switch target.kind {
            case .execute, .deallocate:
                if session.preparedStatements[name] != nil { ensureSQLPrepared(name, server: &server, out: &out) }
            case .prepare:
                if server.sqlPrepared[name] != nil {
                    inject("DEALLOCATE \(Self.quoteIdentifier(name))", server: &server, out: &out)
                    server.sqlPrepared[name] = nil
                }
            default: continue
            }
        }
    }

    /// `DEALLOCATE name` of a protocol-level statement (drivers such as psycopg name theirs
    /// `_pg3_N`): the server knows it as `pgstash_N`, shared with other clients. The client
    /// forgets its name; the server drops the shared statement (others re-prepare it on
    /// demand). Returns the SQL to send instead, or nil when the name is not one of those.
    mutating func deallocateOfProtocolStatement(_ name: String, server: inout ServerConnection,
                                                names: inout StatementNames, out: inout SessionOutput) -> String? {
        guard session.preparedStatements[name] == nil, let mine = statements[name] else { return nil }
        forget(name, names: &names)
        if !server.statements.touch(mine.serverName) {
            // Prepared elsewhere: prepare it here (no Sync: the client's pipeline stays
            // whole) so that DEALLOCATE answers as PostgreSQL would.
            prepare(mine.key, as: mine.serverName, server: &server, forward: false, out: &out)
        }
        server.statements.remove(mine.serverName)
        return "DEALLOCATE \(Self.quoteIdentifier(mine.serverName))"
    }

    static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
