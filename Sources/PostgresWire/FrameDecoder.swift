/// Incremental splitter for one direction of a connection: feed it whatever a read returned,
/// then pull complete frames until it answers nil ("Message Flow": the stream is a sequence
/// of frames with no other delimiters, and reads may end anywhere inside one).
///
/// A connection from a client opens with one untyped packet (StartupMessage, SSLRequest,
/// GSSENCRequest or CancelRequest), so a decoder created in `.startup` phase hands those out
/// through `nextStartupPacket()` and moves to `.messages` once a StartupMessage arrives. A
/// decoder for the server side starts in `.messages`.
///
/// A framing error (a bad or oversized length word, an unknown type under
/// `checksFrontendHeaders`) cannot be recovered from, since it hides where the next frame
/// starts: the same error is thrown again until the decoder is dropped. A body that fails
/// typed decoding has been consumed already, so the frames after it still decode.
public struct FrameDecoder: Sendable {
    /// Which kind of packet the next read expects.
    public enum Phase: Equatable, Sendable {
        /// Untyped packets before the StartupMessage.
        case startup
        /// Typed frames: one type byte, an Int32 length (itself included), the body.
        case messages
    }

    /// PostgreSQL's own cap on an untyped startup-phase packet (MAX_STARTUP_PACKET_LENGTH).
    public static let defaultMaxStartupLength = 10_000
    /// Default cap on a typed message body: 1 GB, what PostgreSQL accepts for a varlena.
    public static let defaultMaxBodyLength = 1 << 30

    public private(set) var phase: Phase
    /// Bodies longer than this are refused with `.messageTooLarge` as soon as their header
    /// is seen, before any of them is buffered.
    public var maxBodyLength: Int
    /// Whole startup packets (length word included) longer than this are refused.
    public var maxStartupLength: Int
    /// When set (for a stream from a client), a header is checked the way PostgreSQL checks
    /// it before reading the body: an unknown type byte is refused at once with
    /// `.unknownMessageType`, and a body over `FrontendMessageID.postgresMaxBodyLength` with
    /// `.messageTooLarge`, whatever `maxBodyLength` allows.
    public var checksFrontendHeaders: Bool
    /// Bytes of the stream already handed out as frames, i.e. where the buffered bytes start.
    public private(set) var streamOffset: Int = 0

    private var buffer: ByteBuffer

    public init(phase: Phase = .messages,
                maxBodyLength: Int = FrameDecoder.defaultMaxBodyLength,
                maxStartupLength: Int = FrameDecoder.defaultMaxStartupLength,
                checksFrontendHeaders: Bool = false,
                initialCapacity: Int = 16 * 1024) {
        self.phase = phase
        self.maxBodyLength = maxBodyLength
        self.maxStartupLength = maxStartupLength
        self.checksFrontendHeaders = checksFrontendHeaders
        self.buffer = ByteBuffer(capacity: initialCapacity)
    }

    /// Bytes fed but not yet returned as frames.
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Bytes the decoder's buffer holds, used or not; it grows to fit the largest frame
    /// in flight and is reused afterwards.
    public var bufferCapacity: Int { buffer.capacity }

    /// The bytes fed but not yet returned (e.g. to forward them untouched after a handover).
    public var unconsumedBytes: ArraySlice<UInt8> { buffer.readableView }

    public mutating func feed(_ bytes: [UInt8]) { buffer.compactIfWorthIt(); buffer.append(bytes) }
    public mutating func feed(_ bytes: ArraySlice<UInt8>) { buffer.compactIfWorthIt(); buffer.append(bytes) }
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) { buffer.compactIfWorthIt(); buffer.append(bytes) }

    /// Lets `body` write up to `maxBytes` straight into the decoder's buffer (a `recv`),
    /// avoiding the copy of `feed`. Returns what `body` returned.
    public mutating func feed(maxBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        buffer.writeWithUnsafeMutableBytes(maxBytes: maxBytes, body)
    }

    /// Returns the next complete typed frame, or nil when it has not fully arrived. The body
    /// shares the decoder's storage; its indices do not start at zero.
    public mutating func next() throws -> (id: UInt8, body: ArraySlice<UInt8>)? {
        guard let (id, frame) = try nextFrame() else { return nil }
        return (id, frame.dropFirst(5))
    }

    /// Like `next()`, but returns the whole frame (type byte and length word included), for
    /// forwarding it untouched.
    public mutating func nextFrame() throws -> (id: UInt8, frame: ArraySlice<UInt8>)? {
        guard phase == .messages else {
            throw WireDecodingError(messageID: nil, offset: streamOffset,
                                    reason: .invalidValue("a typed message was read before the startup packet"))
        }
        guard let header = try Framing.peekHeader(buffer, maxBodyLength: maxBodyLength) else { return nil }
        if checksFrontendHeaders { try checkFrontendHeader(header) }
        guard buffer.readableBytes >= header.frameLength else { return nil }
        let frame = buffer.readableView.prefix(header.frameLength)
        consume(header.frameLength)
        return (header.id, frame)
    }

    /// Returns the next frame decoded as a frontend (client → server) message.
    public mutating func nextFrontendMessage() throws -> FrontendMessage? {
        guard let (id, body) = try next() else { return nil }
        return try FrontendMessage.decode(id: id, body: body)
    }

    /// Returns the next frame decoded as a backend (server → client) message.
    public mutating func nextBackendMessage() throws -> BackendMessage? {
        guard let (id, body) = try next() else { return nil }
        return try BackendMessage.decode(id: id, body: body)
    }

    /// Returns the next untyped startup-phase packet, or nil when it has not fully arrived.
    /// A StartupMessage moves the decoder to `.messages`; SSLRequest and GSSENCRequest keep
    /// it in `.startup`, since the client sends its StartupMessage next ("Message Flow").
    /// After an SSLRequest or GSSENCRequest that is answered 'S'/'G', `bufferedBytes` must be
    /// zero: bytes a client sent ahead of the handshake were not encrypted and may have been
    /// injected (CVE-2021-23214), so the connection must be closed instead.
    public mutating func nextStartupPacket() throws -> StartupPacket? {
        guard phase == .startup else {
            throw WireDecodingError(messageID: nil, offset: streamOffset,
                                    reason: .invalidValue("a startup packet was read after startup"))
        }
        let view = buffer.readableView
        guard let length = try Framing.peekStartupLength(view, maxLength: maxStartupLength),
              view.count >= length else { return nil }
        let packet = try StartupPacket.decode(view.prefix(length))
        consume(length)
        if case .startup = packet { phase = .messages }
        return packet
    }

    private func checkFrontendHeader(_ header: FrameHeader) throws {
        guard let id = FrontendMessageID(rawValue: header.id) else {
            throw WireDecodingError(messageID: header.id, offset: 0, reason: .unknownMessageType)
        }
        let limit = min(maxBodyLength, id.postgresMaxBodyLength)
        guard header.bodyLength <= limit else {
            throw WireDecodingError(messageID: header.id, offset: 0,
                                    reason: .messageTooLarge(declared: header.bodyLength, limit: limit))
        }
    }

    /// Drops `n` buffered bytes that were read outside the framing (a one-byte answer).
    mutating func skip(_ n: Int) { consume(n) }

    private mutating func consume(_ n: Int) {
        buffer.moveReaderIndex(forwardBy: n)
        streamOffset += n
    }
}
