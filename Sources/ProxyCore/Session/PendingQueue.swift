/// The response tracker's queue of requests in flight: `FIFOQueue<PendingEntry>` without its
/// per-operation costs. An entry packs into one byte (kind, forward, hasExtra); the first
/// eight live in a machine word, so the usual transaction (Parse, Bind, Describe, Execute,
/// Sync) is queued and answered without touching an array, a uniqueness check or a reference
/// count. Deeper pipelines go on in `overflow`, in order behind the word's entries.
struct PendingQueue: Sendable {
    /// Entries, the head in the low byte.
    private var word: UInt64 = 0
    private var inWord = 0
    private var overflow = FIFOQueue<UInt8>()

    var count: Int { inWord + overflow.count }
    var isEmpty: Bool { inWord == 0 }       // the word empties last: see `popFirst`

    var first: PendingEntry? {
        inWord == 0 ? nil : Self.unpack(UInt8(truncatingIfNeeded: word))
    }

    mutating func append(_ e: PendingEntry) {
        let b = Self.pack(e)
        if inWord < 8 && overflow.isEmpty {
            word |= UInt64(b) << UInt64(inWord * 8)
            inWord += 1
        } else {
            overflow.append(b)
        }
    }

    mutating func popFirst() -> PendingEntry? {
        guard inWord > 0 else { return nil }
        let e = Self.unpack(UInt8(truncatingIfNeeded: word))
        word >>= 8
        inWord -= 1
        if !overflow.isEmpty { refill() }
        return e
    }

    /// Moves overflow entries into the word, so that it holds the head whenever there is one.
    /// Kept out of line: inlined, the compiler makes the (usually empty) overflow's storage
    /// unique before the emptiness test, a copy-on-write call on every pop.
    @inline(never)
    private mutating func refill() {
        while inWord < 8, let b = overflow.popFirst() {
            word |= UInt64(b) << UInt64(inWord * 8)
            inWord += 1
        }
    }

    func count(where p: (PendingEntry) -> Bool) -> Int {
        var n = 0
        var w = word
        for _ in 0..<inWord {
            if p(Self.unpack(UInt8(truncatingIfNeeded: w))) { n += 1 }
            w >>= 8
        }
        return n + overflow.count { p(Self.unpack($0)) }
    }

    private static let forwardBit: UInt8 = 0x10, extraBit: UInt8 = 0x20

    static func pack(_ e: PendingEntry) -> UInt8 {
        (e.kind?.rawValue ?? 0) | (e.forward ? forwardBit : 0) | (e.hasExtra ? extraBit : 0)
    }

    static func unpack(_ b: UInt8) -> PendingEntry {
        PendingEntry(kind: RequestKind(rawValue: b & 0x0F), forward: b & forwardBit != 0, hasExtra: b & extraBit != 0)
    }
}
