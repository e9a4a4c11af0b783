import PostgresWire

/// What kind of request a server is answering; decides which backend message ends it.
public enum RequestKind: Sendable, Equatable {
    case parse, bind, describeStatement, describePortal, execute, close, sync, query, functionCall
}

/// One request in flight on a server (or a response pgstash makes up itself).
enum PendingEntry: Sendable {
    /// A request the server answers; `forward` says whether its answer reaches the client.
    case request(RequestKind, forward: Bool, statement: String?)
    /// A complete backend message pgstash sends to the client in this position.
    case synthesized([UInt8])
}

/// Matches a server's responses to the requests sent to it, in order ("Message Flow":
/// Extended Query, pipelining). It lets the proxy inject requests whose responses the client
/// must not see (re-preparing a statement on a new server, replaying SET) and answer some
/// requests itself (a Parse of a statement the server already has), keeping the response
/// stream exactly as PostgreSQL would have produced it. After an ErrorResponse the server
/// skips to the next Sync, and so does the tracker.
public struct ResponseTracker: Sendable {
    private var queue = FIFOQueue<PendingEntry>()
    private var describeGotParameters = false
    /// Query, Sync and FunctionCall requests not yet answered by ReadyForQuery.
    public private(set) var outstandingSyncs = 0
    /// Server-side statement names whose Parse failed or was skipped after an error: the
    /// server does not have them. The driver takes them with `takeFailedStatements()`.
    public private(set) var failedStatements: [String] = []

    public init() {}

    public var isIdle: Bool { queue.isEmpty }

    /// A request was sent to the server.
    public mutating func requestSent(_ kind: RequestKind, forward: Bool = true, statement: String? = nil) {
        queue.append(.request(kind, forward: forward, statement: statement))
        if kind == .sync || kind == .query || kind == .functionCall { outstandingSyncs += 1 }
    }

    /// The client will get `message` (a whole frame) once everything before it was answered.
    public mutating func synthesize(_ message: [UInt8]) {
        queue.append(.synthesized(message))
    }

    /// Moves made-up responses at the head of the queue into `out`. Call after queuing
    /// client requests and after each server message.
    public mutating func drainSynthesized(into out: inout ByteBuffer) {
        while case .synthesized(let m)? = queue.first {
            out.append(m)
            _ = queue.popFirst()
        }
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
        guard case .request(let kind, let forward, let statement)? = queue.first else {
            return true     // nothing expected (e.g. a FATAL error): pass it on
        }
        let isError = id == BackendMessageID.errorResponse.rawValue
        var complete = false
        switch kind {
        case .parse: complete = id == BackendMessageID.parseComplete.rawValue || isError
        case .bind: complete = id == BackendMessageID.bindComplete.rawValue || isError
        case .close: complete = id == BackendMessageID.closeComplete.rawValue || isError
        case .describePortal:
            complete = id == BackendMessageID.rowDescription.rawValue || id == BackendMessageID.noData.rawValue || isError
        case .describeStatement:
            if id == BackendMessageID.parameterDescription.rawValue { describeGotParameters = true }
            complete = id == BackendMessageID.rowDescription.rawValue || id == BackendMessageID.noData.rawValue || isError
        case .execute:
            complete = id == BackendMessageID.commandComplete.rawValue || id == BackendMessageID.emptyQueryResponse.rawValue
                || id == BackendMessageID.portalSuspended.rawValue || isError
        case .sync, .query, .functionCall:
            complete = id == BackendMessageID.readyForQuery.rawValue
        }
        // An error in an injected extended-protocol request concerns the client's own
        // request that depended on it: the client must see it.
        let deliver = forward || (isError && kind != .query && kind != .sync && kind != .functionCall)
        if complete {
            _ = queue.popFirst()
            describeGotParameters = false
            if kind == .sync || kind == .query || kind == .functionCall { outstandingSyncs -= 1 }
            if isError, let statement { failedStatements.append(statement) }
            if isError && kind != .query && kind != .sync && kind != .functionCall { skipToSync() }
        }
        // Made-up responses due after this message are drained by the caller once it has
        // passed the message on (`drainSynthesized`), so they keep their place.
        return deliver
    }

    /// The server ignores everything up to the next Sync after an error: so do we.
    private mutating func skipToSync() {
        while let e = queue.first {
            if case .request(.sync, _, _) = e { return }
            if case .request(let kind, _, let st) = e {
                if let st { failedStatements.append(st) }
                // PostgreSQL ignores a Query or FunctionCall too until Sync (ignore_till_sync).
                if kind == .query || kind == .functionCall { outstandingSyncs -= 1 }
            }
            _ = queue.popFirst()
        }
    }

    public mutating func takeFailedStatements() -> [String] {
        defer { failedStatements.removeAll() }
        return failedStatements
    }

    /// Forgets everything (the server connection is gone).
    public mutating func reset() {
        queue = FIFOQueue()
        failedStatements.removeAll()
        outstandingSyncs = 0
        describeGotParameters = false
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
