/// The header of one typed message at the front of a buffer.
public struct FrameHeader: Equatable, Sendable {
    /// Message type byte.
    public let id: UInt8
    /// Length of the body, excluding the type byte and the length word.
    public let bodyLength: Int
    /// Whole frame length on the wire: 1 + 4 + bodyLength.
    public var frameLength: Int { bodyLength + 5 }

    public init(id: UInt8, bodyLength: Int) {
        self.id = id
        self.bodyLength = bodyLength
    }
}

/// Splits a byte stream into protocol 3.0 frames. Only the 5-byte header is examined:
/// bodies are never copied here, so streaming (DataRow, CopyData) stays cheap.
public enum Framing {
    /// Reads the header at the front of `bytes`. Returns nil when fewer than 5 bytes are
    /// buffered. Throws when the length word is below 4 or the body exceeds `maxBodyLength`.
    @inlinable
    public static func peekHeader(_ bytes: UnsafeRawBufferPointer, maxBodyLength: Int) throws -> FrameHeader? {
        guard bytes.count >= 5 else { return nil }
        let len = Int(Int32(bitPattern: UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16
                                          | UInt32(bytes[3]) << 8 | UInt32(bytes[4])))
        return try header(id: bytes[0], length: len, maxBodyLength: maxBodyLength)
    }

    /// The header of a frame whose length word (itself included) is `length`.
    @inlinable
    static func header(id: UInt8, length len: Int, maxBodyLength: Int) throws -> FrameHeader {
        guard len >= 4 else {
            throw WireDecodingError(messageID: id, offset: 0, reason: .invalidLength(len))
        }
        guard len - 4 <= maxBodyLength else {
            throw WireDecodingError(messageID: id, offset: 0,
                                    reason: .messageTooLarge(declared: len - 4, limit: maxBodyLength))
        }
        return FrameHeader(id: id, bodyLength: len - 4)
    }

    @inlinable
    public static func peekHeader(_ bytes: ArraySlice<UInt8>, maxBodyLength: Int) throws -> FrameHeader? {
        try bytes.withUnsafeBytes { try peekHeader($0, maxBodyLength: maxBodyLength) }
    }

    @inlinable
    public static func peekHeader(_ buffer: ByteBuffer, maxBodyLength: Int) throws -> FrameHeader? {
        guard let (id, word) = buffer.peekByteAndInt32() else { return nil }
        return try header(id: id, length: Int(word), maxBodyLength: maxBodyLength)
    }

    /// Removes one complete frame from the front of `buffer`, or returns nil if it has not
    /// fully arrived. The returned body is a copy.
    public static func nextFrame(_ buffer: inout ByteBuffer, maxBodyLength: Int) throws -> (id: UInt8, body: [UInt8])? {
        guard let h = try peekHeader(buffer, maxBodyLength: maxBodyLength),
              buffer.readableBytes >= h.frameLength else { return nil }
        let start = buffer.readerIndex + 5
        let body = Array(buffer.readableView[start..<(start + h.bodyLength)])
        buffer.moveReaderIndex(forwardBy: h.frameLength)
        return (h.id, body)
    }

    /// Length of the untyped startup-phase packet at the front of `bytes` (Int32 length
    /// including itself), nil if fewer than 4 bytes. PostgreSQL caps it at 10,000 bytes.
    public static func peekStartupLength(_ bytes: ArraySlice<UInt8>, maxLength: Int = 10_000) throws -> Int? {
        guard bytes.count >= 4 else { return nil }
        let i = bytes.startIndex
        let len = Int(Int32(bitPattern: UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16
                                          | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])))
        guard len >= 8 else { throw WireDecodingError(messageID: nil, offset: 0, reason: .invalidLength(len)) }
        guard len <= maxLength else {
            throw WireDecodingError(messageID: nil, offset: 0, reason: .messageTooLarge(declared: len, limit: maxLength))
        }
        return len
    }
}
