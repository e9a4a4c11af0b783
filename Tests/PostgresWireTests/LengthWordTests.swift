import PostgresWire
import Testing

/// Every encoded frame of the fixtures, both directions, with its type byte and body length.
private let allFrames: [[UInt8]] = Fixtures.frontend.map(\.encoded) + Fixtures.backend.map(\.encoded)

/// `frame` with its length word replaced.
private func withLength(_ frame: [UInt8], _ length: Int32) -> [UInt8] {
    let be = UInt32(bitPattern: length)
    return [frame[0], UInt8(be >> 24), UInt8(be >> 16 & 0xff), UInt8(be >> 8 & 0xff), UInt8(be & 0xff)]
        + frame[5...]
}

@Suite("Length words of every message")
struct LengthWordTests {
    @Test(arguments: allFrames)
    func lengthBelowFourOrNegativeIsInvalid(_ frame: [UInt8]) {
        for length: Int32 in [3, 0, -1, Int32.min] {
            var decoder = FrameDecoder()
            decoder.feed(withLength(frame, length))
            #expect(throws: WireDecodingError(messageID: frame[0], offset: 0, reason: .invalidLength(Int(length)))) {
                try decoder.next()
            }
        }
    }

    @Test(arguments: allFrames)
    func bodyOverTheLimitIsRefusedAndAtTheLimitAccepted(_ frame: [UInt8]) throws {
        let bodyLength = frame.count - 5
        var atLimit = FrameDecoder(maxBodyLength: bodyLength)
        atLimit.feed(frame)
        #expect(try atLimit.next().map { Array($0.body) } == Array(frame[5...]))
        guard bodyLength > 0 else { return }
        var overLimit = FrameDecoder(maxBodyLength: bodyLength - 1)
        overLimit.feed(Array(frame[..<5]))
        #expect(throws: WireDecodingError(messageID: frame[0], offset: 0,
                                          reason: .messageTooLarge(declared: bodyLength, limit: bodyLength - 1))) {
            try overLimit.next()
        }
    }

    @Test(arguments: allFrames)
    func gigabyteAnnouncementIsRefusedFromTheHeaderAlone(_ frame: [UInt8]) {
        var decoder = FrameDecoder(maxBodyLength: 1 << 20)
        decoder.feed(Array(withLength(frame, Int32.max)[..<5]))
        #expect(throws: WireDecodingError(messageID: frame[0], offset: 0,
                                          reason: .messageTooLarge(declared: Int(Int32.max) - 4, limit: 1 << 20))) {
            try decoder.next()
        }
    }

    @Test(arguments: allFrames)
    func longerLengthWaitsForMoreBytes(_ frame: [UInt8]) throws {
        var decoder = FrameDecoder()
        decoder.feed(withLength(frame, Int32(frame.count)))
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedBytes == frame.count)
        decoder.feed([0])
        #expect(try decoder.next().map { $0.body.count } == frame.count - 4)
    }

    @Test(arguments: Fixtures.startup)
    func startupPacketOverTheLimitIsRefused(_ packet: StartupPacket) throws {
        let bytes = encoded(packet)
        var atLimit = FrameDecoder(phase: .startup, maxStartupLength: bytes.count)
        atLimit.feed(bytes)
        #expect(try atLimit.nextStartupPacket() == packet)
        var overLimit = FrameDecoder(phase: .startup, maxStartupLength: bytes.count - 1)
        overLimit.feed(Array(bytes[..<4]))
        #expect(throws: WireDecodingError(messageID: nil, offset: 0,
                                          reason: .messageTooLarge(declared: bytes.count, limit: bytes.count - 1))) {
            try overLimit.nextStartupPacket()
        }
    }

    @Test func garbageBeforeStartupIsRefused() {
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: WireDecodingError(messageID: nil, offset: 0,
                                          reason: .messageTooLarge(declared: 0x4745_5420, limit: 10_000))) {
            try decoder.nextStartupPacket()
        }
    }
}
