import Buffers
import PostgresWire
import Testing

@Suite("Frame splitting")
struct FrameDecoderTests {
    static let pipeline: [FrontendMessage] = [
        .parse(name: "s1", query: "SELECT * FROM orders WHERE id = $1", parameterTypes: [20]),
        .bind(.init(portal: "", statement: "s1", parameterFormats: [1],
                    parameters: [[0, 0, 0, 0, 0, 0, 0, 42]], resultFormats: [1])),
        .describe(kind: UInt8(ascii: "P"), name: ""),
        .execute(portal: "", maxRows: 0),
        .sync,
    ]

    static let result: [BackendMessage] = [
        .parseComplete,
        .bindComplete,
        .rowDescription([.init(name: "id", tableOID: 16384, columnAttribute: 1, dataTypeOID: 20,
                               dataTypeSize: 8, typeModifier: -1, format: 1)]),
        .dataRow([[0, 0, 0, 0, 0, 0, 0, 42]]),
        .dataRow([nil]),
        .commandComplete(tag: "SELECT 2"),
        .readyForQuery(.idle),
    ]

    @Test func pipelinedExtendedQuerySplitsAtEveryPairOfBoundaries() throws {
        let stream = Self.pipeline.flatMap(\.encoded)
        for a in 0...stream.count {
            for b in a...stream.count {
                let got = try decodeInChunks(stream, cuts: [a, b]) { try $0.nextFrontendMessage() }
                #expect(got == Self.pipeline, "cuts at \(a), \(b)")
            }
        }
    }

    @Test func pipelinedResultSplitsByteByByte() throws {
        let stream = Self.result.flatMap(\.encoded)
        let got = try decodeInChunks(stream, cuts: Array(1..<stream.count)) { try $0.nextBackendMessage() }
        #expect(got == Self.result)
    }

    @Test func rawFramesCarryTheirBodies() throws {
        var decoder = FrameDecoder()
        decoder.feed(Self.pipeline.flatMap(\.encoded))
        var ids: [UInt8] = []
        while let frame = try decoder.next() {
            ids.append(frame.id)
            #expect(try FrontendMessage.decode(id: frame.id, body: frame.body).id.rawValue == frame.id)
        }
        #expect(ids == Array("PBDES".utf8))
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func framingNextFrameMatchesTheDecoder() throws {
        var buffer = ByteBuffer(Self.result.flatMap(\.encoded))
        var got: [BackendMessage] = []
        while let (id, body) = try Framing.nextFrame(&buffer, maxBodyLength: 1 << 20) {
            got.append(try BackendMessage.decode(id: id, body: body))
        }
        #expect(got == Self.result)
        #expect(buffer.isEmpty)
    }

    @Test func peekHeaderNeedsFiveBytes() throws {
        let frame = FrontendMessage.query("SELECT 1").encoded
        for n in 0..<5 {
            let header = try Array(frame[..<n]).withUnsafeBytes { try Framing.peekHeader($0, maxBodyLength: 100) }
            #expect(header == nil)
        }
        let header = try frame.withUnsafeBytes { try Framing.peekHeader($0, maxBodyLength: 100) }
        #expect(header == FrameHeader(id: 0x51, bodyLength: 9))
        #expect(header?.frameLength == frame.count)
    }

    @Test(arguments: [
        ("51 00 00 00 03", 3),
        ("51 00 00 00 00", 0),
        ("51 ff ff ff ff", -1),
        ("51 80 00 00 00", Int(Int32.min)),
    ])
    func lengthWordsBelowFourAreRefused(_ wire: String, _ length: Int) {
        var decoder = FrameDecoder()
        decoder.feed(hex(wire))
        #expect(throws: WireDecodingError(messageID: 0x51, offset: 0, reason: .invalidLength(length))) {
            try decoder.next()
        }
    }

    @Test func twoGigabyteAnnouncementIsRefusedBeforeBuffering() {
        var decoder = FrameDecoder()
        decoder.feed(hex("44 7f ff ff ff"))
        #expect(throws: WireDecodingError(messageID: 0x44, offset: 0,
                                          reason: .messageTooLarge(declared: Int(Int32.max) - 4,
                                                                   limit: FrameDecoder.defaultMaxBodyLength))) {
            try decoder.next()
        }
    }

    @Test func configuredLimitIsInclusive() throws {
        var decoder = FrameDecoder(maxBodyLength: 8)
        decoder.feed(FrontendMessage.copyData(Array(repeating: 7, count: 8)).encoded)
        #expect(try decoder.nextFrontendMessage() == .copyData(Array(repeating: 7, count: 8)))
        decoder.feed(FrontendMessage.copyData(Array(repeating: 7, count: 9)).encoded)
        #expect(throws: WireDecodingError(messageID: 0x64, offset: 0, reason: .messageTooLarge(declared: 9, limit: 8))) {
            try decoder.next()
        }
    }

    @Test func errorIsStickyUntilTheDecoderIsDropped() {
        var decoder = FrameDecoder()
        decoder.feed(hex("51 00 00 00 02"))
        let expected = WireDecodingError(messageID: 0x51, offset: 0, reason: .invalidLength(2))
        #expect(throws: expected) { try decoder.next() }
        decoder.feed(FrontendMessage.sync.encoded)
        #expect(throws: expected) { try decoder.next() }
    }

    @Test func unknownTypeInAStreamNamesTheByte() throws {
        var decoder = FrameDecoder()
        decoder.feed(FrontendMessage.sync.encoded + BackendMessage.readyForQuery(.idle).encoded)
        #expect(try decoder.nextFrontendMessage() == .sync)
        #expect(throws: WireDecodingError(messageID: 0x5A, offset: 0, reason: .unknownMessageType)) {
            try decoder.nextFrontendMessage()
        }
    }

    @Test func truncatedBodyInsideACompleteFrame() {
        // Execute whose length word covers a portal name but only 2 bytes of maxRows.
        var decoder = FrameDecoder()
        decoder.feed(hex("45 00 00 00 07 00 00 00"))
        #expect(throws: WireDecodingError(messageID: 0x45, offset: 1, reason: .truncated)) {
            try decoder.nextFrontendMessage()
        }
    }

    @Test func recvStyleFeedAppendsOnlyWhatWasWritten() throws {
        let frame = FrontendMessage.query("SELECT 1").encoded
        var decoder = FrameDecoder(initialCapacity: 4)
        var sent = 0
        while sent < frame.count {
            let n = decoder.feed(maxBytes: 64) { window in
                let n = min(3, frame.count - sent)
                for i in 0..<n { window[i] = frame[sent + i] }
                return n
            }
            sent += n
        }
        #expect(decoder.bufferedBytes == frame.count)
        #expect(try decoder.nextFrontendMessage() == .query("SELECT 1"))
        #expect(decoder.unconsumedBytes.isEmpty)
    }

    @Test func longStreamWithPartialFramesKeepsMemoryBounded() throws {
        let frame = BackendMessage.dataRow([Array(repeating: 0x61, count: 90)]).encoded
        let chunk = Array(Array(repeating: frame, count: 50).joined())
        var decoder = FrameDecoder(initialCapacity: 16)
        var rows = 0
        // Chunks of 1,000 bytes end mid-frame almost every time.
        for _ in 0..<40 {
            var from = 0
            while from < chunk.count {
                let to = min(from + 1_000, chunk.count)
                decoder.feed(chunk[from..<to])
                from = to
                while try decoder.next() != nil { rows += 1 }
            }
        }
        #expect(rows == 2_000)
        #expect(decoder.streamOffset == 40 * chunk.count)
        #expect(decoder.bufferedBytes == 0)
        #expect(decoder.bufferCapacity <= 4 * 1_024)
    }
}

@Suite("Frontend header checks")
struct FrontendHeaderCheckTests {
    @Test(arguments: (0...255).map(UInt8.init).filter { FrontendMessageID(rawValue: $0) == nil })
    func unknownTypeIsRefusedFromTheHeader(_ id: UInt8) {
        var decoder = FrameDecoder(checksFrontendHeaders: true)
        decoder.feed([id, 0, 0, 0, 100])
        #expect(throws: WireDecodingError(messageID: id, offset: 0, reason: .unknownMessageType)) {
            try decoder.next()
        }
    }

    @Test(arguments: [
        (FrontendMessageID.sync, 9_996), (.flush, 9_996), (.execute, 9_996), (.describe, 9_996),
        (.close, 9_996), (.terminate, 9_996), (.copyDone, 9_996), (.copyFail, 9_996),
        (.password, 65_531),
        (.query, 1_073_741_818), (.parse, 1_073_741_818), (.bind, 1_073_741_818),
        (.functionCall, 1_073_741_818), (.copyData, 1_073_741_818),
    ])
    func postgresLimitsApply(_ id: FrontendMessageID, _ limit: Int) throws {
        #expect(id.postgresMaxBodyLength == limit)
        func header(_ body: Int) -> [UInt8] {
            let l = UInt32(body + 4)
            return [id.rawValue, UInt8(l >> 24), UInt8(l >> 16 & 0xff), UInt8(l >> 8 & 0xff), UInt8(l & 0xff)]
        }
        var atLimit = FrameDecoder(maxBodyLength: Int(Int32.max), checksFrontendHeaders: true)
        atLimit.feed(header(limit))
        #expect(try atLimit.next() == nil, "a body at the limit is awaited")
        var over = FrameDecoder(maxBodyLength: Int(Int32.max), checksFrontendHeaders: true)
        over.feed(header(limit + 1))
        #expect(throws: WireDecodingError(messageID: id.rawValue, offset: 0,
                                          reason: .messageTooLarge(declared: limit + 1, limit: limit))) {
            try over.next()
        }
    }

    @Test func everyFrontendFixturePassesTheChecks() throws {
        var decoder = FrameDecoder(checksFrontendHeaders: true)
        decoder.feed(Fixtures.frontend.flatMap(\.encoded))
        var got: [FrontendMessage] = []
        while let message = try decoder.nextFrontendMessage() { got.append(message) }
        #expect(got == Fixtures.frontend)
    }
}

@Suite("Frame decoder recovery and forwarding")
struct FrameDecoderForwardingTests {
    @Test func bodyErrorConsumesOnlyItsFrame() throws {
        var decoder = FrameDecoder()
        decoder.feed(hex("44 00 00 00 06 58 00") + FrontendMessage.sync.encoded)
        #expect(throws: WireDecodingError.self) { try decoder.nextFrontendMessage() }
        #expect(try decoder.nextFrontendMessage() == .sync)
    }

    @Test func wholeFramesAreForwardedByteForByte() throws {
        let frames = FrameDecoderTests.pipeline.map(\.encoded)
        let stream = frames.flatMap { $0 }
        for cut in 0...stream.count {
            let got = try decodeInChunks(stream, cuts: [cut]) { try $0.nextFrame().map { Array($0.frame) } }
            #expect(got == frames, "cut at \(cut)")
        }
    }
}

/// `Framing.peekHeader` on a relay's input buffer (the handlers' path): the header is read at
/// the reader index, whatever was consumed before it.
@Suite("Frame header in a byte buffer")
struct ByteBufferHeaderTests {
    static func buffer(consumed: Int, _ bytes: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer([UInt8](repeating: 0xAA, count: consumed) + bytes)
        b.moveReaderIndex(forwardBy: consumed)
        return b
    }

    @Test(arguments: [0, 1, 7])
    func headerIsReadAtTheReaderIndex(consumed: Int) throws {
        let b = Self.buffer(consumed: consumed, [0x44, 0, 0, 0x01, 0x04, 9, 9])
        let h = try #require(try Framing.peekHeader(b, maxBodyLength: 1 << 20))
        #expect(h.id == 0x44 && h.bodyLength == 0x100)
        #expect(b.readableView(first: 3) == [0x44, 0, 0])
    }

    @Test func fewerThanFiveBytesIsNoHeaderYet() throws {
        #expect(try Framing.peekHeader(Self.buffer(consumed: 3, [0x44, 0, 0, 0]), maxBodyLength: 100) == nil)
    }

    @Test func badLengthsThrowAsForRawBytes() {
        #expect(throws: WireDecodingError(messageID: 0x51, offset: 0, reason: .invalidLength(3))) {
            try Framing.peekHeader(Self.buffer(consumed: 2, [0x51, 0, 0, 0, 3]), maxBodyLength: 100)
        }
        #expect(throws: WireDecodingError(messageID: 0x51, offset: 0, reason: .messageTooLarge(declared: 101, limit: 100))) {
            try Framing.peekHeader(Self.buffer(consumed: 2, [0x51, 0, 0, 0, 105]), maxBodyLength: 100)
        }
    }
}
