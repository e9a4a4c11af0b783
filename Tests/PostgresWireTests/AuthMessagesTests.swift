import PostgresWire
import Testing

@Suite("'p' message views")
struct AuthMessagesTests {
    static let p = FrontendMessageID.password.rawValue

    /// Decodes a whole frame as the generic 'p' message and returns its body.
    func passwordBody(_ frame: [UInt8]) throws -> [UInt8] {
        #expect(frame[0] == Self.p)
        guard case .passwordData(let body) = try FrontendMessage.decode(id: frame[0], body: Array(frame[5...])) else {
            Issue.record("not a 'p' message")
            return []
        }
        return body
    }

    @Test func passwordMessageByteExact() throws {
        let wire = hex("70 00 00 00 0b 73 65 63 72 65 74 00")
        #expect(PasswordMessage(password: "secret").encoded == wire)
        #expect(try PasswordMessage(passwordData: passwordBody(wire)) == PasswordMessage(password: "secret"))
    }

    @Test func md5PasswordRoundTrip() throws {
        let message = PasswordMessage(password: "md5" + String(repeating: "0f", count: 16))
        #expect(try PasswordMessage(passwordData: passwordBody(message.encoded)) == message)
    }

    @Test func passwordMessageRejectsMissingTerminatorAndTrailingBytes() {
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 0, reason: .missingTerminator)) {
            try PasswordMessage(passwordData: Array("secret".utf8))
        }
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 7, reason: .trailingBytes(2))) {
            try PasswordMessage(passwordData: Array("secret\0xy".utf8))
        }
    }

    @Test func saslInitialResponseByteExact() throws {
        let wire = hex("70 00 00 00 21 53 43 52 41 4d 2d 53 48 41 2d 32 35 36 00 00 00 00 0b"
                       + " 6e 2c 2c 6e 3d 2c 72 3d 61 62 63")
        let message = SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: Array("n,,n=,r=abc".utf8))
        #expect(message.encoded == wire)
        #expect(try SASLInitialResponse(passwordData: passwordBody(wire)) == message)
    }

    @Test(arguments: [nil, [], Array("n,,n=,r=x".utf8)] as [[UInt8]?])
    func saslInitialResponseRoundTrip(_ data: [UInt8]?) throws {
        let message = SASLInitialResponse(mechanism: "SCRAM-SHA-256-PLUS", data: data)
        let frame = message.encoded
        for cut in 0...frame.count {
            let bodies = try decodeInChunks(frame, cuts: [cut]) { try $0.next().map { Array($0.body) } }
            #expect(try bodies.map { try SASLInitialResponse(passwordData: $0) } == [message])
        }
    }

    @Test func saslInitialResponseWithoutDataIsMinusOne() {
        #expect(SASLInitialResponse(mechanism: "X", data: nil).encoded == hex("70 00 00 00 0a 58 00 ff ff ff ff"))
    }

    @Test func saslInitialResponseRejectsBadLengths() {
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 2, reason: .invalidLength(-2))) {
            try SASLInitialResponse(passwordData: hex("58 00 ff ff ff fe"))
        }
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 6, reason: .truncated)) {
            try SASLInitialResponse(passwordData: hex("58 00 00 00 00 03 61"))
        }
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 2, reason: .truncated)) {
            try SASLInitialResponse(passwordData: hex("58 00 00 00"))
        }
        #expect(throws: WireDecodingError(messageID: Self.p, offset: 7, reason: .trailingBytes(1))) {
            try SASLInitialResponse(passwordData: hex("58 00 00 00 00 01 61 62"))
        }
    }

    @Test func saslResponseAndGSSResponseCarryRawBytes() throws {
        let final = Array("c=biws,r=abc,p=cHJvb2Y=".utf8)
        let sasl = SASLResponse(data: final)
        #expect(sasl.encoded == [Self.p, 0, 0, 0, UInt8(4 + final.count)] + final)
        #expect(SASLResponse(passwordData: try passwordBody(sasl.encoded)) == sasl)
        let token: [UInt8] = [0x60, 0x82, 0x00, 0xff]
        let gss = GSSResponse(data: token)
        #expect(gss.encoded == hex("70 00 00 00 08 60 82 00 ff"))
        #expect(GSSResponse(passwordData: try passwordBody(gss.encoded)[...]) == gss)
    }

    @Test func encodersAppendAfterExistingBytes() throws {
        var out = ByteBuffer()
        FrontendMessage.sync.encode(into: &out)
        PasswordMessage(password: "a").encode(into: &out)
        SASLResponse(data: [1]).encode(into: &out)
        #expect(Array(out.readableView) == hex("53 00 00 00 04 70 00 00 00 06 61 00 70 00 00 00 05 01"))
    }
}
