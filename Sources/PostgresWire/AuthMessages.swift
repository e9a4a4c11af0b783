/// Typed views of the 'p' frontend messages. PasswordMessage, SASLInitialResponse,
/// SASLResponse and GSSResponse share one type byte; which one a 'p' body holds follows from
/// the Authentication request the server sent last ("Message Formats"), so the frame decodes
/// to `FrontendMessage.passwordData` and the authentication state machine picks the view.
/// Each `encode(into:)` writes the whole frame: 'p', the length word, the body.

/// PasswordMessage: a cleartext or MD5-hashed password, answering AuthenticationCleartextPassword
/// or AuthenticationMD5Password.
public struct PasswordMessage: Equatable, Sendable {
    public var password: String

    public init(password: String) { self.password = password }

    /// Interprets the body of a 'p' frame: one NUL-terminated string and nothing after it.
    public init(passwordData body: ArraySlice<UInt8>) throws {
        var r = WireReader(body, messageID: FrontendMessageID.password.rawValue)
        password = try r.readCString()
        try r.expectEnd()
    }

    public init(passwordData body: [UInt8]) throws { try self.init(passwordData: body[...]) }

    public func encode(into out: inout ByteBuffer) {
        writePasswordFrame(into: &out) { $0.writeCString(password) }
    }

    public var encoded: [UInt8] { encodedFrame(encode(into:)) }
}

/// SASLInitialResponse: the mechanism the client chose and its optional first message
/// (for SCRAM-SHA-256, the client-first-message).
public struct SASLInitialResponse: Equatable, Sendable {
    public var mechanism: String
    /// Mechanism-specific data; nil is sent as length -1 ("no initial response").
    public var data: [UInt8]?

    public init(mechanism: String, data: [UInt8]?) {
        self.mechanism = mechanism
        self.data = data
    }

    /// Interprets the body of a 'p' frame: String mechanism, Int32 length (-1 for none),
    /// that many bytes.
    public init(passwordData body: ArraySlice<UInt8>) throws {
        var r = WireReader(body, messageID: FrontendMessageID.password.rawValue)
        mechanism = try r.readCString()
        data = try r.readNullableBytes()
        try r.expectEnd()
    }

    public init(passwordData body: [UInt8]) throws { try self.init(passwordData: body[...]) }

    public func encode(into out: inout ByteBuffer) {
        writePasswordFrame(into: &out) { out in
            out.writeCString(mechanism)
            writeNullableBytes(data, &out)
        }
    }

    public var encoded: [UInt8] { encodedFrame(encode(into:)) }
}

/// SASLResponse: a later SASL message from the client (for SCRAM, the client-final-message).
/// The body is the raw mechanism data.
public struct SASLResponse: Equatable, Sendable {
    public var data: [UInt8]

    public init(data: [UInt8]) { self.data = data }

    public init(passwordData body: ArraySlice<UInt8>) { data = Array(body) }
    public init(passwordData body: [UInt8]) { data = body }

    public func encode(into out: inout ByteBuffer) {
        writePasswordFrame(into: &out) { $0.append(data) }
    }

    public var encoded: [UInt8] { encodedFrame(encode(into:)) }
}

/// GSSResponse: a GSSAPI or SSPI token from the client; the body is the raw token.
public struct GSSResponse: Equatable, Sendable {
    public var data: [UInt8]

    public init(data: [UInt8]) { self.data = data }

    public init(passwordData body: ArraySlice<UInt8>) { data = Array(body) }
    public init(passwordData body: [UInt8]) { data = body }

    public func encode(into out: inout ByteBuffer) {
        writePasswordFrame(into: &out) { $0.append(data) }
    }

    public var encoded: [UInt8] { encodedFrame(encode(into:)) }
}

private func writePasswordFrame(into out: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
    let start = out.writerIndex
    out.writeByte(FrontendMessageID.password.rawValue)
    out.writeInteger(Int32(0))
    body(&out)
    out.setInt32(Int32(out.writerIndex - start - 1), at: start + 1)
}

private func encodedFrame(_ encode: (inout ByteBuffer) -> Void) -> [UInt8] {
    var b = ByteBuffer()
    encode(&b)
    return Array(b.readableView)
}
