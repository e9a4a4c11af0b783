import PostgresWire

/// A result as the cache stores it: the RowDescription PostgreSQL sent (when the request
/// asked for one) and the DataRow and CommandComplete messages, byte for byte as received.
/// A hit replays them; only the ReadyForQuery status is the client's own (cache.md §5).
public struct CachedResult: Equatable, Sendable {
    /// The whole RowDescription frame, or nil when the request did not describe its portal.
    public var rowDescription: [UInt8]?
    /// DataRow frames, then the CommandComplete frame.
    public var rows: [UInt8]

    public init(rowDescription: [UInt8]?, rows: [UInt8]) {
        self.rowDescription = rowDescription
        self.rows = rows
    }

    static let version: UInt8 = 1

    /// The bytes stored in Redis: a version, the RowDescription's length (0 when absent) and
    /// frame, then the rows.
    public var payload: [UInt8] {
        var p: [UInt8] = [Self.version]
        p.reserveCapacity(5 + (rowDescription?.count ?? 0) + rows.count)
        let n = UInt32(rowDescription?.count ?? 0)
        p += [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
        if let rd = rowDescription { p += rd }
        p += rows
        return p
    }

    /// Decodes a stored payload; nil for anything malformed (it is then treated as a miss).
    public init?(payload p: [UInt8]) {
        guard p.count >= 5, p[0] == Self.version else { return nil }
        let n = Int(p[1]) << 24 | Int(p[2]) << 16 | Int(p[3]) << 8 | Int(p[4])
        guard p.count >= 5 + n else { return nil }
        if n > 0 {
            // One whole RowDescription frame: a hit sends it as it is.
            guard n >= 5, p[5] == BackendMessageID.rowDescription.rawValue,
                  Int(p[6]) << 24 | Int(p[7]) << 16 | Int(p[8]) << 8 | Int(p[9]) == n - 1 else { return nil }
        }
        rowDescription = n == 0 ? nil : Array(p[5..<(5 + n)])
        rows = Array(p[(5 + n)...])
        // The rows must be whole frames ending with a CommandComplete.
        var i = 0
        var last: UInt8 = 0
        while i < rows.count {
            guard rows.count - i >= 5 else { return nil }
            let len = Int(rows[i + 1]) << 24 | Int(rows[i + 2]) << 16 | Int(rows[i + 3]) << 8 | Int(rows[i + 4])
            guard len >= 4, rows.count - i >= 1 + len else { return nil }
            last = rows[i]
            i += 1 + len
        }
        guard last == BackendMessageID.commandComplete.rawValue else { return nil }
    }
}

/// Collects what PostgreSQL answers to a forwarded cacheable read, to store it: the
/// RowDescription, the DataRows and the CommandComplete, then ReadyForQuery. Anything else —
/// an error, a notice, a ParameterStatus, a suspended portal, a second statement, a message
/// too big to see whole — refuses the capture (cache.md §5: never cache a result that came
/// with a Notice, ParameterStatus or Error), as does a result over `limit` bytes.
public struct ResultCapture: Sendable {
    public enum State: Equatable, Sendable {
        /// Still reading the answer.
        case open
        /// ReadyForQuery arrived after a complete result: store it.
        case complete(CachedResult)
        /// Not stored, and why.
        case refused(String)
    }

    public private(set) var state = State.open
    private var rowDescription: [UInt8]?
    private var rows: [UInt8] = []
    private var commandCompleted = false
    private let limit: Int

    public init(limit: Int) { self.limit = limit }

    public var isOpen: Bool { state == .open }

    /// A whole backend message the client was sent, in order.
    public mutating func observe(_ id: UInt8, frame: ArraySlice<UInt8>) {
        guard state == .open else { return }
        switch BackendMessageID(rawValue: id) {
        case .parseComplete?, .bindComplete?:
            if rowDescription != nil || !rows.isEmpty { refuse("a message out of order") }
        case .rowDescription?:
            if rowDescription != nil || !rows.isEmpty { return refuse("a second result") }
            rowDescription = Array(frame)
        case .dataRow?:
            if commandCompleted { return refuse("a second result") }
            rows += frame
        case .commandComplete?:
            if commandCompleted { return refuse("a second statement") }
            rows += frame
            commandCompleted = true
        case .readyForQuery?:
            state = commandCompleted ? .complete(CachedResult(rowDescription: rowDescription, rows: rows))
                                     : .refused("no complete result")
            rows = []
            return
        case .errorResponse?: return refuse("PostgreSQL answered with an error")
        case .noticeResponse?: return refuse("PostgreSQL sent a notice with the result")
        case .parameterStatus?: return refuse("a setting changed while the query ran")
        case .portalSuspended?: return refuse("the portal was suspended (Execute with a row limit)")
        case .noData?: return refuse("the statement returns no rows")
        case .emptyQueryResponse?: return refuse("the query is empty")
        default: return refuse("PostgreSQL sent message type \(Character(UnicodeScalar(id)))")
        }
        let size = (rowDescription?.count ?? 0) + rows.count
        if size > limit {
            // The capture stops here, so the whole result's size is not known: at least this.
            refuse("the result is too large (at least \(size) bytes > [cache] max_result_bytes \(limit))")
        }
    }

    /// A message too big to be buffered whole was relayed: it cannot be stored.
    public mutating func refuseStreamed() { refuse("a row too big to buffer") }

    private mutating func refuse(_ reason: String) {
        state = .refused(reason)
        rowDescription = nil
        rows = []
    }
}
