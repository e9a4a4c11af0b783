import PostgresWire
import Testing

@Suite("Answer to SSLRequest and GSSENCRequest")
struct EncryptionResponseTests {
    @Test(arguments: [("S", EncryptionResponse.accepted), ("G", .accepted), ("N", .refused)])
    func singleByteAnswers(_ byte: String, _ expected: EncryptionResponse) throws {
        var decoder = FrameDecoder()
        #expect(try decoder.nextEncryptionResponse() == nil)
        decoder.feed(Array(byte.utf8))
        #expect(try decoder.nextEncryptionResponse() == expected)
        #expect(decoder.bufferedBytes == 0)
        #expect(decoder.streamOffset == 1)
    }

    @Test func refusedAnswerIsFollowedByTypedMessages() throws {
        var decoder = FrameDecoder()
        decoder.feed(Array("N".utf8) + BackendMessage.authentication(.ok).encoded)
        #expect(try decoder.nextEncryptionResponse() == .refused)
        #expect(try decoder.nextBackendMessage() == .authentication(.ok))
    }

    @Test func errorResponseInsteadOfAnAnswerStaysReadable() throws {
        let error = BackendMessage.errorResponse(ErrorFields(severity: "FATAL", sqlState: "08P01",
                                                             message: "unsupported frontend protocol"))
        var decoder = FrameDecoder()
        decoder.feed(error.encoded)
        #expect(throws: WireDecodingError(messageID: 0x45, offset: 0,
                                          reason: .invalidValue("not an answer to SSLRequest or GSSENCRequest"))) {
            try decoder.nextEncryptionResponse()
        }
        #expect(try decoder.nextBackendMessage() == error)
    }

    @Test func bytesInjectedAfterAcceptanceAreVisible() throws {
        var decoder = FrameDecoder()
        decoder.feed(Array("S".utf8) + BackendMessage.authentication(.ok).encoded)
        #expect(try decoder.nextEncryptionResponse() == .accepted)
        #expect(decoder.bufferedBytes == 9)
    }
}
