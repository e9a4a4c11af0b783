import PostgresWire
import SQLAnalysis

/// Simple queries, and what the leased server answers.
extension ClientSession {
    /// A Query under transaction pooling: what it does to the session is found by SQL
    /// analysis (only for texts the lexical gate lets through) and carried to the client's
    /// next server, or refused.
    mutating func queryReceived(_ body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer, server: inout ServerConnection,
                                names: inout StatementNames, out: inout SessionOutput) {
        // A simple Query destroys the unnamed statement (exec_simple_query), the client's
        // and, on this server, whoever's it was.
        unnamed = nil
        server.unnamedOwner = nil
        let sqlBytes = body.bytes(0..<max(body.count - 1, 0))     // the NUL terminator
        guard mayChangeSession(sqlBytes) else {
            server.tracker.requestSent(.query)
            out.toServer.append(frame)
            return
        }
        let statements = analyze(String(decoding: sqlBytes, as: UTF8.self))
        if let feature = admitSessionState(statements, server: &server, out: &out) {
            let relay = configuration.listenRelay
            let cut = statements.firstIndex { SessionPins.additions(of: $0, listenRelay: relay) != nil } ?? 0
            return replaceQuery(SQLState.featureNotSupported, refusalMessage(feature), hint: refusalHint,
                                before: Array(statements[..<cut]), server: &server, out: &out)
        }
        if let e = unknownStatementReference(in: statements, server: server) {
            let cut = statements.firstIndex { unknownStatementReference(in: [$0], server: server) != nil } ?? 0
            return replaceQuery(SQLState.invalidSQLStatementName, e, hint: nil,
                                before: Array(statements[..<cut]), server: &server, out: &out)
        }
        restoreSQLPrepared(for: statements, server: &server, out: &out)
        var replaced: String?
        if statements.count == 1, statements[0].kind == .deallocate, let name = statements[0].preparedName {
            replaced = deallocateOfProtocolStatement(name, server: &server, names: &names, out: &out)
        }
        server.tracker.requestSent(.query, forward: true, ref: nil,
                                   effects: replaced == nil ? statements.map(SessionTracker.effect) : [])
        if let replaced {
            FrontendMessage.query(replaced).encode(into: &out.toServer)
        } else {
            out.toServer.append(frame)
        }
    }

    /// Sends, instead of the client's query, its statements before the refused one (`before`:
    /// they run as PostgreSQL would run them, a BEGIN included) and then one that fails with
    /// this error: the server aborts the transaction exactly as a failing statement would, and
    /// skips the rest of the query as it skips the rest after any error.
    private mutating func replaceQuery(_ sqlState: String, _ message: String, hint: String?, before: [StatementAnalysis],
                                       server: inout ServerConnection, out: inout SessionOutput) {
        restoreSQLPrepared(for: before, server: &server, out: &out)
        // Each statement ends its line: a trailing `-- comment` cannot swallow the separator.
        let sql = (before.map(\.text) + [Self.raiseSQL(sqlState, message, hint: hint)]).joined(separator: "\n;\n")
        server.tracker.requestSent(.query, forward: true, ref: nil,
                                   effects: before.map(SessionTracker.effect) + [.raisedError])
        FrontendMessage.query(sql).encode(into: &out.toServer)
    }

    // MARK: Backend messages

    /// What becomes of one backend message of the leased server.
    public struct BackendResult: Equatable {
        /// Relay the message to the client (after what was written to `toClient`).
        public var forward: Bool
        /// The lease ends after this message: give the server back.
        public var release: Bool
        /// The client's waiting messages may go on (its settings are in place).
        public var resumeClient = false
        /// The client cannot go on: end it with this FATAL error, and close the server.
        public var failure: Failure?
        /// Channels the client's committed statements started or stopped listening on.
        public var listens: [ListenChange] {
            get { listenChanges ?? [] }
            set { listenChanges = newValue }
        }
        /// `listens`, nil when none (most messages: a result is then copied without any
        /// reference counting).
        public private(set) var listenChanges: [ListenChange]?
        /// The client released the last thing that pinned it.
        public var unpinned = false
        /// A ReadyForQuery 'I' reached the client: queued notifications may follow it.
        public var transactionEnded = false

        public init(forward: Bool, release: Bool, resumeClient: Bool = false, failure: Failure? = nil) {
            self.forward = forward
            self.release = release
            self.resumeClient = resumeClient
            self.failure = failure
        }
    }

    /// A class, so that a result without one (every result but one) copies with no
    /// reference counting of its strings.
    public final class Failure: Equatable, Sendable {
        public let sqlState: String
        public let message: String
        init(sqlState: String, message: String) {
            self.sqlState = sqlState
            self.message = message
        }
        public static func == (a: Failure, b: Failure) -> Bool { a.sqlState == b.sqlState && a.message == b.message }
    }

    /// Backend message types whose body `backendMessageReceived` reads.
    public static func needsBody(_ id: UInt8) -> Bool {
        switch BackendMessageID(byte: id) {
        case .readyForQuery?, .parameterStatus?, .commandComplete?, .errorResponse?: return true
        default: return false
        }
    }

    /// A backend message whose body the session does not read and that changes nothing but
    /// the request tracking (rows, row descriptions, BindComplete, NoData, ParameterDescription,
    /// CopyData): whether it goes to the client, as `backendMessageReceived` would say; nil
    /// for any other message type, which takes `backendMessageReceived`. The relay's fast path.
    @inlinable
    public mutating func plainMessageReceived(_ id: UInt8, server: inout ServerConnection, toClient: inout ByteBuffer) -> Bool? {
        switch id {
        case BackendMessageID.dataRow.rawValue, BackendMessageID.rowDescription.rawValue,
             BackendMessageID.bindComplete.rawValue, BackendMessageID.noData.rawValue,
             BackendMessageID.parameterDescription.rawValue, BackendMessageID.copyData.rawValue:
            return server.tracker.responseReceived(id, into: &toClient)
        default:
            return nil
        }
    }

    /// A message from the leased server. Made-up answers due before it go to `toClient`; the
    /// caller relays the message itself if told to, then drains the tracker again.
    public mutating func backendMessageReceived(_ id: UInt8, body: ArraySlice<UInt8>, server: inout ServerConnection,
                                                names: inout StatementNames, toClient: inout ByteBuffer) -> BackendResult {
        body.withUnsafeBytes { backendMessageReceived(id, body: $0, server: &server, names: &names, toClient: &toClient) }
    }

    /// `backendMessageReceived` with the body lent as raw bytes (the relay's read buffer):
    /// no slice, and so no reference count, per message.
    public mutating func backendMessageReceived(_ id: UInt8, body: UnsafeRawBufferPointer, server: inout ServerConnection,
                                                names: inout StatementNames, toClient: inout ByteBuffer) -> BackendResult {
        switch BackendMessageID(byte: id) {
        case .dataRow?, .copyData?, .rowDescription?, .bindComplete?, .noData?, .parameterDescription?:
            return BackendResult(forward: server.tracker.responseReceived(id, into: &toClient), release: false)
        case .commandComplete?:
            let effect = server.tracker.takeEffect()
            let forward = server.tracker.responseReceived(id, into: &toClient)
            var result = BackendResult(forward: forward, release: false)
            // The tag matters only for a statement with an effect, or one that may end a
            // transaction (COMMIT, ROLLBACK, PREPARE TRANSACTION): most tags are not read.
            if forward && transactionPooling && (effect != .none || Self.mayEndTransaction(body)) {
                let tag = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
                let changes = session.commandCompleted(tag: tag, effect: effect)
                apply(changes, server: &server, names: &names)
                committed(changes, result: &result)
            }
            return result
        case .readyForQuery?:
            let replayed = server.tracker.headIsSettingsReplay
            let forward = server.tracker.responseReceived(id, into: &toClient)
            let status = body.first.flatMap(TransactionStatus.init(rawValue:)) ?? .idle
            server.transactionStatus = status
            if replayed && awaitingReplay {
                awaitingReplay = false
                return BackendResult(forward: false, release: false, resumeClient: true)
            }
            var result = BackendResult(forward: forward, release: false)
            if forward && transactionPooling {
                committed(session.readyForQuery(status), result: &result)
                if status == .idle {
                    server.settings.adopt(session.settings)
                    transactionEnded(committed: session.lastTransactionCommitted, result: &result)
                }
            }
            result.release = forward && shouldRelease(server)
            result.transactionEnded = forward && status == .idle
            return result
        case .portalSuspended?:
            // An Execute with a row limit that stopped early: its statement ran (pg-cursor,
            // asyncpg's fetchval), so its effect applies as on CommandComplete.
            let effect = server.tracker.takeEffect()
            let forward = server.tracker.responseReceived(id, into: &toClient)
            var result = BackendResult(forward: forward, release: false)
            if forward && transactionPooling && effect != .none {
                let changes = session.commandCompleted(tag: "", effect: effect)
                apply(changes, server: &server, names: &names)
                committed(changes, result: &result)
            }
            return result
        case .parameterStatus?:
            if transactionPooling, case let .parameterStatus(name, value)? = try? BackendMessage.decode(id: id, body: ArraySlice(body)) {
                let lower = name.lowercased()
                if Self.trackedReportedSettings.contains(lower) {
                    session.parameterReported(name: lower, value: value)
                    server.settings[lower] = .literal(value)
                }
            }
            return BackendResult(forward: true, release: false)
        case .notificationResponse?:
            // Under transaction pooling notifications come through the pool's listener
            // connection; one arriving on a pooled server belongs to nobody who holds it now
            // (without the relay, a client pinned by its LISTEN gets its server's).
            return BackendResult(forward: !transactionPooling || (pinned && !configuration.listenRelay), release: false)
        case .errorResponse?:
            if server.tracker.headIsSettingsReplay {
                let f = try? BackendMessage.decode(id: id, body: ArraySlice(body))
                var fields: ErrorFields?
                if case .errorResponse(let e)? = f { fields = e }
                _ = server.tracker.responseReceived(id, into: &toClient)
                return BackendResult(forward: false, release: false, failure: Failure(
                    sqlState: fields?.sqlState ?? "08006",
                    message: "pgstash could not restore this session's settings on a pooled server connection: \(fields?.message ?? "error")"))
            }
            let raised = server.tracker.headRaisesError
            var forward = server.tracker.responseReceived(id, into: &toClient)
            if forward { session.errorReceived() }
            if forward && raised, case .errorResponse(let f)? = try? BackendMessage.decode(id: id, body: ArraySlice(body)) {
                // pgstash's own error, raised by the server: shown as PostgreSQL would show
                // it, without the PL/pgSQL context and source location of the raising block.
                toClient.append(CannedMessage.error(f.severity ?? "ERROR", f.sqlState ?? SQLState.featureNotSupported,
                                                    f.message ?? "", detail: f["D"], hint: f["H"]))
                forward = false
            }
            statementsSettled(&server, names: &names)
            return BackendResult(forward: forward, release: false)
        case .parseComplete?:
            let forward = server.tracker.responseReceived(id, into: &toClient)
            statementsSettled(&server, names: &names)
            return BackendResult(forward: forward, release: false)
        default:
            return BackendResult(forward: server.tracker.responseReceived(id, into: &toClient), release: false)
        }
    }

    /// A CommandComplete tag starting with C, R or P (COMMIT, ROLLBACK, PREPARE TRANSACTION).
    static func mayEndTransaction(_ tag: UnsafeRawBufferPointer) -> Bool {
        guard let c = tag.first else { return false }
        return c == UInt8(ascii: "C") || c == UInt8(ascii: "R") || c == UInt8(ascii: "P")
    }

    /// Reported settings pgstash carries from server to server for the client.
    static let trackedReportedSettings: Set<String> = [
        "client_encoding", "datestyle", "timezone", "intervalstyle", "application_name",
        "standard_conforming_strings", "default_transaction_read_only",
    ]

    /// Parses that completed or failed: the server's cache and the client's names follow.
    mutating func statementsSettled(_ server: inout ServerConnection, names: inout StatementNames) {
        guard server.tracker.hasSettledStatements else { return }
        for ref in server.tracker.takeParsedStatements() {
            if let key = ref.key { names.confirm(key) }
        }
        for ref in server.tracker.takeFailedStatements() {
            if let s = ref.serverName {
                if s.isEmpty { server.unnamedOwner = nil } else { server.statements.remove(s) }
            }
            guard let c = ref.clientName else { continue }
            if c.isEmpty {
                // Failed: PostgreSQL dropped the previous unnamed statement before parsing.
                // Skipped: the Parse never ran, so the previous one is still the client's.
                if ref.skipped, let f = ref.frame, let g = ref.generation { unnamed = (f, g) } else { unnamed = nil }
            } else if let st = statements[c], st.serverName == ref.serverName {
                forget(c, names: &names)
            }
        }
    }

    private mutating func apply(_ changes: [SessionTracker.Change], server: inout ServerConnection, names: inout StatementNames) {
        for c in changes {
            switch c {
            case let .prepared(name, text): server.sqlPrepared[name] = text
            case .listened, .unlistened, .tablesDropped, .cursorClosed, .temporaryTablesDiscarded,
                 .advisoryLocksReleased, .discardedAll:
                continue
            case .deallocated(let name):
                if let name {
                    server.sqlPrepared[name] = nil
                } else {
                    // DEALLOCATE ALL / DISCARD ALL also dropped the protocol-level statements
                    // on that server, pgstash's shared ones included, and the client's names.
                    server.sqlPrepared.removeAll()
                    server.statements.removeAll()
                    clientClosed(names: &names)
                    statementEffects.removeAll()
                }
            }
        }
    }

    /// A CancelRequest arrived with this client's key: whether to send one to its server
    /// (only while a request of the client is in flight there).
    public func shouldCancel(_ server: ServerConnection) -> Bool { !server.tracker.isIdle }
}
