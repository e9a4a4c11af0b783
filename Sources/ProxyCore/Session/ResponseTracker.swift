import PostgresWire

/// What kind of request a server is answering; decides which backend message ends it.
public enum RequestKind: Sendable, Equatable {
    case parse, bind, describeStatement, describePortal, execute, close, sync, query, functionCall
    /// CopyDone or CopyFail: no answer of its own, but it marks where copy-in mode ends in
    /// the stream of requests ("COPY Operations": Sync and Flush sent during copy-in mode are
    /// ignored by the server).
    case copyEnd

    /// Requests answered by ReadyForQuery.
    var endsWithReadyForQuery: Bool { self == .sync || self == .query || self == .functionCall }
}

/// One request in flight on a server (or a response pgstash makes up itself).
enum PendingEntry: Sendable {
    /// A request the server answers; `forward` says whether its answer reaches the client.
    /// `statement` names a statement the request creates (for Parse), so that a failure can be
    /// reported; `effects` are the session effects of its statements, in order (Query: one per
    /// statement; Execute: one).
    case request(RequestKind, forward: Bool, statement: StatementRef?, effects: [SessionEffect])
    /// A complete backend message pgstash sends to the client in this position; `statement`
    /// is a client statement that exists only if this answer is delivered (a ParseComplete
    /// pgstash makes up).
    case synthesized([UInt8], statement: StatementRef?)
}

/// A statement created by a Parse, by its name on the client and on the server.
/// An empty name is the unnamed statement (of the client, or of the server).
public struct StatementRef: Sendable, Equatable {
    public var clientName: String?
    public var serverName: String?
    /// The statement's identity, for pgstash-named statements; for the client's Parse "",
    /// the unnamed statement it replaces (with `generation`), which a skipped Parse leaves.
    public var key: StatementKey?
    public var generation: UInt64?
    /// For the client's Parse "": the Parse frame of the unnamed statement it replaces.
    public var frame: [UInt8]?
    /// The Parse never ran: the server skipped it after an earlier error (as opposed to
    /// failing it, which in PostgreSQL also drops the previous unnamed statement).
    public var skipped = false
    public init(clientName: String?, serverName: String?, key: StatementKey? = nil, generation: UInt64? = nil,
                frame: [UInt8]? = nil) {
        self.clientName = clientName
        self.serverName = serverName
        self.key = key
        self.generation = generation
        self.frame = frame
    }
}

/// Matches a server's responses to the requests sent to it, in order ("Message Flow":
/// Extended Query, pipelining). It lets the proxy inject requests whose responses the client
/// must not see (re-preparing a statement on a new server, replaying SET) and answer some
/// requests itself (a Parse of a statement the server already has), keeping the response
/// stream exactly as PostgreSQL would have produced it. After an ErrorResponse the server
/// skips to the next Sync, and so does the tracker — including requests sent after the error
/// arrived, which the server ignores without answering.
public struct ResponseTracker: Sendable {
    private var queue = FIFOQueue<PendingEntry>()
    /// Query, Sync and FunctionCall requests not yet answered by ReadyForQuery.
    public private(set) var outstandingSyncs = 0
    /// Statements whose Parse failed or was skipped after an error: the server does not have
    /// them. The driver takes them with `takeFailedStatements()`.
    public private(set) var failedStatements: [StatementRef] = []
    /// Statements whose Parse the server completed.
    public private(set) var parsedStatements: [StatementRef] = []
    /// The server discards extended-protocol messages until the next Sync (an error with no
    /// Sync queued behind it).
    public private(set) var serverSkippingToSync = false
    /// The server is in copy-in mode and the client has not ended it yet: Syncs are ignored.
    private var copyInOpen = false

    public init() {}

    public var isIdle: Bool { queue.isEmpty }

    /// A request was sent to the server.
    public mutating func requestSent(_ kind: RequestKind, forward: Bool = true, statement: String? = nil,
                                     effects: [SessionEffect] = []) {
        requestSent(kind, forward: forward, ref: statement.map { StatementRef(clientName: nil, serverName: $0) },
                    effects: effects)
    }

    public mutating func requestSent(_ kind: RequestKind, forward: Bool, ref: StatementRef?, effects: [SessionEffect] = []) {
        if kind == .copyEnd {
            if copyInOpen { copyInOpen = false; return }
            if queue.isEmpty { return }
        } else if kind == .sync {
            if copyInOpen { return }            // ignored by a server in copy-in mode
            serverSkippingToSync = false
        } else if serverSkippingToSync {
            // Ignored by the server: no answer will come. A made-up answer for it is not due.
            if var ref { ref.skipped = true; failedStatements.append(ref) }
            return
        }
        queue.append(.request(kind, forward: forward, statement: ref, effects: effects))
        if kind.endsWithReadyForQuery { outstandingSyncs += 1 }
    }

    /// The client will get `message` (a whole frame) once everything before it was answered.
    public mutating func synthesize(_ message: [UInt8], statement: StatementRef? = nil) {
        if serverSkippingToSync {
            if var statement { statement.skipped = true; failedStatements.append(statement) }
            return
        }
        queue.append(.synthesized(message, statement: statement))
    }

    /// Moves made-up responses at the head of the queue into `out`. Call after queuing
    /// client requests and after each server message.
    public mutating func drainSynthesized(into out: inout ByteBuffer) {
        while true {
            switch queue.first {
            case .synthesized(let m, _)?:
                out.append(m)
                _ = queue.popFirst()
            case .request(.copyEnd, _, _, _)?:
                _ = queue.popFirst()
            default:
                return
            }
        }
    }

    /// The session effect of the next statement of the request at the head (call when a
    /// CommandComplete arrives, before `responseReceived`).
    public mutating func takeEffect() -> SessionEffect {
        guard case .request(let kind, let forward, let st, var effects)? = queue.first, !effects.isEmpty else { return .none }
        // pgstash's own requests carry a marker, not statement effects: it stays.
        if effects[0] == .settingsReplay || effects[0] == .raisedError { return .none }
        let e = effects.removeFirst()
        queue.replaceFirst(.request(kind, forward: forward, statement: st, effects: effects))
        return e
    }

    /// Whether the answer to the request at the head reaches the client.
    public var headForwards: Bool {
        if case .request(_, let forward, _, _)? = queue.first { return forward }
        return true
    }

    /// Whether the request at the head raises pgstash's own error.
    public var headRaisesError: Bool { headEffect == .raisedError }

    /// Whether the request at the head is the settings replay of a new lease.
    public var headIsSettingsReplay: Bool { headEffect == .settingsReplay }

    private var headEffect: SessionEffect? {
        if case .request(_, _, _, let effects)? = queue.first { return effects.first }
        return nil
    }

    /// Whether the request at the head is one the client sees answers of.
    public var headIsForwarded: Bool {
        if case .request(_, let forward, _, _)? = queue.first { return forward }
        return true
    }

    /// A backend message with type `id` arrived. Made-up responses due before it are written
    /// to `out`; returns whether the message itself goes to the client.
    public mutating func responseReceived(_ id: UInt8, into out: inout ByteBuffer) -> Bool {
        switch BackendMessageID(rawValue: id) {
        case .noticeResponse?, .parameterStatus?, .notificationResponse?:
            return true     // asynchronous: may arrive at any time
        default: break
        }
        drainSynthesized(into: &out)
        guard case .request(let kind, let forward, let statement, _)? = queue.first else {
            return true     // nothing expected (e.g. a FATAL error): pass it on
        }
        let isError = id == BackendMessageID.errorResponse.rawValue
        if id == BackendMessageID.copyInResponse.rawValue || id == BackendMessageID.copyBothResponse.rawValue {
            copyInStarted()
        }
        var complete = false
        switch kind {
        case .parse: complete = id == BackendMessageID.parseComplete.rawValue || isError
        case .bind: complete = id == BackendMessageID.bindComplete.rawValue || isError
        case .close: complete = id == BackendMessageID.closeComplete.rawValue || isError
        case .describePortal, .describeStatement:
            complete = id == BackendMessageID.rowDescription.rawValue || id == BackendMessageID.noData.rawValue || isError
        case .execute:
            complete = id == BackendMessageID.commandComplete.rawValue || id == BackendMessageID.emptyQueryResponse.rawValue
                || id == BackendMessageID.portalSuspended.rawValue || isError
        case .sync, .query, .functionCall:
            complete = id == BackendMessageID.readyForQuery.rawValue
        case .copyEnd:
            complete = true
        }
        // An error in an injected extended-protocol request concerns the client's own
        // request that depended on it: the client must see it.
        let deliver = forward || (isError && !kind.endsWithReadyForQuery)
        if complete {
            _ = queue.popFirst()
            if kind.endsWithReadyForQuery { outstandingSyncs -= 1; copyInOpen = false }
            if let statement {
                if isError { failedStatements.append(statement) } else if kind == .parse { parsedStatements.append(statement) }
            }
            if isError && !kind.endsWithReadyForQuery { skipToSync() }
        }
        // Made-up responses due after this message are drained by the caller once it has
        // passed the message on (`drainSynthesized`), so they keep their place.
        return deliver
    }

    /// Copy-in mode began: the Syncs the client sent before it ends copy-in are ignored by
    /// the server, so they are not waited for.
    private mutating func copyInStarted() {
        var kept = FIFOQueue<PendingEntry>()
        var ended = false
        var first = true
        while let e = queue.popFirst() {
            defer { first = false }
            if !first && !ended {
                if case .request(.sync, _, _, _) = e { outstandingSyncs -= 1; continue }
                if case .request(.copyEnd, _, _, _) = e { ended = true; continue }
            }
            kept.append(e)
        }
        queue = kept
        copyInOpen = !ended
    }

    /// The server ignores everything up to the next Sync after an error: so do we.
    private mutating func skipToSync() {
        while let e = queue.first {
            switch e {
            case .request(.sync, _, _, _):
                return
            case .request(let kind, _, var st, _):
                if st != nil { st!.skipped = true; failedStatements.append(st!) }
                // PostgreSQL ignores a Query or FunctionCall too until Sync (ignore_till_sync).
                if kind == .query || kind == .functionCall { outstandingSyncs -= 1 }
            case .synthesized(_, var st):
                if st != nil { st!.skipped = true; failedStatements.append(st!) }
            }
            _ = queue.popFirst()
        }
        serverSkippingToSync = true
    }

    public mutating func takeFailedStatements() -> [StatementRef] {
        defer { failedStatements.removeAll() }
        return failedStatements
    }

    public mutating func takeParsedStatements() -> [StatementRef] {
        defer { parsedStatements.removeAll() }
        return parsedStatements
    }

    /// Forgets everything (the server connection is gone).
    public mutating func reset() {
        queue = FIFOQueue()
        failedStatements.removeAll()
        parsedStatements.removeAll()
        outstandingSyncs = 0
        serverSkippingToSync = false
        copyInOpen = false
    }
}

/// Fixed backend messages pgstash makes up.
public enum CannedMessage {
    public static let parseComplete: [UInt8] = [BackendMessageID.parseComplete.rawValue, 0, 0, 0, 4]
    public static let closeComplete: [UInt8] = [BackendMessageID.closeComplete.rawValue, 0, 0, 0, 4]
    public static let bindComplete: [UInt8] = [BackendMessageID.bindComplete.rawValue, 0, 0, 0, 4]

    public static func readyForQuery(_ s: TransactionStatus) -> [UInt8] {
        [BackendMessageID.readyForQuery.rawValue, 0, 0, 0, 5, s.rawValue]
    }

    public static func error(_ severity: String = "ERROR", _ sqlState: String, _ message: String,
                             detail: String? = nil, hint: String? = nil) -> [UInt8] {
        BackendMessage.errorResponse(ErrorFields(severity: severity, sqlState: sqlState, message: message,
                                                 detail: detail, hint: hint)).encoded
    }
}
