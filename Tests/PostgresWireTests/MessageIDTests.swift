import PostgresWire
import Testing

@Suite("Message type bytes") struct MessageIDTests {
    /// The inlined `init(byte:)` and the synthesized `init(rawValue:)` agree on every byte.
    @Test func byteAndRawValueAgree() {
        for b in 0...255 {
            let byte = UInt8(b)
            #expect(FrontendMessageID(byte: byte) == FrontendMessageID(rawValue: byte), "frontend \(b)")
            #expect(BackendMessageID(byte: byte) == BackendMessageID(rawValue: byte), "backend \(b)")
        }
        #expect(FrontendMessageID.allCases.allSatisfy { FrontendMessageID(byte: $0.rawValue) == $0 })
        #expect(BackendMessageID.allCases.allSatisfy { BackendMessageID(byte: $0.rawValue) == $0 })
    }
}
