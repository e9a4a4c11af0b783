import PostgresWire

/// What kind of request a server is answering; decides which backend message ends it.
public enum RequestKind: UInt8, Sendable, Equatable {
    // Raw values from 1 (0 is a made-up response in `PendingQueue`'s packing), below 16.
    case parse = 1, bind, describeStatement, describePortal, execute, close, sync, query, functionCall
    /// CopyDone or CopyFail: no answer of its own, but it marks where copy-in mode ends in
    /// the stream of requests ("COPY Operations": Sync and Flush sent during copy-in mode are
    /// ignored by the server).
    case copyEnd

    /// Requests answered by ReadyForQuery.
    var endsWithReadyForQuery: Bool { self == .sync || self == .query || self == .functionCall }
}

/// One request in flight on a server (or a response pgstash makes up itself). Trivially
/// copyable: queuing, peeking and popping one touches no reference count. What some entries
/// carry besides (a payload, the unnamed statement a Parse "" replaces) waits in the
/// tracker's `extras`, in the same order.
struct PendingEntry: Sendable {
    /// The request the server answers; nil: a response pgstash makes up (its extra's message).
    var kind: RequestKind?
    /// Whether the answer reaches the client.
    var forward: Bool
    /// The entry's extra is the next one in `extras`.
    var hasExtra: Bool
}

/// What a pending entry carries besides its kind, when it carries anything.
enum PendingExtra: Sendable {
    case payload(PendingPayload)
    /// The client's own Parse "" (forwarded as sent), replacing this unnamed statement
    /// (nil: none). Kept apart from payloads: the most common Parse costs no allocation.
    case clientUnnamedParse(replacing: ReplacedUnnamed?)

    var statement: StatementRef? {
        switch self {
        case .payload(let p): return p.statement
        case .clientUnnamedParse(let r): return ReplacedUnnamed.statement(replacing: r)
        }
    }

    var payload: PendingPayload? {
        if case .payload(let p) = self { return p }
        return nil
    }
}

/// The client's unnamed statement a Parse "" replaces: its Parse frame and generation.
public struct ReplacedUnnamed: Sendable {
    public var parse: [UInt8]
    public var generation: UInt64
    public init(parse: [UInt8], generation: UInt64) {
        self.parse = parse
        self.generation = generation
    }

    /// The `StatementRef` a client's Parse "" stands for (reported when it fails or is skipped).
    static func statement(replacing r: ReplacedUnnamed?) -> StatementRef {
        StatementRef(clientName: "", serverName: "", generation: r?.generation, frame: r?.parse)
    }
}

/// What a pending entry may carry: `statement` names a statement the request creates (for
/// Parse; for a made-up ParseComplete, a client statement that exists only if the answer is
/// delivered), so that a failure can be reported; `effects` are the session effects of its
/// statements, in order (Query: one per statement; Execute: one); `message` is the complete
/// backend message pgstash sends in this position. Owned by one tracker, on one thread.
final class PendingPayload: @unchecked Sendable {
    let statement: StatementRef?
    /// `statement` is pgstash-named (has a key): a completed Parse of it is confirmed.
    let statementHasKey: Bool
    var effects: [SessionEffect]
    let message: [UInt8]

    init(statement: StatementRef?, effects: [SessionEffect] = [], message: [UInt8] = []) {
        self.statement = statement
        self.statementHasKey = statement?.key != nil
        self.effects = effects
        self.message = message
    }
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
    private var queue = PendingQueue()
    /// The extras of the queued entries that have one (`hasExtra`), in queue order.
    private var extras = FIFOQueue<PendingExtra>()
    /// Queued entries `drainSynthesized` takes (made-up responses and copy ends), kept by
    /// `enqueue` and `popHead`: it returns at once when there are none (the usual case).
    @usableFromInline private(set) var drainable = 0
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

    /// A request was sent to the server, carrying nothing for its response (the usual Bind,
    /// Describe, Execute, Sync): no statement reference or effect is built, copied or queued.
    public mutating func requestSent(_ kind: RequestKind, forward: Bool = true) {
        guard accepts(kind) else { return }
        enqueue(PendingEntry(kind: kind, forward: forward, hasExtra: false))
        if kind.endsWithReadyForQuery { outstandingSyncs += 1 }
    }

    public mutating func requestSent(_ kind: RequestKind, forward: Bool = true, statement: String?,
                                     effects: [SessionEffect] = []) {
        requestSent(kind, forward: forward, ref: statement.map { StatementRef(clientName: nil, serverName: $0) },
                    effects: effects)
    }

    public mutating func requestSent(_ kind: RequestKind, forward: Bool, ref: StatementRef?, effects: [SessionEffect] = []) {
        if ref == nil && effects.isEmpty { return requestSent(kind, forward: forward) }
        guard accepts(kind) else {
            // Ignored by the server: no answer will come. A made-up answer for it is not due.
            if serverSkippingToSync, var ref { ref.skipped = true; failedStatements.append(ref) }
            return
        }
        enqueue(PendingEntry(kind: kind, forward: forward, hasExtra: true), .payload(PendingPayload(statement: ref, effects: effects)))
        if kind.endsWithReadyForQuery { outstandingSyncs += 1 }
    }

    /// Whether a request of `kind` gets an answer from the server and so a queue entry.
    /// False for a CopyDone or Sync the server ignores, and for anything else while the
    /// server skips to the next Sync.
    private mutating func accepts(_ kind: RequestKind) -> Bool {
        if kind == .copyEnd {
            if copyInOpen { copyInOpen = false; return false }
            return !queue.isEmpty
        } else if kind == .sync {
            if copyInOpen { return false }            // ignored by a server in copy-in mode
            serverSkippingToSync = false
            return true
        }
        return !serverSkippingToSync
    }

    /// The client's Parse "" was sent as is; it replaces `replaced`, the client's previous
    /// unnamed statement (nil: none). Same as `requestSent(.parse, forward: true, ref:)`
    /// with `ReplacedUnnamed.statement(replacing:)`, without allocating.
    public mutating func clientUnnamedParseSent(replacing replaced: ReplacedUnnamed?) {
        if serverSkippingToSync {
            var ref = ReplacedUnnamed.statement(replacing: replaced)
            ref.skipped = true
            failedStatements.append(ref)
            return
        }
        enqueue(PendingEntry(kind: .parse, forward: true, hasExtra: true), .clientUnnamedParse(replacing: replaced))
    }

    /// The client will get `message` (a whole frame) once everything before it was answered.
    public mutating func synthesize(_ message: [UInt8], statement: StatementRef? = nil) {
        if serverSkippingToSync {
            if var statement { statement.skipped = true; failedStatements.append(statement) }
            return
        }
        enqueue(PendingEntry(kind: nil, forward: true, hasExtra: true),
                .payload(PendingPayload(statement: statement, message: message)))
    }

    /// Moves made-up responses at the head of the queue into `out`. Call after queuing
    /// client requests and after each server message.
    @inlinable public mutating func drainSynthesized(into out: inout ByteBuffer) {
        if drainable > 0 { drainQueued(into: &out) }
    }

    @usableFromInline mutating func drainQueued(into out: inout ByteBuffer) {
        while let e = queue.first {
            switch e.kind {
            case nil: out.append(extras.first!.payload!.message)
            case .copyEnd?: break
            default: return
            }
            popHead()
        }
    }

    /// The session effect of the next statement of the request at the head (call when a
    /// CommandComplete arrives, before `responseReceived`).
    public mutating func takeEffect() -> SessionEffect {
        guard let e = queue.first, e.kind != nil, e.hasExtra, let p = extras.first?.payload, !p.effects.isEmpty else { return .none }
        // pgstash's own requests carry a marker, not statement effects: it stays.
        if p.effects[0] == .settingsReplay || p.effects[0] == .raisedError { return .none }
        return p.effects.removeFirst()
    }

    /// Whether the answer to the request at the head reaches the client.
    public var headForwards: Bool {
        if let e = queue.first, e.kind != nil { return e.forward }
        return true
    }

    /// Whether the request at the head raises pgstash's own error.
    public var headRaisesError: Bool { headEffect == .raisedError }

    /// Whether the request at the head is the settings replay of a new lease.
    public var headIsSettingsReplay: Bool { headEffect == .settingsReplay }

    private var headEffect: SessionEffect? {
        if let e = queue.first, e.kind != nil, e.hasExtra { return extras.first?.payload?.effects.first }
        return nil
    }

    /// Whether the request at the head is one the client sees answers of.
    public var headIsForwarded: Bool { headForwards }

    /// A backend message with type `id` arrived. Made-up responses due before it are written
    /// to `out`; returns whether the message itself goes to the client.
    public mutating func responseReceived(_ id: UInt8, into out: inout ByteBuffer) -> Bool {
        if id == BackendMessageID.noticeResponse.rawValue || id == BackendMessageID.parameterStatus.rawValue
            || id == BackendMessageID.notificationResponse.rawValue {
            return true     // asynchronous: may arrive at any time
        }
        drainSynthesized(into: &out)
        guard let head = queue.first, let kind = head.kind else {
            return true     // nothing expected (e.g. a FATAL error): pass it on
        }
        let forward = head.forward
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
            let extra = popHead()
            if kind.endsWithReadyForQuery { outstandingSyncs -= 1; copyInOpen = false }
            if let extra {
                // Only pgstash-named statements are confirmed (by key) once parsed.
                if isError {
                    if let statement = extra.statement { failedStatements.append(statement) }
                } else if kind == .parse, let p = extra.payload, p.statementHasKey {
                    parsedStatements.append(p.statement!)
                }
            }
            if isError && !kind.endsWithReadyForQuery { skipToSync() }
        }
        // Made-up responses due after this message are drained by the caller once it has
        // passed the message on (`drainSynthesized`), so they keep their place.
        return deliver
    }

    private mutating func enqueue(_ e: PendingEntry, _ extra: PendingExtra? = nil) {
        if e.kind == nil || e.kind == .copyEnd { drainable += 1 }
        queue.append(e)
        if let extra { extras.append(extra) }
    }

    /// Drops the head entry; returns its extra.
    @discardableResult
    private mutating func popHead() -> PendingExtra? {
        guard let e = queue.popFirst() else { return nil }
        if e.kind == nil || e.kind == .copyEnd { drainable -= 1 }
        return e.hasExtra ? extras.popFirst() : nil
    }

    /// Copy-in mode began: the Syncs the client sent before it ends copy-in are ignored by
    /// the server, so they are not waited for.
    private mutating func copyInStarted() {
        var kept = PendingQueue()
        var keptExtras = FIFOQueue<PendingExtra>()
        var ended = false
        var first = true
        while let e = queue.popFirst() {
            defer { first = false }
            let extra = e.hasExtra ? extras.popFirst() : nil
            if !first && !ended {
                if e.kind == .sync { outstandingSyncs -= 1; continue }
                if e.kind == .copyEnd { ended = true; continue }
            }
            kept.append(e)
            if let extra { keptExtras.append(extra) }
        }
        queue = kept
        extras = keptExtras
        drainable = kept.count { $0.kind == nil || $0.kind == .copyEnd }
        copyInOpen = !ended
    }

    /// The server ignores everything up to the next Sync after an error: so do we.
    private mutating func skipToSync() {
        while let e = queue.first {
            if e.kind == .sync { return }
            // PostgreSQL ignores a Query or FunctionCall too until Sync (ignore_till_sync).
            if e.kind == .query || e.kind == .functionCall { outstandingSyncs -= 1 }
            if var st = popHead()?.statement { st.skipped = true; failedStatements.append(st) }
        }
        serverSkippingToSync = true
    }

    public var hasSettledStatements: Bool { !failedStatements.isEmpty || !parsedStatements.isEmpty }

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
        queue = PendingQueue()
        extras = FIFOQueue()
        drainable = 0
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
