import CachePolicy
import PostgresWire

/// Holds a writer's acknowledgement until its writes are published (cache.md §1.2 step 4,
/// §1.6): the tags a transaction's writes can affect are bumped after PostgreSQL commits and
/// before the CommandComplete or ReadyForQuery that tells the client so reaches it.
///
/// Write sets are recorded per request in flight (Query, Sync, FunctionCall: what a
/// ReadyForQuery answers), in the order the server answers them, so that a write pipelined
/// behind a read is never bumped at the read's ReadyForQuery, before its own commit. The
/// commit points (`postgres.c`): a simple Query's implicit transaction commits before its
/// last CommandComplete; an extended-protocol implicit transaction at Sync; an explicit one
/// at CommandComplete `COMMIT` (`COMMIT AND CHAIN` included). A transaction that ends any
/// other way (an error, ROLLBACK) publishes nothing.
public struct CommitGate: Sendable {
    /// Writes of requests already answered, in the open transaction.
    private var transaction = WriteSet()
    /// Writes of each request awaiting its ReadyForQuery, oldest first.
    private var inFlight: [WriteSet] = []
    /// Writes of extended-protocol messages sent since the last Sync.
    private var building = WriteSet()
    /// An error since the transaction began: it will not commit.
    private var failed = false
    /// The last CommandComplete said ROLLBACK.
    private var rolledBack = false
    /// `.publish` was answered: the message offered again is relayed.
    private var published = false

    public init() {}

    /// Nothing is pending and nothing is in flight: the gate has no work. A published message
    /// not yet offered again is work: its re-offer must reach the gate.
    public var isIdle: Bool { !published && transaction.isEmpty && building.isEmpty && inFlight.isEmpty }

    /// Whether any write is recorded that has not been published or dropped.
    public var hasWrites: Bool {
        !transaction.isEmpty || !building.isEmpty || inFlight.contains { !$0.isEmpty }
    }

    /// Every write not yet published (for a server lost mid-transaction or a client gone
    /// with its COMMIT in flight: published anyway, since it may have committed).
    public mutating func takeAll() -> WriteSet {
        var all = transaction
        all.formUnion(building)
        for w in inFlight { all.formUnion(w) }
        self = CommitGate()
        return all
    }

    /// A client message that will write `w` if it commits was sent.
    public mutating func wrote(_ w: WriteSet) {
        if !w.isEmpty { building.formUnion(w) }
    }

    /// The server queued a request its ReadyForQuery will answer (a Query, Sync or
    /// FunctionCall it will not skip): the writes sent since the last one belong to it.
    public mutating func requestQueued() {
        inFlight.append(building)
        building = WriteSet()
    }

    public enum Decision: Equatable, Sendable {
        /// Relay the message.
        case relay
        /// Need the message after this one to decide: wait for more input.
        case needNext
        /// Publish these writes, then relay the message (offer it again).
        case publish(WriteSet)
    }

    /// A backend message that the client is about to be sent. `next` is the type of the
    /// message after it and, for a ReadyForQuery, its status, when already received.
    /// After `.publish`, the same message must be offered again: it is then relayed.
    public mutating func beforeRelay(_ id: UInt8, body: ArraySlice<UInt8>, next: (id: UInt8, status: UInt8?)?) -> Decision {
        if published {
            published = false
            if id == BackendMessageID.readyForQuery.rawValue { settle(body.first) }
            return .relay
        }
        switch BackendMessageID(rawValue: id) {
        case .errorResponse?:
            failed = true
            return .relay
        case .commandComplete?:
            rolledBack = body.starts(with: Self.rollbackTag)
            if rolledBack || body.starts(with: Self.commitTag) || body.starts(with: Self.prepareTransactionTag) {
                // The transaction (or savepoint) that failed ended: statements after it in the
                // same request run, and commit, in a transaction of their own.
                failed = false
            }
            if body.starts(with: Self.prepareTransactionTag) {
                // Committed later by COMMIT PREPARED, which bumps the epoch.
                transaction = WriteSet()
                return .relay
            }
            if body.starts(with: Self.commitTag) {
                // Writes sent after the COMMIT in the same request stay recorded: they are
                // published again when they commit.
                var w = transaction
                if let head = inFlight.first { w.formUnion(head) } else { w.formUnion(building) }
                transaction = WriteSet()
                return publish(w)
            }
            // The last statement of an implicit transaction has committed when ReadyForQuery
            // 'I' follows at once. Only a request the server has queued ends that way.
            guard let head = inFlight.first, !failed, !rolledBack else { return .relay }
            var w = transaction
            w.formUnion(head)
            if w.isEmpty { return .relay }
            guard let next else { return .needNext }
            guard next.id == BackendMessageID.readyForQuery.rawValue, next.status == TransactionStatus.idle.rawValue else {
                return .relay
            }
            transaction = WriteSet()
            inFlight[0] = WriteSet()
            return publish(w)
        case .readyForQuery?:
            if !inFlight.isEmpty { transaction.formUnion(inFlight.removeFirst()) }
            if body.first == TransactionStatus.idle.rawValue, !failed, !rolledBack, !transaction.isEmpty {
                let w = transaction
                transaction = WriteSet()
                return publish(w)
            }
            settle(body.first)
            return .relay
        default:
            return .relay
        }
    }

    /// Publishes `w` (nothing to do when empty); the message is then offered again.
    private mutating func publish(_ w: WriteSet) -> Decision {
        guard !w.isEmpty else { return .relay }
        published = true
        return .publish(w)
    }

    /// After a ReadyForQuery: a transaction that ended without committing publishes nothing.
    private mutating func settle(_ status: UInt8?) {
        if status == TransactionStatus.idle.rawValue {
            transaction = WriteSet()
            failed = false
            rolledBack = false
        }
    }

    static let commitTag = Array("COMMIT".utf8)
    static let rollbackTag = Array("ROLLBACK".utf8)
    static let prepareTransactionTag = Array("PREPARE TRANSACTION".utf8)
}
