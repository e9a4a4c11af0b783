import PostgresWire
import ProxyCore
import Testing

private let description = BackendMessage.rowDescription([
    .init(name: "id", tableOID: 16384, columnAttribute: 1, dataTypeOID: 23, dataTypeSize: 4, typeModifier: -1, format: 0),
    .init(name: "status", tableOID: 16384, columnAttribute: 2, dataTypeOID: 25, dataTypeSize: -1, typeModifier: -1, format: 0),
])
private let row1 = BackendMessage.dataRow([Array("1".utf8), Array("open".utf8)])
private let row2 = BackendMessage.dataRow([Array("2".utf8), nil])
private let select2 = BackendMessage.commandComplete(tag: "SELECT 2")
private let notice = BackendMessage.noticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hello"))
private let error = BackendMessage.errorResponse(ErrorFields(severity: "ERROR", sqlState: "22012", message: "division by zero"))

/// Feeds whole frames to a capture, as the server handler does for each message it relays.
private func captured(_ messages: BackendMessage..., limit: Int = 1 << 20) -> ResultCapture.State {
    var c = ResultCapture(limit: limit)
    for m in messages {
        let frame = m.encoded
        c.observe(frame[0], frame: frame[...])
    }
    return c.state
}

private func refused(_ s: ResultCapture.State) -> Bool {
    if case .refused = s { return true }
    return false
}

/// What PostgreSQL answers to a forwarded read, and what of it the cache stores (cache.md §5).
@Suite("ResultCapture")
struct ResultCaptureTests {
    @Test func simpleQueryResultIsStoredByteForByte() {
        let state = captured(description, row1, row2, select2, idle)
        #expect(state == .complete(CachedResult(rowDescription: description.encoded,
                                                rows: row1.encoded + row2.encoded + select2.encoded)))
    }

    @Test func extendedResultSkipsParseAndBindComplete() {
        let state = captured(.parseComplete, .bindComplete, description, row1, select2, idle)
        #expect(state == .complete(CachedResult(rowDescription: description.encoded, rows: row1.encoded + select2.encoded)))
    }

    /// Bind + Execute without Describe: no RowDescription to store.
    @Test func extendedResultWithoutDescribe() {
        let state = captured(.bindComplete, row1, row2, select2, idle)
        #expect(state == .complete(CachedResult(rowDescription: nil, rows: row1.encoded + row2.encoded + select2.encoded)))
    }

    @Test func emptyResult() {
        let state = captured(description, .commandComplete(tag: "SELECT 0"), idle)
        #expect(state == .complete(CachedResult(rowDescription: description.encoded,
                                                rows: BackendMessage.commandComplete(tag: "SELECT 0").encoded)))
    }

    @Test func captureStaysOpenUntilReadyForQuery() {
        var c = ResultCapture(limit: 1 << 20)
        for m in [description, row1, select2] {
            let f = m.encoded
            c.observe(f[0], frame: f[...])
            #expect(c.isOpen)
        }
        let z = idle.encoded
        c.observe(z[0], frame: z[...])
        #expect(!c.isOpen)
        // Nothing after the end changes what was captured.
        let more = row2.encoded
        c.observe(more[0], frame: more[...])
        #expect(c.state == .complete(CachedResult(rowDescription: description.encoded, rows: row1.encoded + select2.encoded)))
    }

    @Test(arguments: [
        ("error", [description, row1, error, idle]),
        ("notice", [description, notice, row1, select2, idle]),
        ("notice after the result", [description, row1, select2, notice, idle]),
        ("parameter status", [description, row1, select2, .parameterStatus(name: "TimeZone", value: "UTC"), idle]),
        ("portal suspended", [.bindComplete, description, row1, .portalSuspended, idle]),
        ("empty query", [.emptyQueryResponse, idle]),
        ("no data", [.parseComplete, .bindComplete, .noData, .commandComplete(tag: "SELECT 0"), idle]),
        ("second statement", [description, row1, select2, .commandComplete(tag: "SET"), idle]),
        ("second result", [description, row1, select2, description, row2, select2, idle]),
        ("statement before the result", [.commandComplete(tag: "SET"), description, row1, select2, idle]),
        ("rows after the result", [description, row1, select2, row2, idle]),
        ("no CommandComplete", [description, row1, idle]),
        ("copy", [.copyOutResponse(.init(format: 0, columnFormats: [0])), .copyDone, .commandComplete(tag: "COPY 0"), idle]),
        ("notification", [description, row1, .notificationResponse(processID: 1, channel: "c", payload: ""), select2, idle]),
        ("bind after rows", [description, row1, .bindComplete, select2, idle]),
    ] as [(String, [BackendMessage])])
    func refusals(_ what: String, _ messages: [BackendMessage]) {
        var c = ResultCapture(limit: 1 << 20)
        for m in messages {
            let f = m.encoded
            c.observe(f[0], frame: f[...])
        }
        #expect(refused(c.state), "\(what): \(c.state)")
    }

    @Test func resultOverTheLimitIsRefused() {
        let exact = description.encoded.count + row1.encoded.count + select2.encoded.count
        #expect(captured(description, row1, select2, idle, limit: exact)
                == .complete(CachedResult(rowDescription: description.encoded, rows: row1.encoded + select2.encoded)))
        #expect(refused(captured(description, row1, select2, idle, limit: exact - 1)))
        #expect(refused(captured(description, row1, row2, select2, idle, limit: description.encoded.count + 1)))
    }

    @Test func streamedRowRefusesTheCapture() {
        var c = ResultCapture(limit: 1 << 20)
        let d = description.encoded
        c.observe(d[0], frame: d[...])
        c.refuseStreamed()
        for m in [row1, select2, idle] {
            let f = m.encoded
            c.observe(f[0], frame: f[...])
        }
        #expect(refused(c.state))
    }

    // MARK: Payload

    @Test(arguments: [
        CachedResult(rowDescription: description.encoded, rows: row1.encoded + row2.encoded + select2.encoded),
        CachedResult(rowDescription: nil, rows: row1.encoded + select2.encoded),
        CachedResult(rowDescription: description.encoded, rows: BackendMessage.commandComplete(tag: "SELECT 0").encoded),
    ])
    func payloadRoundTrip(_ r: CachedResult) {
        #expect(CachedResult(payload: r.payload) == r)
    }

    @Test func payloadLayout() {
        let r = CachedResult(rowDescription: [0x54, 0, 0, 0, 6, 0, 0], rows: select2.encoded)
        #expect(Array(r.payload.prefix(5)) == [1, 0, 0, 0, 7])
        #expect(Array(r.payload.dropFirst(5).prefix(7)) == [0x54, 0, 0, 0, 6, 0, 0])
        #expect(Array(r.payload.dropFirst(12)) == select2.encoded)
        #expect(CachedResult(rowDescription: nil, rows: select2.encoded).payload.prefix(5) == [1, 0, 0, 0, 0])
    }

    @Test(arguments: [
        ("empty", []),
        ("short header", [1, 0, 0, 0]),
        ("other version", [2, 0, 0, 0, 0] + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("no rows", [1, 0, 0, 0, 0]),
        ("RowDescription longer than the payload", [1, 0, 0, 1, 0] + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("huge RowDescription length", [1, 0xff, 0xff, 0xff, 0xff] + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("truncated last frame", Array(([1, 0, 0, 0, 0] + BackendMessage.commandComplete(tag: "SELECT 2").encoded).dropLast())),
        ("partial frame header", [1, 0, 0, 0, 0] + BackendMessage.commandComplete(tag: "SELECT 2").encoded + [0x44, 0, 0]),
        ("length below 4", [1, 0, 0, 0, 0, 0x43, 0, 0, 0, 3] + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("no CommandComplete at the end", [1, 0, 0, 0, 0] + BackendMessage.dataRow([[0x31]]).encoded),
        ("CommandComplete then a row", [1, 0, 0, 0, 0] + BackendMessage.commandComplete(tag: "SELECT 2").encoded
            + BackendMessage.dataRow([[0x31]]).encoded),
        // A hit sends the RowDescription slot as it is: it must be one whole RowDescription.
        ("RowDescription slot holding a DataRow", [1, 0, 0, 0, 12] + BackendMessage.dataRow([[0x31]]).encoded
            + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("RowDescription slot with a wrong length word", [1, 0, 0, 0, 7, 0x54, 0, 0, 0, 9, 0, 0]
            + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
        ("RowDescription slot shorter than a header", [1, 0, 0, 0, 3, 0x54, 0, 0]
            + BackendMessage.commandComplete(tag: "SELECT 2").encoded),
    ] as [(String, [UInt8])])
    func malformedPayloadIsAMiss(_ what: String, _ payload: [UInt8]) {
        #expect(CachedResult(payload: payload) == nil, "\(what)")
    }
}
