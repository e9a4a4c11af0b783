/// The server's one-byte, unframed answer to SSLRequest ('S' or 'N') or GSSENCRequest
/// ('G' or 'N'), "Message Flow: SSL Session Encryption" and "GSSAPI Session Encryption".
public enum EncryptionResponse: Equatable, Sendable {
    /// 'S' or 'G': start the TLS or GSSAPI handshake now.
    case accepted
    /// 'N': continue unencrypted, or close, as the connection's policy says.
    case refused
}

extension FrameDecoder {
    /// Reads the answer to an SSLRequest or GSSENCRequest, or returns nil if no byte has
    /// arrived. Any other byte is left buffered and reported as `.invalidValue`: a server
    /// that fails before answering sends an ErrorResponse, which `nextBackendMessage()` then
    /// reads. After `.accepted`, `bufferedBytes` must be zero: bytes that arrived with the
    /// answer were not encrypted and may have been injected (CVE-2021-23222).
    public mutating func nextEncryptionResponse() throws -> EncryptionResponse? {
        guard let byte = unconsumedBytes.first else { return nil }
        let response: EncryptionResponse
        switch byte {
        case UInt8(ascii: "S"), UInt8(ascii: "G"): response = .accepted
        case UInt8(ascii: "N"): response = .refused
        default:
            throw WireDecodingError(messageID: byte, offset: 0,
                                    reason: .invalidValue("not an answer to SSLRequest or GSSENCRequest"))
        }
        skip(1)
        return response
    }
}
