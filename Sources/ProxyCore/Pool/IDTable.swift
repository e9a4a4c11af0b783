/// An id that pgstash assigns itself: a small integer, sequential or strided.
public protocol IntegerID: Hashable {
    var raw: Int { get }
    init(_ raw: Int)
}

extension ServerID: IntegerID {}
extension ClientID: IntegerID {}

/// Server (or client) id → value, for the per-transaction lookups of pools and their
/// drivers. A `Dictionary` hashes every key with SipHash (about 150 instructions a lookup);
/// these ids are small integers that pgstash assigns itself, so a multiplicative hash of the
/// id spreads them as well. Open addressing with linear probing and backward-shift deletion;
/// the table stays at most half full.
public struct IDTable<Key: IntegerID, Value> {
    @usableFromInline var ids: [Int] = []             // Self.empty: a free slot
    @usableFromInline var slots: [Value?] = []
    @usableFromInline var stored = 0
    @inlinable public var count: Int { stored }
    @usableFromInline var shift = 64                  // 64 − log2(capacity)

    @usableFromInline static var empty: Int { Int.min }

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { stored == 0 }

    /// Fibonacci hashing: the top bits of id × 2⁶⁴/φ.
    @inlinable @inline(__always) func home(_ id: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(id)) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    @inlinable @inline(__always) var mask: Int { ids.count - 1 }

    /// The slot holding `id`, or nil.
    @inlinable func slot(of id: Key) -> Int? {
        guard count > 0 else { return nil }
        var i = home(id.raw)
        while true {
            let k = ids[i]
            if k == id.raw { return i }
            if k == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }

    @inlinable public subscript(id: Key) -> Value? {
        get {
            guard let i = slot(of: id) else { return nil }
            return slots[i]!
        }
        set {
            if let newValue { insert(id, newValue) } else { removeValue(forKey: id) }
        }
    }

    /// Runs `body` on the value of `id` in place; false when there is none.
    @inlinable @discardableResult
    public mutating func modify(_ id: Key, _ body: (inout Value) -> Void) -> Bool {
        guard let i = slot(of: id) else { return false }
        body(&slots[i]!)
        return true
    }

    @inlinable mutating func insert(_ id: Key, _ value: Value) {
        precondition(id.raw != Self.empty, "IDTable: reserved id")
        if let i = slot(of: id) { slots[i] = value; return }
        if (count + 1) * 2 > ids.count { grow() }
        var i = home(id.raw)
        while ids[i] != Self.empty { i = (i + 1) & mask }
        ids[i] = id.raw
        slots[i] = value
        stored += 1
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: Key) -> Value? {
        guard var hole = slot(of: id) else { return nil }
        let old = slots[hole].take()
        ids[hole] = Self.empty
        stored -= 1
        // Backward shift: move later entries of the probe run into the hole when their home
        // position is at or before it, so that no lookup stops early at the new free slot.
        var i = (hole + 1) & mask
        while ids[i] != Self.empty {
            let h = home(ids[i])
            let distanceToHole = (hole - h) & mask, distanceToHere = (i - h) & mask
            if distanceToHole < distanceToHere {
                ids[hole] = ids[i]
                slots[hole] = slots[i].take()
                ids[i] = Self.empty
                hole = i
            }
            i = (i + 1) & mask
        }
        return old
    }

    @usableFromInline mutating func grow() {
        let capacity = max(8, ids.count * 2)
        let oldIDs = ids
        var oldSlots = slots
        ids = [Int](repeating: Self.empty, count: capacity)
        slots = [Value?](repeating: nil, count: capacity)
        shift = 64 - capacity.trailingZeroBitCount
        stored = 0
        for j in oldIDs.indices where oldIDs[j] != Self.empty {
            insert(Key(oldIDs[j]), oldSlots[j].take()!)
        }
    }

    /// The ids held, in no particular order.
    public var keys: [Key] { ids.filter { $0 != Self.empty }.map { Key($0) } }
    /// The values held, in no particular order.
    public var values: [Value] { slots.compactMap { $0 } }
}

extension IDTable: Sendable where Value: Sendable {}

public typealias ServerTable<Value> = IDTable<ServerID, Value>
public typealias ClientTable<Value> = IDTable<ClientID, Value>
