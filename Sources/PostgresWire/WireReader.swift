/// Reads big-endian protocol fields from a message body, throwing `WireDecodingError`
/// with the offset of the field that did not fit.
public struct WireReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var offset: Int
    let messageID: UInt8?

    public init(_ bytes: ArraySlice<UInt8>, messageID: UInt8? = nil) {
        self.bytes = bytes
        self.offset = bytes.startIndex
        self.messageID = messageID
    }

    public init(_ bytes: [UInt8], messageID: UInt8? = nil) {
        self.init(bytes[...], messageID: messageID)
    }

    public var remaining: Int { bytes.endIndex - offset }
    public var isAtEnd: Bool { offset == bytes.endIndex }

    func fail(_ reason: WireDecodingError.Reason) -> WireDecodingError {
        WireDecodingError(messageID: messageID, offset: offset - bytes.startIndex, reason: reason)
    }

    /// An error about the field that started at absolute index `fieldStart`.
    func fail(_ reason: WireDecodingError.Reason, at fieldStart: Int) -> WireDecodingError {
        WireDecodingError(messageID: messageID, offset: fieldStart - bytes.startIndex, reason: reason)
    }

    /// Reads a 16-bit element count. The docs say Int16, but PostgreSQL reads and writes
    /// counts as unsigned (pq_getmsgint(…, 2)): a Bind may carry up to 65,535 parameters.
    mutating func readCount() throws -> Int {
        Int(UInt16(bitPattern: try readInt16()))
    }

    public mutating func readUInt8() throws -> UInt8 {
        guard remaining >= 1 else { throw fail(.truncated) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readInt16() throws -> Int16 {
        guard remaining >= 2 else { throw fail(.truncated) }
        let v = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        offset += 2
        return Int16(bitPattern: v)
    }

    public mutating func readInt32() throws -> Int32 {
        guard remaining >= 4 else { throw fail(.truncated) }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return Int32(bitPattern: v)
    }

    /// Reads a NUL-terminated string; the terminator is consumed, not returned. Bytes that
    /// are not UTF-8 (a client_encoding such as LATIN1) become U+FFFD, so code that forwards
    /// a message must forward its original bytes, not a re-encoding of the decoded value.
    public mutating func readCString() throws -> String {
        guard let end = bytes[offset...].firstIndex(of: 0) else { throw fail(.missingTerminator) }
        let s = String(decoding: bytes[offset..<end], as: UTF8.self)
        offset = end + 1
        return s
    }

    public mutating func readBytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0 else { throw fail(.invalidLength(Int(n))) }
        guard remaining >= n else { throw fail(.truncated) }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    /// Reads an Int32 length then that many bytes; -1 means NULL.
    public mutating func readNullableBytes() throws -> [UInt8]? {
        let start = offset
        let n = try readInt32()
        if n == -1 { return nil }
        guard n >= 0 else { throw fail(.invalidLength(Int(n)), at: start) }
        return try readBytes(Int(n))
    }

    public mutating func readRest() -> [UInt8] {
        defer { offset = bytes.endIndex }
        return Array(bytes[offset...])
    }

    /// Fails unless the whole body was consumed.
    public func expectEnd() throws {
        guard isAtEnd else { throw fail(.trailingBytes(remaining)) }
    }
}

/// A message body that does not match its declared format.
public struct WireDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// A field runs past the end of the body.
        case truncated
        /// A String field has no NUL before the end of the body.
        case missingTerminator
        /// A length word or count that cannot be right (below 4 for a frame, below 8 for a
        /// startup packet, negative for a value, not the packet's size).
        case invalidLength(Int)
        /// Bytes left after the last field.
        case trailingBytes(Int)
        /// A type byte this direction of the protocol does not define.
        case unknownMessageType
        /// A length over the configured cap: the body length for a typed frame, the whole
        /// packet length for a startup packet.
        case messageTooLarge(declared: Int, limit: Int)
        /// A field whose value the protocol does not allow.
        case invalidValue(String)
    }

    /// The message type byte, when the message has one.
    public let messageID: UInt8?
    /// Offset inside the message body where decoding failed.
    public let offset: Int
    public let reason: Reason

    public init(messageID: UInt8?, offset: Int, reason: Reason) {
        self.messageID = messageID
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        let what: String
        if let id = messageID {
            let ch = (0x20..<0x7f).contains(id) ? "'\(Character(UnicodeScalar(id)))'" : "0x\(String(id, radix: 16))"
            what = "message \(ch)"
        } else {
            what = "startup packet"
        }
        switch reason {
        case .truncated: return "\(what) is truncated at offset \(offset)"
        case .missingTerminator: return "\(what) has a string without a NUL terminator at offset \(offset)"
        case .invalidLength(let n): return "\(what) has an invalid length \(n) at offset \(offset)"
        case .trailingBytes(let n): return "\(what) has \(n) unexpected trailing bytes"
        case .unknownMessageType: return "\(what) has an unknown type"
        case .messageTooLarge(let d, let l): return "\(what) declares \(d) bytes, over the limit of \(l)"
        case .invalidValue(let s): return "\(what): \(s)"
        }
    }
}
