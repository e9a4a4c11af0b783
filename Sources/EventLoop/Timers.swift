/// Identifies a scheduled timer; pass it to `EventLoop.cancel(_:)`.
public struct TimerID: Hashable, Sendable {
    public let rawValue: UInt64
}

/// A binary min-heap of timers ordered by (deadline, id), with a position index so that
/// `cancel` is O(log n) and never leaves dead entries behind.
struct TimerHeap {
    struct Entry {
        let deadline: UInt64          // monotonic nanoseconds
        let id: UInt64
        let body: () -> Void
    }

    private var entries: [Entry] = []
    private var position: [UInt64: Int] = [:]

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var first: Entry? { entries.first }

    mutating func insert(_ entry: Entry) {
        entries.append(entry)
        position[entry.id] = entries.count - 1
        siftUp(entries.count - 1)
    }

    /// Removes the timer `id`; returns false if it is not (or no longer) scheduled.
    @discardableResult
    mutating func remove(id: UInt64) -> Bool {
        guard let index = position[id] else { return false }
        removeAt(index)
        return true
    }

    mutating func popFirst() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        removeAt(0)
        return top
    }

    private mutating func removeAt(_ index: Int) {
        let removed = entries[index]
        position[removed.id] = nil
        let last = entries.count - 1
        if index != last {
            entries.swapAt(index, last)
            position[entries[index].id] = index
        }
        entries.removeLast()
        if index < entries.count {
            siftDown(index)
            siftUp(index)
        }
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = entries[a], y = entries[b]
        return x.deadline != y.deadline ? x.deadline < y.deadline : x.id < y.id
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        position[entries[a].id] = a
        position[entries[b].id] = b
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { return }
            swap(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < entries.count && less(l, smallest) { smallest = l }
            if r < entries.count && less(r, smallest) { smallest = r }
            if smallest == i { return }
            swap(i, smallest)
            i = smallest
        }
    }
}
