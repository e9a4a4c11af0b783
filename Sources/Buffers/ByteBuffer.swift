/// A growable byte buffer with a read cursor: bytes are appended at the end and consumed
/// from the front. Consumed space is reclaimed lazily (when more than half is dead) so the
/// per-message hot path never shifts memory.
///
/// The backing array is kept longer than the written bytes: the tail past `writerIndex` is
/// initialized once, when the buffer grows, and then reused, so a `recv` into
/// `writeWithUnsafeMutableBytes` and the big-endian writers never zero-fill or reallocate on
/// the steady-state path.
///
/// Index stability: the writers (`append`, `writeInteger`, `writeByte`, `writeCString`) never
/// move bytes, so an absolute index taken before them (an encoder's length word patched with
/// `setInt32`) stays valid. Only `reserveWritable`, `writeWithUnsafeMutableBytes`,
/// `compactIfWorthIt`, `shrink` and consuming the last byte move the unread bytes to the front.
///
/// Memory bound: a buffer that is filled through `reserveWritable` or
/// `writeWithUnsafeMutableBytes` and consumed from the front never holds more than four times
/// its largest unread size plus twice its largest write, however many bytes pass through it;
/// `shrink` gives a burst's storage back once the buffer is empty again.
public struct ByteBuffer: Sendable, Equatable {
    /// Backing bytes; only `0..<writerIndex` are meaningful, the rest is reusable tail.
    @usableFromInline var bytes: [UInt8]
    @usableFromInline var _readerIndex: Int
    @usableFromInline var _writerIndex: Int

    /// Absolute index of the first unread byte.
    @inlinable public var readerIndex: Int { _readerIndex }
    /// Absolute index where the next written byte will go.
    @inlinable public var writerIndex: Int { _writerIndex }

    public init(capacity: Int = 0) {
        bytes = Self.storage(capacity: max(0, capacity), copying: [], range: 0..<0, to: 0)
        _readerIndex = 0
        _writerIndex = 0
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        _readerIndex = 0
        _writerIndex = bytes.count
    }

    /// Every written byte, consumed ones included (indices match `readerIndex`). This is a
    /// copy when the buffer has spare capacity: prefer `readableView` or `withReadableBytes`.
    public var storage: [UInt8] {
        writerIndex == bytes.count ? bytes : Array(bytes[0..<writerIndex])
    }

    /// Number of unread bytes.
    @inlinable public var readableBytes: Int { writerIndex - readerIndex }
    @inlinable public var isEmpty: Bool { readerIndex == writerIndex }

    /// The unread bytes, sharing the buffer's storage (indices start at `readerIndex`).
    @inlinable public var readableView: ArraySlice<UInt8> { bytes[readerIndex..<writerIndex] }

    /// The first `n` unread bytes, sharing the buffer's storage (`readableView.prefix(n)` in
    /// one step: one range check instead of a slice of a slice).
    @inlinable public func readableView(first n: Int) -> ArraySlice<UInt8> {
        precondition(n >= 0 && n <= readableBytes, "ByteBuffer: \(n) bytes asked, \(readableBytes) readable")
        return bytes[_readerIndex..<(_readerIndex &+ n)]
    }

    /// The first unread byte and the big-endian Int32 after it (a protocol frame's header),
    /// or nil when fewer than 5 bytes are unread.
    @inlinable public func peekByteAndInt32() -> (UInt8, Int32)? {
        guard _writerIndex &- _readerIndex >= 5 else { return nil }
        let at = _readerIndex
        return bytes.withUnsafeBytes { raw in
            (raw[at], Int32(bigEndian: raw.loadUnaligned(fromByteOffset: at &+ 1, as: Int32.self)))
        }
    }

    /// The unread byte `offset` bytes after the reader index, or nil when there is none.
    @inlinable public func peekByte(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < _writerIndex &- _readerIndex else { return nil }
        let at = _readerIndex &+ offset
        return bytes.withUnsafeBytes { $0[at] }
    }

    /// Bytes held by the backing storage, written or not.
    @inlinable public var capacity: Int { bytes.count }

    /// Bytes that can be written without growing.
    @inlinable public var writableBytes: Int { bytes.count - _writerIndex }

    @inlinable public mutating func append(_ other: [UInt8]) {
        other.withUnsafeBytes { append($0) }
    }

    @inlinable public mutating func append(_ other: ArraySlice<UInt8>) {
        other.withUnsafeBytes { append($0) }
    }

    @inlinable public mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        ensureWritable(raw.count)
        let at = _writerIndex
        bytes.withUnsafeMutableBytes { dst in
            dst.baseAddress!.advanced(by: at).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        }
        _writerIndex += raw.count
    }

    public mutating func append(contentsOf other: ByteBuffer) {
        other.withReadableBytes { append($0) }
    }

    /// Lets `body` write into the free space past the writer index as it is (nothing moves or
    /// grows): a read that lands in place, with no copy. `body` returns its result and how many
    /// bytes it wrote.
    @inlinable public mutating func writeIntoFreeSpace<R>(
        _ body: (UnsafeMutableRawBufferPointer) throws -> (result: R, count: Int)
    ) rethrows -> R {
        let at = _writerIndex, end = bytes.count
        let (r, n) = try bytes.withUnsafeMutableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[at..<end])) }
        precondition(n >= 0 && n <= end - at, "wrote \(n) bytes into a window of \(end - at)")
        _writerIndex += n
        return r
    }

    /// Appends by letting `body` write at most `maxBytes` into fresh space; `body` returns
    /// how many it wrote (e.g. a `recv`; a negative result appends nothing). Returns that count.
    public mutating func writeWithUnsafeMutableBytes(
        maxBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int
    ) -> Int {
        precondition(maxBytes >= 0, "maxBytes must not be negative")
        reserveWritable(maxBytes)
        let at = writerIndex
        let n = bytes.withUnsafeMutableBytes { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + maxBytes)]))
        }
        precondition(n <= maxBytes, "wrote \(n) bytes into a window of \(maxBytes)")
        if n > 0 { _writerIndex += n }
        return n
    }

    /// Calls `body` with the unread bytes.
    @inlinable public func withReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[readerIndex..<writerIndex]))
        }
    }

    /// `withReadableBytes` through a mutating access: a buffer stored in a class is lent in
    /// place, not copied (retained) for the call.
    @inlinable public mutating func withReadableBytesInPlace<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let r = _readerIndex, w = _writerIndex
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[r..<w])) }
    }

    /// Marks `n` unread bytes as consumed.
    @inlinable public mutating func moveReaderIndex(forwardBy n: Int) {
        precondition(n >= 0 && n <= readableBytes)
        _readerIndex += n
        if _readerIndex == _writerIndex {
            _readerIndex = 0
            _writerIndex = 0
        }
    }

    /// Forgets every byte; the capacity is kept.
    @inlinable public mutating func clear() {
        _readerIndex = 0
        _writerIndex = 0
    }

    /// Drops consumed bytes when they are the larger part of the written bytes.
    public mutating func compactIfWorthIt() {
        guard readerIndex > 0 && readerIndex >= writerIndex / 2 else { return }
        moveUnreadToFront()
    }

    /// Makes room for `n` more bytes, for a reader of a stream (a socket's inbound or outbound
    /// bytes) that appends at the end and consumes from the front. When there is no room,
    /// consumed bytes are reclaimed first if they are at least as many as the unread ones, so the
    /// move is paid for by bytes already consumed; otherwise the storage grows, and only the
    /// unread bytes are copied. May move the unread bytes to the front (see Index stability).
    @inlinable public mutating func reserveWritable(_ n: Int) {
        if _writerIndex + n > bytes.count { makeRoom(for: n) }
    }

    @usableFromInline mutating func makeRoom(for n: Int) {
        let unread = readableBytes
        if _readerIndex > 0 && _readerIndex >= unread {
            moveUnreadToFront()
            if _writerIndex + n <= bytes.count { return }
        }
        reallocate(capacity: Swift.max(unread + n, bytes.count * 2, 64))
    }

    /// Gives back storage that a burst left behind: when the capacity is above `limit` and the
    /// unread bytes fit in a quarter of it, they move to storage of their own size (none when
    /// the buffer is empty). The next write grows it again from there. Returns true if it shrank.
    @discardableResult
    @inlinable public mutating func shrink(ifCapacityAbove limit: Int) -> Bool {
        guard bytes.count > Swift.max(limit, 0), readableBytes <= limit / 4 else { return false }
        shrinkToReadable()
        return true
    }

    @usableFromInline mutating func shrinkToReadable() { reallocate(capacity: readableBytes) }

    /// Makes room for at least `n` more bytes past `writerIndex` without moving any byte,
    /// growing geometrically so that the zero-fill of new tail space is amortized.
    @inlinable mutating func ensureWritable(_ n: Int) {
        if _writerIndex + n > bytes.count { grow(toFit: n) }
    }

    /// Indices stay where they are (encoders patch length words at saved offsets).
    @usableFromInline mutating func grow(toFit n: Int) {
        let target = Swift.max(_writerIndex + n, bytes.count * 2, 64)
        bytes = Self.storage(capacity: target, copying: bytes, range: 0..<_writerIndex, to: 0)
    }

    /// New storage of `capacity` bytes with `old[range]` copied to offset `to`. The rest is left
    /// as the allocator gives it (a UInt8 needs no initialisation, and it is never read before
    /// being written): no byte-by-byte zeroing, which unoptimised builds do very slowly.
    @usableFromInline static func storage(capacity: Int, copying old: [UInt8], range: Range<Int>, to offset: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            if !range.isEmpty {
                old.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(buffer).baseAddress!.advanced(by: offset)
                        .copyMemory(from: src.baseAddress!.advanced(by: range.lowerBound), byteCount: range.count)
                }
            }
            count = capacity
        }
    }

    private mutating func moveUnreadToFront() {
        let from = _readerIndex, count = _writerIndex - _readerIndex
        if count > 0 && from > 0 {
            bytes.withUnsafeMutableBytes { raw in
                let base = raw.baseAddress!
                base.copyMemory(from: base.advanced(by: from), byteCount: count)
            }
        }
        _readerIndex = 0
        _writerIndex = count
    }

    /// New storage of `capacity` bytes holding only the unread bytes, at the front.
    private mutating func reallocate(capacity: Int) {
        let count = readableBytes
        precondition(capacity >= count)
        bytes = Self.storage(capacity: capacity, copying: bytes, range: _readerIndex..<_writerIndex, to: 0)
        _readerIndex = 0
        _writerIndex = count
    }

    // MARK: Big-endian writers used by the encoders.

    @inlinable public mutating func writeInteger<T: FixedWidthInteger>(_ v: T) {
        let size = MemoryLayout<T>.size
        ensureWritable(size)
        let at = _writerIndex
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: v.bigEndian, toByteOffset: at, as: T.self) }
        _writerIndex += size
    }

    @inlinable public mutating func writeByte(_ b: UInt8) {
        ensureWritable(1)
        bytes[_writerIndex] = b
        _writerIndex += 1
    }

    /// Writes a NUL-terminated string.
    public mutating func writeCString(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        writeByte(0)
    }

    /// Overwrites a big-endian Int32 at an absolute index (used to patch length words).
    public mutating func setInt32(_ v: Int32, at index: Int) {
        precondition(index >= 0 && index + 4 <= writerIndex, "setInt32 outside the written bytes")
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: v.bigEndian, toByteOffset: index, as: Int32.self) }
    }

    public static func == (a: ByteBuffer, b: ByteBuffer) -> Bool { a.readableView == b.readableView }
}
