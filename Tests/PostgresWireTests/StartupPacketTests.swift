import PostgresWire
import Testing

/// Pulls startup packets until the StartupMessage ends the startup phase.
private func pullStartupPacket(_ decoder: inout FrameDecoder) throws -> StartupPacket? {
    decoder.phase == .startup ? try decoder.nextStartupPacket() : nil
}

@Suite("Startup-phase packets")
struct StartupPacketTests {
    @Test(arguments: Fixtures.startup)
    func roundTrip(_ packet: StartupPacket) throws {
        let bytes = encoded(packet)
        #expect(try StartupPacket.decode(bytes[...]) == packet)
        #expect(try Framing.peekStartupLength(bytes[...]) == bytes.count)
    }

    @Test(arguments: Fixtures.startup)
    func splitAtEveryByteBoundary(_ packet: StartupPacket) throws {
        let bytes = encoded(packet)
        for cut in 0...bytes.count {
            let got = try decodeInChunks(bytes, cuts: [cut], phase: .startup, pullStartupPacket)
            #expect(got == [packet], "cut at \(cut)")
        }
        let byteByByte = try decodeInChunks(bytes, cuts: Array(1..<bytes.count), phase: .startup,
                                            pullStartupPacket)
        #expect(byteByByte == [packet])
    }

    @Test(arguments: [
        (StartupPacket.sslRequest, "00 00 00 08 04 d2 16 2f"),
        (.gssEncRequest, "00 00 00 08 04 d2 16 30"),
        (.cancelRequest(processID: 1234, secretKey: 5678), "00 00 00 10 04 d2 16 2e 00 00 04 d2 00 00 16 2e"),
        (.startup(protocolVersion: StartupCode.protocol3, parameters: [("user", "postgres")]),
         "00 00 00 17 00 03 00 00 75 73 65 72 00 70 6f 73 74 67 72 65 73 00 00"),
    ])
    func byteExact(_ packet: StartupPacket, _ wire: String) throws {
        let bytes = hex(wire)
        #expect(encoded(packet) == bytes)
        #expect(try StartupPacket.decode(bytes[...]) == packet)
    }

    @Test func packetsOverTenThousandBytesAreRefused() throws {
        let header = hex("00 00 27 11")
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(header)
        #expect(throws: WireDecodingError(messageID: nil, offset: 0,
                                          reason: .messageTooLarge(declared: 10_001, limit: 10_000))) {
            try decoder.nextStartupPacket()
        }
    }

    @Test func aPacketOfExactlyTenThousandBytesIsAccepted() throws {
        // 4 length + 4 version + "user\0" + value + NUL + final NUL = 10,000.
        let value = String(repeating: "x", count: 10_000 - 4 - 4 - 5 - 1 - 1)
        let packet = StartupPacket.startup(protocolVersion: StartupCode.protocol3, parameters: [("user", value)])
        let bytes = encoded(packet)
        #expect(bytes.count == 10_000)
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(bytes)
        #expect(try decoder.nextStartupPacket() == packet)
    }

    @Test(arguments: [
        ("00 00 00 07 00 03 00", 7),
        ("00 00 00 00", 0),
        ("ff ff ff ff", -1),
        ("80 00 00 00", Int(Int32.min)),
    ])
    func lengthsBelowEightAreRefused(_ wire: String, _ length: Int) {
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(hex(wire))
        #expect(throws: WireDecodingError(messageID: nil, offset: 0, reason: .invalidLength(length))) {
            try decoder.nextStartupPacket()
        }
    }

    @Test func malformedPackets() {
        #expect(throws: WireDecodingError(messageID: nil, offset: 8, reason: .trailingBytes(4))) {
            try StartupPacket.decode(hex("00 00 00 0c 04 d2 16 2f 00 00 00 00")[...])
        }
        #expect(throws: WireDecodingError(messageID: nil, offset: 12, reason: .truncated)) {
            try StartupPacket.decode(hex("00 00 00 0c 04 d2 16 2e 00 00 00 01")[...])
        }
        #expect(throws: WireDecodingError(messageID: nil, offset: 4,
                                          reason: .invalidValue("unsupported protocol version 2.0"))) {
            try StartupPacket.decode(hex("00 00 00 09 00 02 00 00 00")[...])
        }
        #expect(throws: WireDecodingError(messageID: nil, offset: 13, reason: .missingTerminator)) {
            try StartupPacket.decode(hex("00 00 00 0e 00 03 00 00 75 73 65 72 00 61")[...])
        }
        #expect(throws: WireDecodingError(messageID: nil, offset: 0, reason: .invalidLength(9))) {
            try StartupPacket.decode(hex("00 00 00 09 04 d2 16 2f")[...])
        }
    }

    @Test func startupMessageMovesTheDecoderToTypedMessages() throws {
        var stream = encoded(.sslRequest)
        stream += encoded(.startup(protocolVersion: StartupCode.protocol3, parameters: [("user", "app")]))
        stream += FrontendMessage.query("SELECT 1").encoded
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(stream)
        #expect(try decoder.nextStartupPacket() == .sslRequest)
        #expect(decoder.phase == .startup)
        #expect(try decoder.nextStartupPacket() == .startup(protocolVersion: StartupCode.protocol3,
                                                           parameters: [("user", "app")]))
        #expect(decoder.phase == .messages)
        #expect(try decoder.nextFrontendMessage() == .query("SELECT 1"))
        #expect(try decoder.nextFrontendMessage() == nil)
        #expect(decoder.streamOffset == stream.count)
    }

    @Test func phasesAreNotMixed() {
        var startup = FrameDecoder(phase: .startup)
        startup.feed(FrontendMessage.sync.encoded)
        #expect(throws: WireDecodingError.self) { try startup.next() }
        var typed = FrameDecoder(phase: .messages)
        typed.feed(encoded(.sslRequest))
        #expect(throws: WireDecodingError.self) { try typed.nextStartupPacket() }
    }
}

@Suite("Startup-phase handover")
struct StartupHandoverTests {
    @Test func bytesSentAheadOfTheTLSHandshakeAreVisible() throws {
        var decoder = FrameDecoder(phase: .startup)
        decoder.feed(encoded(.sslRequest) + FrontendMessage.query("SELECT 1").encoded)
        #expect(try decoder.nextStartupPacket() == .sslRequest)
        #expect(decoder.bufferedBytes == 14)
        #expect(Array(decoder.unconsumedBytes) == FrontendMessage.query("SELECT 1").encoded)
    }
}
