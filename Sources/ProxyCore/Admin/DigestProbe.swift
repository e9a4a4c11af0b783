/// What one client's requests are, for query digests: the statement text of each request in
/// flight (a simple Query, or an extended-protocol batch up to its Sync), and the rows and
/// errors its answer carries, until its ReadyForQuery. A pure machine fed by the proxy's relay
/// (the client's messages as they go upstream; the server's as they come back).
///
/// A batch is named by its first Bind's statement (a Parse alone, as PQprepare sends, runs no
/// statement and is not counted). Pipelined requests queue up; when the server has nothing
/// more outstanding, anything left over is dropped (a request pgstash answered itself), so a
/// mismatch cannot outlive one pipeline.
public struct DigestProbe: Sendable {
    /// A request answered: what to record.
    public struct Completed: Sendable, Equatable {
        /// The statement text as the client sent it; nil for a request that ran none (a bare
        /// Sync, a Parse/Describe/Sync, a FunctionCall).
        public var text: String?
        public var execution: QueryExecution
    }

    struct Pending: Sendable {
        var text: String?
        var startedAt: Double
    }

    /// The client's unnamed statement (its last Parse ""), for a Bind "" that reuses it.
    public private(set) var unnamedText: String?
    /// The extended-protocol batch being sent: its statement and when it began.
    private var batchText: String?
    private var batchStartedAt: Double?
    private var pending: [Pending] = []
    /// Of the request being answered (the first pending one).
    private var rows: UInt64 = 0
    private var failed = false

    public init() {}

    /// Requests sent and not yet answered.
    public var pendingCount: Int { pending.count }

    // MARK: Client messages (as relayed upstream)

    /// A simple Query. `startedAt`: when it arrived at pgstash (pool wait included).
    public mutating func querySent(_ text: String, startedAt: Double, serverOutstanding: Int) {
        if serverOutstanding <= 1 { pending.removeAll(keepingCapacity: true) }
        pending.append(Pending(text: text, startedAt: startedAt))
    }

    /// A Parse: only remembered (its Bind is what runs the statement). `unnamedText`: the
    /// text of a Parse of the unnamed statement; nil for a named one (the session knows those).
    public mutating func parseSent(unnamedText text: String?, now: Double) {
        if let text { unnamedText = text }
        beginBatch(now)
    }

    /// A Bind of a statement whose text the proxy knows (`nil`: unknown).
    public mutating func bindSent(statementText: String?, now: Double) {
        beginBatch(now)
        if batchText == nil { batchText = statementText }
    }

    /// Describe, Execute, Close, Flush: part of the batch.
    public mutating func batchMessageSent(now: Double) { beginBatch(now) }

    /// A Sync (or FunctionCall, `text` nil): the batch is a request now.
    public mutating func syncSent(now: Double, serverOutstanding: Int) {
        if serverOutstanding <= 1 { pending.removeAll(keepingCapacity: true) }
        pending.append(Pending(text: batchText, startedAt: batchStartedAt ?? now))
        batchText = nil
        batchStartedAt = nil
    }

    private mutating func beginBatch(_ now: Double) {
        if batchStartedAt == nil { batchStartedAt = now }
    }

    // MARK: Server messages (as relayed to the client)

    /// A CommandComplete: its tag's row count (`SELECT 3`, `INSERT 0 5`, `UPDATE 2`, `COPY 9`)
    /// is added to the request's rows.
    public mutating func commandCompleted(tag body: ArraySlice<UInt8>) {
        rows += Self.rowCount(body)
    }

    public mutating func errorReceived() { failed = true }

    /// The client got a ReadyForQuery: the first pending request is done. `serverOutstanding`
    /// is what the server still has to answer after it (0: anything pending is stale).
    public mutating func readyForQueryReceived(now: Double, serverOutstanding: Int) -> Completed? {
        defer {
            rows = 0
            failed = false
            if serverOutstanding == 0 { pending.removeAll(keepingCapacity: true) }
        }
        guard !pending.isEmpty else { return nil }
        let p = pending.removeFirst()
        return Completed(text: p.text, execution: QueryExecution(seconds: max(now - p.startedAt, 0), rows: rows, failed: failed))
    }

    /// The number ending a CommandComplete tag (NUL-terminated), 0 when there is none.
    public static func rowCount(_ tag: ArraySlice<UInt8>) -> UInt64 {
        var end = tag.endIndex
        while end > tag.startIndex, tag[end - 1] == 0 { end -= 1 }
        var start = end
        while start > tag.startIndex, tag[start - 1] >= 0x30, tag[start - 1] <= 0x39 { start -= 1 }
        guard start < end, start == tag.startIndex || tag[start - 1] == 0x20 else { return 0 }
        var n: UInt64 = 0
        for d in tag[start..<end] { n = n &* 10 &+ UInt64(d - 0x30) }
        return n
    }
}
