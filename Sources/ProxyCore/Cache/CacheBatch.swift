import PostgresWire

/// A client request that the cache may answer whole, found at the head of a client's input
/// while it holds no server: one simple Query, or one extended-protocol read
/// `[Parse] Bind [Describe portal] Execute(max_rows 0) Sync` — what libpq's PQexecParams and
/// PQexecPrepared, node-postgres, Prisma's pg adapter, asyncpg and pgjdbc send for a read.
/// Anything else (Flush before Sync, a statement Describe, several Executes, an Execute with
/// a row limit) goes to PostgreSQL as it is (cache.md §5).
public struct CacheBatch: Equatable, Sendable {
    public enum Shape: Equatable, Sendable {
        case simple(sql: String)
        case extended(ExtendedRead)
    }

    public var shape: Shape
    /// Bytes of the client's input the batch spans, its Sync included.
    public var length: Int

    /// The extended-protocol messages of a cacheable read.
    public struct ExtendedRead: Equatable, Sendable {
        /// The Parse of the batch, if any: the statement's name, text and parameter types, and
        /// the frame as the client sent it.
        public var parse: Parse?
        public var bind: FrontendMessage.Bind
        public var describesPortal: Bool

        public struct Parse: Equatable, Sendable {
            public var name: String
            public var query: String
            public var parameterTypes: [Int32]
            public var frame: [UInt8]
        }
    }

    public enum Scan: Equatable, Sendable {
        /// Not all of the batch has arrived: wait for more input (PostgreSQL itself answers
        /// nothing of an extended batch before its Sync or Flush).
        case incomplete
        /// The head of the input is not a cacheable request.
        case notCandidate
        case candidate(CacheBatch)
    }

    /// Looks at the head of a client's input. `maxBatchBytes` bounds how much is waited for.
    public static func scan(_ input: ArraySlice<UInt8>, maxMessageSize: Int, maxBatchBytes: Int) -> Scan {
        var offset = input.startIndex
        var parse: ExtendedRead.Parse?
        var bind: FrontendMessage.Bind?
        var describes = false
        var executed = false
        while true {
            let view = input[offset...]
            let header: FrameHeader?
            do { header = try Framing.peekHeader(view, maxBodyLength: maxMessageSize) } catch { return .notCandidate }
            guard let h = header else {
                return offset - input.startIndex > maxBatchBytes ? .notCandidate : .incomplete
            }
            guard view.count >= h.frameLength else {
                return offset - input.startIndex + h.frameLength > maxBatchBytes ? .notCandidate : .incomplete
            }
            let body = view[(offset + 5)..<(offset + h.frameLength)]
            let frameEnd = offset + h.frameLength
            guard let id = FrontendMessageID(rawValue: h.id),
                  let message = try? FrontendMessage.decode(id: h.id, body: body) else { return .notCandidate }
            switch (id, message) {
            case (.query, .query(let sql)):
                guard offset == input.startIndex else { return .notCandidate }
                return .candidate(CacheBatch(shape: .simple(sql: sql), length: h.frameLength))
            case (.parse, let .parse(name, query, types)):
                guard offset == input.startIndex else { return .notCandidate }
                parse = ExtendedRead.Parse(name: name, query: query, parameterTypes: types,
                                           frame: Array(view[offset..<frameEnd]))
            case (.bind, .bind(let b)):
                guard bind == nil else { return .notCandidate }
                if let p = parse, p.name != b.statement { return .notCandidate }
                bind = b
            case (.describe, let .describe(kind, name)):
                guard let b = bind, !executed, !describes, kind == DescribeTarget.portal.rawValue,
                      name == b.portal else { return .notCandidate }
                describes = true
            case (.execute, let .execute(portal, maxRows)):
                guard let b = bind, !executed, portal == b.portal, maxRows == 0 else { return .notCandidate }
                executed = true
            case (.sync, .sync):
                guard let b = bind, executed else { return .notCandidate }
                let read = ExtendedRead(parse: parse, bind: b, describesPortal: describes)
                return .candidate(CacheBatch(shape: .extended(read), length: frameEnd - input.startIndex))
            default:
                return .notCandidate
            }
            offset = frameEnd
        }
    }

    /// The answer to the batch from a stored result, or nil when the result cannot answer it
    /// (a Describe the entry holds no RowDescription for). `status` is the client's own
    /// transaction status for ReadyForQuery.
    public func reply(from result: CachedResult, status: TransactionStatus) -> [UInt8]? {
        var out: [UInt8] = []
        switch shape {
        case .simple:
            guard let rd = result.rowDescription else { return nil }
            out.reserveCapacity(rd.count + result.rows.count + 6)
            out += rd
        case .extended(let read):
            if read.parse != nil { out += CannedMessage.parseComplete }
            out += CannedMessage.bindComplete
            if read.describesPortal {
                guard let rd = result.rowDescription else { return nil }
                out += rd
            }
        }
        out += result.rows
        out += CannedMessage.readyForQuery(status)
        return out
    }
}
