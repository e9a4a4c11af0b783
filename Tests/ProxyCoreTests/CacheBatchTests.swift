import PostgresWire
@testable import ProxyCore
import Testing

private let maxMessageSize = 1 << 20

private func scan(_ messages: [FrontendMessage], maxBatchBytes: Int = 64 * 1024) -> CacheBatch.Scan {
    CacheBatch.scan(messages.flatMap(\.encoded)[...], maxMessageSize: maxMessageSize, maxBatchBytes: maxBatchBytes)
}

private func bindOf(_ statement: String, portal: String = "", formats: [Int16] = [], values: [[UInt8]?] = [],
                    results: [Int16] = []) -> FrontendMessage.Bind {
    .init(portal: portal, statement: statement, parameterFormats: formats, parameters: values, resultFormats: results)
}

private let select = "SELECT id, status FROM orders WHERE id = $1"
private let oneValue: [[UInt8]?] = [Array("7".utf8)]

private let fields = BackendMessage.rowDescription([
    .init(name: "id", tableOID: 16384, columnAttribute: 1, dataTypeOID: 23, dataTypeSize: 4, typeModifier: -1, format: 0),
])
private let rows = BackendMessage.dataRow([Array("7".utf8)]).encoded + BackendMessage.commandComplete(tag: "SELECT 1").encoded
private let stored = CachedResult(rowDescription: fields.encoded, rows: rows)
private let storedWithoutDescription = CachedResult(rowDescription: nil, rows: rows)

/// The head of a client's input the cache may answer whole, and the answer (cache.md §5).
@Suite("CacheBatch")
struct CacheBatchTests {
    // MARK: Scan

    @Test func simpleQuery() {
        let q = FrontendMessage.query("SELECT 1")
        #expect(scan([q]) == .candidate(CacheBatch(shape: .simple(sql: "SELECT 1"), length: q.encoded.count)))
        // Only the Query: what follows it is the next batch.
        #expect(scan([q, .query("SELECT 2")]) == .candidate(CacheBatch(shape: .simple(sql: "SELECT 1"), length: q.encoded.count)))
    }

    /// node-postgres, Prisma's pg adapter: `P("") B D(P) E S`.
    @Test func parseBindDescribeExecuteSync() {
        let p = parse("", select, [23])
        let b = FrontendMessage.bind(bindOf("", values: oneValue, results: [1]))
        let batch: [FrontendMessage] = [p, b, describePortal(), execute(), .sync]
        let expected = CacheBatch.ExtendedRead(
            parse: .init(name: "", query: select, parameterTypes: [23], frame: p.encoded),
            bind: bindOf("", values: oneValue, results: [1]), describesPortal: true)
        #expect(scan(batch) == .candidate(CacheBatch(shape: .extended(expected), length: batch.flatMap(\.encoded).count)))
    }

    /// libpq's PQexecPrepared: `B E S` of a statement prepared earlier.
    @Test func bindExecuteSync() {
        let batch: [FrontendMessage] = [.bind(bindOf("s1", values: oneValue)), execute(), .sync]
        let expected = CacheBatch.ExtendedRead(parse: nil, bind: bindOf("s1", values: oneValue), describesPortal: false)
        #expect(scan(batch) == .candidate(CacheBatch(shape: .extended(expected), length: batch.flatMap(\.encoded).count)))
    }

    @Test func namedPortal() {
        let batch: [FrontendMessage] = [.bind(bindOf("s1", portal: "p1")), describePortal("p1"), execute("p1"), .sync]
        guard case .candidate(let c) = scan(batch), case .extended(let read) = c.shape else {
            Issue.record("not a candidate")
            return
        }
        #expect(read.describesPortal)
        #expect(read.bind.portal == "p1")
    }

    /// The batch's length stops at its Sync: the messages after it are the next batch.
    @Test func lengthEndsAtSync() {
        let batch: [FrontendMessage] = [parse("", select), .bind(bindOf("")), execute(), .sync]
        let n = batch.flatMap(\.encoded).count
        guard case .candidate(let c) = scan(batch + [.query("SELECT 2")]) else {
            Issue.record("not a candidate")
            return
        }
        #expect(c.length == n)
    }

    /// The input is a slice of a bigger buffer (what the client handler passes): indices do
    /// not start at 0.
    @Test func inputSliceNotStartingAtZero() {
        let before = FrontendMessage.query("already read").encoded
        let batch: [FrontendMessage] = [parse("", select), .bind(bindOf("")), describePortal(), execute(), .sync]
        let bytes = before + batch.flatMap(\.encoded)
        let r = CacheBatch.scan(bytes[before.count...], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024)
        guard case .candidate(let c) = r, case .extended(let read) = c.shape else {
            Issue.record("not a candidate: \(r)")
            return
        }
        #expect(c.length == bytes.count - before.count)
        #expect(read.parse?.frame == parse("", select).encoded)
        #expect(read.parse?.query == select)
    }

    @Test func incompleteBatchWaits() {
        let batch: [FrontendMessage] = [parse("", select), .bind(bindOf("")), describePortal(), execute(), .sync]
        let bytes = batch.flatMap(\.encoded)
        // Every proper prefix: a partial header, a partial frame, or no Sync yet.
        for n in 0..<bytes.count {
            let r = CacheBatch.scan(bytes[..<n], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024)
            #expect(r == .incomplete, "first \(n) bytes: \(r)")
        }
        let q = FrontendMessage.query("SELECT 1").encoded
        #expect(CacheBatch.scan(q.dropLast(), maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024) == .incomplete)
    }

    @Test func batchOverTheBoundIsNotWaitedFor() {
        let long = "SELECT '" + String(repeating: "x", count: 200) + "'"
        let batch: [FrontendMessage] = [parse("", long), .bind(bindOf("")), execute(), .sync]
        let bytes = batch.flatMap(\.encoded)
        // Missing its Sync, over the bound: not waited for.
        #expect(CacheBatch.scan(bytes.dropLast(5), maxMessageSize: maxMessageSize, maxBatchBytes: 100) == .notCandidate)
        // A frame that will end past the bound: not waited for either.
        #expect(CacheBatch.scan(bytes.prefix(50), maxMessageSize: maxMessageSize, maxBatchBytes: 100) == .notCandidate)
        #expect(CacheBatch.scan(bytes.prefix(50), maxMessageSize: maxMessageSize, maxBatchBytes: 1000) == .incomplete)
    }

    /// A length word larger than any message: not a batch to wait for (the session's own
    /// framing reports the error).
    @Test func oversizedLengthHeaderIsNotWaitedFor() {
        let header: [UInt8] = [FrontendMessageID.query.rawValue, 0x7f, 0xff, 0xff, 0xff]
        #expect(CacheBatch.scan(header[...], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024) == .notCandidate)
        let tooShort: [UInt8] = [FrontendMessageID.query.rawValue, 0, 0, 0, 3]
        #expect(CacheBatch.scan(tooShort[...], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024) == .notCandidate)
    }

    @Test(arguments: [
        ("Flush before Sync", [parse("", select), .bind(bindOf("")), execute(), .flush, .sync]),
        ("Describe statement", [parse("s1", select), describeStatement("s1"), .sync]),
        ("Describe statement in a read", [parse("", select), describeStatement(""), .bind(bindOf("")), execute(), .sync]),
        ("row limit", [parse("", select), .bind(bindOf("")), .execute(portal: "", maxRows: 10), .sync]),
        ("two Executes", [parse("", select), .bind(bindOf("")), execute(), execute(), .sync]),
        ("two Binds", [.bind(bindOf("")), execute(), .bind(bindOf("")), execute(), .sync]),
        ("Bind of another statement", [parse("s1", select), .bind(bindOf("s2")), execute(), .sync]),
        ("Bind of the unnamed after a named Parse", [parse("s1", select), .bind(bindOf("")), execute(), .sync]),
        ("Execute of another portal", [.bind(bindOf("", portal: "p1")), execute("p2"), .sync]),
        ("Describe of another portal", [.bind(bindOf("", portal: "p1")), describePortal("p2"), execute("p1"), .sync]),
        ("Describe after Execute", [.bind(bindOf("")), execute(), describePortal(), .sync]),
        ("two Describes", [.bind(bindOf("")), describePortal(), describePortal(), execute(), .sync]),
        ("Parse only", [parse("s1", select), .sync]),
        ("Bind without Execute", [.bind(bindOf("")), .sync]),
        ("bare Sync", [.sync]),
        ("Execute without Bind", [execute(), .sync]),
        ("Parse after Bind", [.bind(bindOf("")), parse("", select), execute(), .sync]),
        ("Query after Parse", [parse("", select), .query("SELECT 1")]),
        ("Close", [closeStatement("s1"), .bind(bindOf("")), execute(), .sync]),
        ("FunctionCall", [.functionCall(.init(functionOID: 1, argumentFormats: [], arguments: [], resultFormat: 0))]),
        ("Terminate", [.terminate]),
    ] as [(String, [FrontendMessage])])
    func notCandidates(_ what: String, _ batch: [FrontendMessage]) {
        #expect(scan(batch) == .notCandidate, "\(what)")
    }

    @Test func malformedMessageIsNotACandidate() {
        // A Bind whose body ends inside its portal name.
        let bytes: [UInt8] = [FrontendMessageID.bind.rawValue, 0, 0, 0, 6, 0x61, 0x62] + FrontendMessage.sync.encoded
        #expect(CacheBatch.scan(bytes[...], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024) == .notCandidate)
        let unknown: [UInt8] = [0x21, 0, 0, 0, 4]
        #expect(CacheBatch.scan(unknown[...], maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024) == .notCandidate)
    }

    // MARK: Reply

    private static func batch(_ messages: [FrontendMessage]) -> CacheBatch {
        guard case .candidate(let c) = scan(messages) else { fatalError("not a candidate: \(messages)") }
        return c
    }

    @Test func simpleQueryReply() {
        let b = Self.batch([.query("SELECT id FROM orders")])
        let reply = b.reply(from: stored, status: .idle)
        #expect(reply == fields.encoded + rows + BackendMessage.readyForQuery(.idle).encoded)
        #expect(SessionTrace.renderBackend(reply ?? []) == ["RowDescription", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    /// The ReadyForQuery is the client's own status, not the one the result was captured with.
    @Test func replyCarriesTheClientsStatus() {
        let b = Self.batch([.query("SELECT id FROM orders")])
        #expect(SessionTrace.renderBackend(b.reply(from: stored, status: .inTransaction) ?? []).last == "ReadyForQuery T")
    }

    @Test func simpleQueryReplyNeedsARowDescription() {
        let b = Self.batch([.query("SELECT id FROM orders")])
        #expect(b.reply(from: storedWithoutDescription, status: .idle) == nil)
    }

    @Test func parseBindDescribeExecuteReply() {
        let b = Self.batch([parse("", select), .bind(bindOf("", values: oneValue)), describePortal(), execute(), .sync])
        let reply = b.reply(from: stored, status: .idle)
        #expect(SessionTrace.renderBackend(reply ?? [])
                == ["ParseComplete", "BindComplete", "RowDescription", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(reply == CannedMessage.parseComplete + CannedMessage.bindComplete + fields.encoded + rows
                + BackendMessage.readyForQuery(.idle).encoded)
    }

    /// No Describe: no RowDescription, even when the entry holds one.
    @Test func bindExecuteReply() {
        let b = Self.batch([.bind(bindOf("s1", values: oneValue)), execute(), .sync])
        #expect(SessionTrace.renderBackend(b.reply(from: stored, status: .idle) ?? [])
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(SessionTrace.renderBackend(b.reply(from: storedWithoutDescription, status: .idle) ?? [])
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test func parseBindExecuteReply() {
        let b = Self.batch([parse("", select), .bind(bindOf("", values: oneValue)), execute(), .sync])
        #expect(SessionTrace.renderBackend(b.reply(from: storedWithoutDescription, status: .idle) ?? [])
                == ["ParseComplete", "BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
    }

    @Test func describeNeedsAStoredRowDescription() {
        let b = Self.batch([.bind(bindOf("s1")), describePortal(), execute(), .sync])
        #expect(b.reply(from: storedWithoutDescription, status: .idle) == nil)
        #expect(b.reply(from: stored, status: .idle) != nil)
    }
}
