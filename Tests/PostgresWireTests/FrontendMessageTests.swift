import PostgresWire
import Testing

@Suite("Frontend messages")
struct FrontendMessageTests {
    @Test(arguments: Fixtures.frontend)
    func roundTrip(_ message: FrontendMessage) throws {
        let bytes = message.encoded
        #expect(bytes[0] == message.id.rawValue)
        let length = Int(Int32(bytes[1]) << 24 | Int32(bytes[2]) << 16 | Int32(bytes[3]) << 8 | Int32(bytes[4]))
        #expect(length == bytes.count - 1)
        #expect(try FrontendMessage.decode(id: bytes[0], body: Array(bytes[5...])) == message)
    }

    @Test(arguments: Fixtures.frontend)
    func splitAtEveryByteBoundary(_ message: FrontendMessage) throws {
        let bytes = message.encoded
        for cut in 0...bytes.count {
            let got = try decodeInChunks(bytes, cuts: [cut]) { try $0.nextFrontendMessage() }
            #expect(got == [message], "cut at \(cut)")
        }
        let byteByByte = try decodeInChunks(bytes, cuts: Array(1..<bytes.count)) { try $0.nextFrontendMessage() }
        #expect(byteByByte == [message])
    }

    @Test(arguments: Fixtures.frontend)
    func everyShorterBodyFailsOrIsOpaque(_ message: FrontendMessage) throws {
        let bytes = message.encoded
        let body = Array(bytes[5...])
        for n in 0..<body.count {
            if Fixtures.hasOpaqueTail(message) {
                #expect((try? FrontendMessage.decode(id: bytes[0], body: Array(body[..<n]))) != message)
            } else {
                #expect(throws: WireDecodingError.self, "body cut to \(n) bytes") {
                    try FrontendMessage.decode(id: bytes[0], body: Array(body[..<n]))
                }
            }
        }
    }

    @Test(arguments: Fixtures.frontend.filter { !Fixtures.hasOpaqueTail($0) })
    func trailingByteIsReportedAtTheEndOfTheBody(_ message: FrontendMessage) {
        let bytes = message.encoded
        let body = Array(bytes[5...]) + [0]
        #expect(throws: WireDecodingError(messageID: bytes[0], offset: body.count - 1, reason: .trailingBytes(1))) {
            try FrontendMessage.decode(id: bytes[0], body: body)
        }
    }

    @Test(arguments: (0...255).map(UInt8.init).filter { FrontendMessageID(rawValue: $0) == nil })
    func unknownTypeByte(_ id: UInt8) {
        #expect(throws: WireDecodingError(messageID: id, offset: 0, reason: .unknownMessageType)) {
            try FrontendMessage.decode(id: id, body: [])
        }
    }

    /// Hand-written frames from "Message Formats", so the encoder and the decoder cannot be
    /// wrong the same way.
    @Test(arguments: [
        (FrontendMessage.query("SELECT 1"), "51 00 00 00 0d 53 45 4c 45 43 54 20 31 00"),
        (.sync, "53 00 00 00 04"),
        (.flush, "48 00 00 00 04"),
        (.terminate, "58 00 00 00 04"),
        (.execute(portal: "", maxRows: 0), "45 00 00 00 09 00 00 00 00 00"),
        (.parse(name: "", query: "SELECT $1", parameterTypes: [23]),
         "50 00 00 00 15 00 53 45 4c 45 43 54 20 24 31 00 00 01 00 00 00 17"),
        (.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [Array("42".utf8)],
                     resultFormats: [1])),
         "42 00 00 00 14 00 00 00 00 00 01 00 00 00 02 34 32 00 01 00 01"),
        (.bind(.init(portal: "", statement: "s", parameterFormats: [1], parameters: [nil], resultFormats: [])),
         "42 00 00 00 13 00 73 00 00 01 00 01 00 01 ff ff ff ff 00 00"),
        (.describe(kind: UInt8(ascii: "P"), name: ""), "44 00 00 00 06 50 00"),
        (.close(kind: UInt8(ascii: "S"), name: "s1"), "43 00 00 00 08 53 73 31 00"),
        (.copyDone, "63 00 00 00 04"),
        (.copyFail("x"), "66 00 00 00 06 78 00"),
        (.copyData([1, 2]), "64 00 00 00 06 01 02"),
        (.functionCall(.init(functionOID: 7, argumentFormats: [], arguments: [[5]], resultFormat: 1)),
         "46 00 00 00 13 00 00 00 07 00 00 00 01 00 00 00 01 05 00 01"),
    ])
    func byteExact(_ message: FrontendMessage, _ wire: String) throws {
        let bytes = hex(wire)
        #expect(message.encoded == bytes)
        #expect(try FrontendMessage.decode(id: bytes[0], body: Array(bytes[5...])) == message)
    }

    /// PostgreSQL reads parameter counts as unsigned 16-bit: up to 65,535 parameters.
    @Test func bindWithMoreThan32767Parameters() throws {
        let parameters: [[UInt8]?] = (0..<40_000).map { $0 % 2 == 0 ? [UInt8(truncatingIfNeeded: $0)] : nil }
        let bind = FrontendMessage.bind(.init(portal: "", statement: "big", parameterFormats: [1],
                                              parameters: parameters, resultFormats: []))
        let bytes = bind.encoded
        #expect(Array(bytes[5..<15]) == hex("00 62 69 67 00 00 01 00 01 9c"))
        #expect(bytes[15] == 0x40)
        #expect(try FrontendMessage.decode(id: bytes[0], body: Array(bytes[5...])) == bind)
        let parse = FrontendMessage.parse(name: "", query: "SELECT", parameterTypes: Array(repeating: 23, count: 65_535))
        #expect(try FrontendMessage.decode(id: 0x50, body: Array(parse.encoded[5...])) == parse)
    }

    @Test func truncatedFieldsReportTheirOffset() {
        let execute = FrontendMessageID.execute.rawValue
        #expect(throws: WireDecodingError(messageID: execute, offset: 1, reason: .truncated)) {
            try FrontendMessage.decode(id: execute, body: [0, 0, 0, 0])
        }
        let query = FrontendMessageID.query.rawValue
        #expect(throws: WireDecodingError(messageID: query, offset: 0, reason: .missingTerminator)) {
            try FrontendMessage.decode(id: query, body: Array("SELECT 1".utf8))
        }
        // Bind: portal "", statement "", no formats, one parameter announcing 5 bytes, 2 present.
        let bind = FrontendMessageID.bind.rawValue
        #expect(throws: WireDecodingError(messageID: bind, offset: 10, reason: .truncated)) {
            try FrontendMessage.decode(id: bind, body: [0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0x61, 0x62])
        }
        #expect(throws: WireDecodingError(messageID: bind, offset: 6, reason: .invalidLength(-2))) {
            try FrontendMessage.decode(id: bind, body: [0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe])
        }
        let parse = FrontendMessageID.parse.rawValue
        #expect(throws: WireDecodingError(messageID: parse, offset: 6, reason: .truncated)) {
            try FrontendMessage.decode(id: parse, body: [0x73, 0, 0x78, 0, 0xff, 0xff])
        }
        let describe = FrontendMessageID.describe.rawValue
        #expect(throws: WireDecodingError(messageID: describe, offset: 0,
                                          reason: .invalidValue("Describe target must be 'S' or 'P'"))) {
            try FrontendMessage.decode(id: describe, body: [0x58, 0])
        }
        let sync = FrontendMessageID.sync.rawValue
        #expect(throws: WireDecodingError(messageID: sync, offset: 0, reason: .trailingBytes(1))) {
            try FrontendMessage.decode(id: sync, body: [0])
        }
    }
}
