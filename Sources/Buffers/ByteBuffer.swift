/// A growable byte buffer with a read cursor: bytes are appended at the end and consumed
/// from the front. Consumed space is reclaimed lazily (when more than half is dead) so the
/// per-message hot path never shifts memory.
public struct ByteBuffer: Sendable, Equatable {
    public private(set) var storage: [UInt8]
    public private(set) var readerIndex: Int

    public init(capacity: Int = 0) {
        storage = []
        storage.reserveCapacity(capacity)
        readerIndex = 0
    }

    public init(_ bytes: [UInt8]) {
        storage = bytes
        readerIndex = 0
    }

    /// Number of unread bytes.
    @inlinable public var readableBytes: Int { storage.count - readerIndex }
    @inlinable public var isEmpty: Bool { readerIndex == storage.count }

    /// The unread bytes.
    public var readableView: ArraySlice<UInt8> { storage[readerIndex...] }

    public mutating func append(_ bytes: [UInt8]) { storage.append(contentsOf: bytes) }
    public mutating func append(_ bytes: ArraySlice<UInt8>) { storage.append(contentsOf: bytes) }
    public mutating func append(_ bytes: UnsafeRawBufferPointer) { storage.append(contentsOf: bytes) }
    public mutating func append(contentsOf other: ByteBuffer) { storage.append(contentsOf: other.readableView) }

    /// Appends by letting `body` write at most `maxBytes` into fresh space; `body` returns
    /// how many it wrote (e.g. a `recv`). Returns that count.
    public mutating func writeWithUnsafeMutableBytes(
        maxBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int
    ) -> Int {
        compactIfWorthIt()
        let old = storage.count
        storage.append(contentsOf: repeatElement(0, count: maxBytes))
        let n = storage.withUnsafeMutableBytes { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[old..<(old + maxBytes)]))
        }
        storage.removeLast(maxBytes - max(0, n))
        return n
    }

    /// Calls `body` with the unread bytes.
    public func withReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[readerIndex...]))
        }
    }

    /// Marks `n` unread bytes as consumed.
    public mutating func moveReaderIndex(forwardBy n: Int) {
        precondition(n >= 0 && n <= readableBytes)
        readerIndex += n
        if readerIndex == storage.count {
            storage.removeAll(keepingCapacity: true)
            readerIndex = 0
        }
    }

    public mutating func clear() {
        storage.removeAll(keepingCapacity: true)
        readerIndex = 0
    }

    /// Drops consumed bytes when they are the larger part of the storage.
    public mutating func compactIfWorthIt() {
        if readerIndex > 0 && readerIndex >= storage.count / 2 {
            storage.removeFirst(readerIndex)
            readerIndex = 0
        }
    }

    // MARK: Big-endian writers used by the encoders.

    public mutating func writeInteger<T: FixedWidthInteger>(_ v: T) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { storage.append(contentsOf: $0) }
    }

    public mutating func writeByte(_ b: UInt8) { storage.append(b) }

    /// Writes a NUL-terminated string.
    public mutating func writeCString(_ s: String) {
        storage.append(contentsOf: s.utf8)
        storage.append(0)
    }

    /// Overwrites a big-endian Int32 at an absolute index (used to patch length words).
    public mutating func setInt32(_ v: Int32, at index: Int) {
        let be = UInt32(bitPattern: v).bigEndian
        withUnsafeBytes(of: be) { src in
            for i in 0..<4 { storage[index + i] = src[i] }
        }
    }

    /// Absolute index where the next written byte will go.
    public var writerIndex: Int { storage.count }

    public static func == (a: ByteBuffer, b: ByteBuffer) -> Bool { a.readableView == b.readableView }
}
