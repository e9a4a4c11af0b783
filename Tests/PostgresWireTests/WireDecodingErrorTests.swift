import PostgresWire
import Testing

@Suite("Decoding error descriptions")
struct WireDecodingErrorTests {
    @Test(arguments: [
        (WireDecodingError(messageID: 0x51, offset: 3, reason: .truncated), "message 'Q' is truncated at offset 3"),
        (WireDecodingError(messageID: 0x01, offset: 0, reason: .unknownMessageType), "message 0x1 has an unknown type"),
        (WireDecodingError(messageID: nil, offset: 0, reason: .messageTooLarge(declared: 10_001, limit: 10_000)),
         "startup packet declares 10001 bytes, over the limit of 10000"),
        (WireDecodingError(messageID: 0x44, offset: 2, reason: .invalidLength(-7)),
         "message 'D' has an invalid length -7 at offset 2"),
        (WireDecodingError(messageID: 0x53, offset: 0, reason: .trailingBytes(1)), "message 'S' has 1 unexpected trailing bytes"),
        (WireDecodingError(messageID: 0x43, offset: 0, reason: .missingTerminator),
         "message 'C' has a string without a NUL terminator at offset 0"),
        (WireDecodingError(messageID: 0x5A, offset: 0, reason: .invalidValue("unknown transaction status 88")),
         "message 'Z': unknown transaction status 88"),
    ])
    func describesTheMessageAndOffset(_ error: WireDecodingError, _ text: String) {
        #expect(error.description == text)
    }
}
