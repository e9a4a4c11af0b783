import PostgresWire
import Testing

@Suite("Backend messages")
struct BackendMessageTests {
    @Test(arguments: Fixtures.backend)
    func roundTrip(_ message: BackendMessage) throws {
        let bytes = message.encoded
        #expect(bytes[0] == message.id.rawValue)
        let length = Int(Int32(bytes[1]) << 24 | Int32(bytes[2]) << 16 | Int32(bytes[3]) << 8 | Int32(bytes[4]))
        #expect(length == bytes.count - 1)
        #expect(try BackendMessage.decode(id: bytes[0], body: Array(bytes[5...])) == message)
    }

    @Test(arguments: Fixtures.backend)
    func splitAtEveryByteBoundary(_ message: BackendMessage) throws {
        let bytes = message.encoded
        for cut in 0...bytes.count {
            let got = try decodeInChunks(bytes, cuts: [cut]) { try $0.nextBackendMessage() }
            #expect(got == [message], "cut at \(cut)")
        }
        let byteByByte = try decodeInChunks(bytes, cuts: Array(1..<bytes.count)) { try $0.nextBackendMessage() }
        #expect(byteByByte == [message])
    }

    @Test(arguments: Fixtures.backend)
    func everyShorterBodyFailsOrIsOpaque(_ message: BackendMessage) throws {
        let bytes = message.encoded
        let body = Array(bytes[5...])
        for n in 0..<body.count {
            if Fixtures.hasOpaqueTail(message) {
                #expect((try? BackendMessage.decode(id: bytes[0], body: Array(body[..<n]))) != message)
            } else {
                #expect(throws: WireDecodingError.self, "body cut to \(n) bytes") {
                    try BackendMessage.decode(id: bytes[0], body: Array(body[..<n]))
                }
            }
        }
    }

    @Test(arguments: Fixtures.backend.filter { !Fixtures.hasOpaqueTail($0) })
    func trailingByteIsReportedAtTheEndOfTheBody(_ message: BackendMessage) {
        let bytes = message.encoded
        let body = Array(bytes[5...]) + [0]
        #expect(throws: WireDecodingError(messageID: bytes[0], offset: body.count - 1, reason: .trailingBytes(1))) {
            try BackendMessage.decode(id: bytes[0], body: body)
        }
    }

    @Test(arguments: (0...255).map(UInt8.init).filter { BackendMessageID(rawValue: $0) == nil })
    func unknownTypeByte(_ id: UInt8) {
        #expect(throws: WireDecodingError(messageID: id, offset: 0, reason: .unknownMessageType)) {
            try BackendMessage.decode(id: id, body: [])
        }
    }

    /// Hand-written frames from "Message Formats".
    @Test(arguments: [
        (BackendMessage.readyForQuery(.idle), "5a 00 00 00 05 49"),
        (.readyForQuery(.inTransaction), "5a 00 00 00 05 54"),
        (.authentication(.ok), "52 00 00 00 08 00 00 00 00"),
        (.authentication(.cleartextPassword), "52 00 00 00 08 00 00 00 03"),
        (.authentication(.md5Password(salt: [1, 2, 3, 4])), "52 00 00 00 0c 00 00 00 05 01 02 03 04"),
        (.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])),
         "52 00 00 00 17 00 00 00 0a 53 43 52 41 4d 2d 53 48 41 2d 32 35 36 00 00"),
        (.authentication(.saslFinal([0x76, 0x3d])), "52 00 00 00 0a 00 00 00 0c 76 3d"),
        (.backendKeyData(processID: 1234, secretKey: 5678), "4b 00 00 00 0c 00 00 04 d2 00 00 16 2e"),
        (.commandComplete(tag: "SELECT 1"), "43 00 00 00 0d 53 45 4c 45 43 54 20 31 00"),
        (.dataRow([Array("1".utf8), nil]), "44 00 00 00 0f 00 02 00 00 00 01 31 ff ff ff ff"),
        (.parameterStatus(name: "TimeZone", value: "UTC"),
         "53 00 00 00 11 54 69 6d 65 5a 6f 6e 65 00 55 54 43 00"),
        (.parseComplete, "31 00 00 00 04"),
        (.bindComplete, "32 00 00 00 04"),
        (.noData, "6e 00 00 00 04"),
        (.emptyQueryResponse, "49 00 00 00 04"),
        (.parameterDescription([23]), "74 00 00 00 0a 00 01 00 00 00 17"),
        (.rowDescription([.init(name: "a", tableOID: 0, columnAttribute: 0, dataTypeOID: 23,
                                dataTypeSize: 4, typeModifier: -1, format: 0)]),
         "54 00 00 00 1a 00 01 61 00 00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00 00"),
        (.errorResponse(ErrorFields(fields: [(UInt8(ascii: "S"), "ERROR"), (UInt8(ascii: "C"), "53300")])),
         "45 00 00 00 13 53 45 52 52 4f 52 00 43 35 33 33 30 30 00 00"),
        (.notificationResponse(processID: 1, channel: "c", payload: ""), "41 00 00 00 0b 00 00 00 01 63 00 00"),
        (.negotiateProtocolVersion(newestMinor: 0, unrecognized: ["_pq_.x"]),
         "76 00 00 00 13 00 00 00 00 00 00 00 01 5f 70 71 5f 2e 78 00"),
        (.copyOutResponse(.init(format: 0, columnFormats: [0])), "48 00 00 00 09 00 00 01 00 00"),
        (.functionCallResponse(nil), "56 00 00 00 08 ff ff ff ff"),
    ])
    func byteExact(_ message: BackendMessage, _ wire: String) throws {
        let bytes = hex(wire)
        #expect(message.encoded == bytes)
        #expect(try BackendMessage.decode(id: bytes[0], body: Array(bytes[5...])) == message)
    }

    @Test func malformedFieldsReportTheirOffset() {
        let key = BackendMessageID.backendKeyData.rawValue
        #expect(throws: WireDecodingError(messageID: key, offset: 4, reason: .truncated)) {
            try BackendMessage.decode(id: key, body: [0, 0, 0, 1, 0, 0, 0])
        }
        let row = BackendMessageID.dataRow.rawValue
        #expect(throws: WireDecodingError(messageID: row, offset: 6, reason: .truncated)) {
            try BackendMessage.decode(id: row, body: [0, 2, 0, 0, 0, 5, 0x61, 0x62])
        }
        // Counts are unsigned: ff ff announces 65,535 columns, none of which is present.
        #expect(throws: WireDecodingError(messageID: row, offset: 2, reason: .truncated)) {
            try BackendMessage.decode(id: row, body: [0xff, 0xff])
        }
        #expect(throws: WireDecodingError(messageID: row, offset: 2, reason: .invalidLength(-7))) {
            try BackendMessage.decode(id: row, body: [0, 1, 0xff, 0xff, 0xff, 0xf9])
        }
        let ready = BackendMessageID.readyForQuery.rawValue
        #expect(throws: WireDecodingError(messageID: ready, offset: 0, reason: .invalidValue("unknown transaction status 88"))) {
            try BackendMessage.decode(id: ready, body: [0x58])
        }
        #expect(throws: WireDecodingError(messageID: ready, offset: 1, reason: .trailingBytes(1))) {
            try BackendMessage.decode(id: ready, body: [0x49, 0x49])
        }
        let auth = BackendMessageID.authentication.rawValue
        #expect(throws: WireDecodingError(messageID: auth, offset: 0, reason: .invalidValue("unknown authentication code 6"))) {
            try BackendMessage.decode(id: auth, body: [0, 0, 0, 6])
        }
        #expect(throws: WireDecodingError(messageID: auth, offset: 4, reason: .truncated)) {
            try BackendMessage.decode(id: auth, body: [0, 0, 0, 5, 1, 2, 3])
        }
        let tag = BackendMessageID.commandComplete.rawValue
        #expect(throws: WireDecodingError(messageID: tag, offset: 0, reason: .missingTerminator)) {
            try BackendMessage.decode(id: tag, body: Array("SELECT 1".utf8))
        }
        let negotiate = BackendMessageID.negotiateProtocolVersion.rawValue
        #expect(throws: WireDecodingError(messageID: negotiate, offset: 4, reason: .invalidLength(-1))) {
            try BackendMessage.decode(id: negotiate, body: [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        }
    }

    @Test func errorFieldsAccessors() {
        let fields = ErrorFields(severity: "FATAL", sqlState: "53300", message: "too many clients",
                                 detail: "pool is full", hint: "retry later")
        #expect(fields.severity == "FATAL")
        #expect(fields.sqlState == "53300")
        #expect(fields.message == "too many clients")
        #expect(fields["D"] == "pool is full")
        #expect(fields["H"] == "retry later")
        #expect(fields["é"] == nil)
        #expect(fields["W"] == nil)
    }
}
