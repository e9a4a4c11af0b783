/// A small FIFO queue with amortised O(1) push and pop (a head index over an array).
struct FIFOQueue<Element>: Sendable where Element: Sendable {
    private var items: [Element] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    var first: Element? { isEmpty ? nil : items[head] }

    mutating func append(_ e: Element) { items.append(e) }

    mutating func replaceFirst(_ e: Element) { items[head] = e }

    mutating func popFirst() -> Element? {
        guard !isEmpty else { return nil }
        let e = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return e
    }

    func contains(where p: (Element) -> Bool) -> Bool { items[head...].contains(where: p) }

    mutating func removeAll(where p: (Element) -> Bool) {
        items = Array(items[head...].filter { !p($0) })
        head = 0
    }
}
