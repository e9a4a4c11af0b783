import PostgresWire
import ProxyCore

/// Bytes of a UTF-8 string, for SCRAM messages and 'p' bodies.
func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Text of bytes, for readable expectations on SCRAM messages.
func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

/// The body of a whole frame (type byte and length word dropped), checking the length word.
func body(of frame: [UInt8]) -> [UInt8] {
    precondition(frame.count >= 5)
    let n = Int(frame[1]) << 24 | Int(frame[2]) << 16 | Int(frame[3]) << 8 | Int(frame[4])
    precondition(n == frame.count - 1, "length word \(n) does not match a \(frame.count)-byte frame")
    return Array(frame[5...])
}

/// Decodes one whole backend frame (as ClientAuthenticator emits them).
func backendMessage(_ frame: [UInt8]) throws -> BackendMessage {
    try BackendMessage.decode(id: frame[0], body: body(of: frame)[...])
}

/// Splits a byte stream into its frames' type bytes.
func frameIDs(_ bytes: [UInt8]) -> [UInt8] {
    var ids: [UInt8] = []
    var i = 0
    while i + 5 <= bytes.count {
        let n = Int(bytes[i + 1]) << 24 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 8 | Int(bytes[i + 4])
        ids.append(bytes[i])
        i += 1 + n
    }
    precondition(i == bytes.count, "trailing partial frame")
    return ids
}

/// A NUL-terminated string, the body of a PasswordMessage.
func cString(_ s: String) -> [UInt8] { utf8(s) + [0] }

/// The body of a SASLInitialResponse: mechanism, Int32 length, data.
func saslInitialBody(_ mechanism: String, _ data: [UInt8]) -> [UInt8] {
    body(of: SASLInitialResponse(mechanism: mechanism, data: data).encoded)
}
