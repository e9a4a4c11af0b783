/// A small FIFO queue: a ring buffer, O(1) push and pop with no compaction; popping moves
/// the element out (its slot lets go of what it held at once). Empty, it holds no storage.
struct FIFOQueue<Element>: Sendable where Element: Sendable {
    private var slots: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Element? { count == 0 ? nil : slots[head] }

    mutating func append(_ e: Element) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = e
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = slots[head].take()
        head = (head + 1) & (slots.count - 1)
        count -= 1
        if count == 0 { head = 0 }
        return e
    }

    /// Doubles the capacity (a power of two, at least 4), the elements first in order.
    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: max(4, slots.count * 2))
        for i in 0..<count { bigger[i] = slots[(head + i) & (slots.count - 1)].take() }
        slots = bigger
        head = 0
    }

    private func at(_ i: Int) -> Element { slots[(head + i) & (slots.count - 1)]! }

    func contains(where p: (Element) -> Bool) -> Bool {
        for i in 0..<count where p(at(i)) { return true }
        return false
    }

    func count(where p: (Element) -> Bool) -> Int {
        var n = 0
        for i in 0..<count where p(at(i)) { n += 1 }
        return n
    }

    mutating func removeAll(where p: (Element) -> Bool) {
        var kept = FIFOQueue()
        while let e = popFirst() { if !p(e) { kept.append(e) } }
        self = kept
    }
}
