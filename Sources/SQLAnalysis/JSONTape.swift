/// One value of the parse-tree JSON, laid out flat: a container's children follow it and
/// `end` is the index just past its last descendant, so siblings are found by jumping.
struct JSONNode {
    enum Kind: UInt8 { case object, array, string, number, literal }

    var kind: Kind
    /// Byte range of the member key (escaped form, without quotes); empty for array items.
    var keyStart: Int32
    var keyLength: Int32
    /// Byte range of a scalar (a string without its quotes, still escaped).
    var valueStart: Int32
    var valueLength: Int32
    /// Index just past this node's last descendant.
    var end: Int32
}

/// Why the parse-tree JSON could not be read. libpg_query produces it, so this only happens
/// when libpg_query itself misbehaves; the statement is then passed through uncached.
struct JSONTapeError: Error, Equatable {
    var offset: Int
}

/// A flat, allocation-light view of the JSON that `pg_query_parse` returns.
///
/// The parser is iterative (an explicit stack), so deeply nested SQL cannot overflow the
/// thread's stack here. Keys are compared in place against static byte strings.
struct JSONTape {
    let bytes: UnsafeBufferPointer<UInt8>
    let nodes: [JSONNode]

    init(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONTapeError) {
        self.bytes = bytes
        self.nodes = try Self.parse(bytes)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONTapeError) -> [JSONNode] {
        guard let p = bytes.baseAddress, bytes.count > 0 else { throw JSONTapeError(offset: 0) }
        let n = bytes.count
        var nodes: [JSONNode] = []
        nodes.reserveCapacity(n / 8)
        var open: [Int] = []
        open.reserveCapacity(64)
        var i = 0
        var pendingKeyStart: Int32 = 0
        var pendingKeyLength: Int32 = 0
        var expectKey = false

        while i < n {
            let c = p[i]
            switch c {
            case 0x20, 0x0A, 0x0D, 0x09:
                i += 1
                continue
            case 0x2C:
                i += 1
                if let top = open.last, nodes[top].kind == .object { expectKey = true }
                continue
            case 0x7D, 0x5D:
                guard let top = open.popLast() else { throw JSONTapeError(offset: i) }
                nodes[top].end = Int32(nodes.count)
                i += 1
                expectKey = false
                if open.isEmpty { return nodes }
                continue
            default:
                break
            }
            if expectKey {
                guard c == 0x22 else { throw JSONTapeError(offset: i) }
                let start = i + 1
                var j = start
                while j < n, p[j] != 0x22 { j += p[j] == 0x5C ? 2 : 1 }
                guard j < n else { throw JSONTapeError(offset: i) }
                pendingKeyStart = Int32(start)
                pendingKeyLength = Int32(j - start)
                i = j + 1
                while i < n, p[i] == 0x20 { i += 1 }
                guard i < n, p[i] == 0x3A else { throw JSONTapeError(offset: i) }
                i += 1
                expectKey = false
                continue
            }
            var node = JSONNode(kind: .literal, keyStart: pendingKeyStart, keyLength: pendingKeyLength,
                                valueStart: Int32(i), valueLength: 0, end: 0)
            pendingKeyLength = 0
            pendingKeyStart = 0
            switch c {
            case 0x7B:
                node.kind = .object
                open.append(nodes.count)
                nodes.append(node)
                i += 1
                expectKey = !(i < n && p[i] == 0x7D)
                continue
            case 0x5B:
                node.kind = .array
                open.append(nodes.count)
                nodes.append(node)
                i += 1
                continue
            case 0x22:
                let start = i + 1
                var j = start
                while j < n, p[j] != 0x22 { j += p[j] == 0x5C ? 2 : 1 }
                guard j < n else { throw JSONTapeError(offset: i) }
                node.kind = .string
                node.valueStart = Int32(start)
                node.valueLength = Int32(j - start)
                i = j + 1
            default:
                let start = i
                while i < n {
                    let d = p[i]
                    if d == 0x2C || d == 0x7D || d == 0x5D || d == 0x20 || d == 0x0A { break }
                    i += 1
                }
                guard i > start else { throw JSONTapeError(offset: i) }
                node.kind = (c == 0x2D || (c >= 0x30 && c <= 0x39)) ? .number : .literal
                node.valueLength = Int32(i - start)
            }
            node.end = Int32(nodes.count + 1)
            nodes.append(node)
            if open.isEmpty { return nodes }
        }
        throw JSONTapeError(offset: i)
    }

    // MARK: - Navigation

    @inline(__always) func node(_ index: Int) -> JSONNode { nodes[index] }

    /// Calls `body` with each direct child index of the container at `index`.
    @inline(__always)
    func forEachChild(_ index: Int, _ body: (Int) throws -> Void) rethrows {
        var child = index + 1
        let end = Int(nodes[index].end)
        while child < end {
            try body(child)
            child = Int(nodes[child].end)
        }
    }

    /// Number of direct children of a container.
    func childCount(_ index: Int) -> Int {
        var count = 0
        forEachChild(index) { _ in count += 1 }
        return count
    }

    /// The direct child of the object at `index` whose key is `key`.
    func member(_ index: Int, _ key: StaticString) -> Int? {
        guard nodes[index].kind == .object else { return nil }
        var child = index + 1
        let end = Int(nodes[index].end)
        while child < end {
            if keyEquals(child, key) { return child }
            child = Int(nodes[child].end)
        }
        return nil
    }

    /// Whether the key of node `index` equals `key`.
    @inline(__always)
    func keyEquals(_ index: Int, _ key: StaticString) -> Bool {
        let node = nodes[index]
        return rangeEquals(Int(node.keyStart), Int(node.keyLength), key)
    }

    /// Whether the scalar value of node `index` equals `text`.
    @inline(__always)
    func valueEquals(_ index: Int, _ text: StaticString) -> Bool {
        let node = nodes[index]
        return rangeEquals(Int(node.valueStart), Int(node.valueLength), text)
    }

    @inline(__always)
    private func rangeEquals(_ start: Int, _ length: Int, _ text: StaticString) -> Bool {
        guard length == text.utf8CodeUnitCount else { return false }
        let p = text.utf8Start
        var k = 0
        while k < length {
            if bytes[start + k] != p[k] { return false }
            k += 1
        }
        return true
    }

    /// The key of node `index` as a string (keys are plain ASCII node and field names).
    func key(_ index: Int) -> String {
        let node = nodes[index]
        let slice = UnsafeBufferPointer(rebasing: bytes[Int(node.keyStart)..<Int(node.keyStart + node.keyLength)])
        return String(decoding: slice, as: UTF8.self)
    }

    /// The decoded string value of node `index` (JSON escapes resolved).
    func string(_ index: Int) -> String {
        let node = nodes[index]
        let start = Int(node.valueStart)
        let end = start + Int(node.valueLength)
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if !slice.contains(0x5C) { return String(decoding: slice, as: UTF8.self) }
        return Self.unescape(slice)
    }

    /// The integer value of a number node.
    func integer(_ index: Int) -> Int? {
        let node = nodes[index]
        guard node.kind == .number else { return nil }
        var value = 0
        var negative = false
        for k in Int(node.valueStart)..<Int(node.valueStart + node.valueLength) {
            let c = bytes[k]
            if c == 0x2D { negative = true; continue }
            guard c >= 0x30, c <= 0x39 else { return nil }
            value = value &* 10 &+ Int(c - 0x30)
        }
        return negative ? -value : value
    }

    /// Whether a literal node is `true`.
    func isTrue(_ index: Int) -> Bool { nodes[index].kind == .literal && valueEquals(index, "true") }

    private static func unescape(_ slice: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(slice.count)
        var k = 0
        var pendingHigh: UInt32?
        while k < slice.count {
            let c = slice[k]
            guard c == 0x5C, k + 1 < slice.count else { out.append(c); k += 1; continue }
            let e = slice[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard k + 4 <= slice.count else { break }
                var v: UInt32 = 0
                for d in slice[k..<k + 4] {
                    v <<= 4
                    switch d {
                    case 0x30...0x39: v |= UInt32(d - 0x30)
                    case 0x41...0x46: v |= UInt32(d - 0x41 + 10)
                    case 0x61...0x66: v |= UInt32(d - 0x61 + 10)
                    default: break
                    }
                }
                k += 4
                if v >= 0xD800, v < 0xDC00 { pendingHigh = v; continue }
                if v >= 0xDC00, v < 0xE000, let high = pendingHigh {
                    v = 0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00)
                }
                pendingHigh = nil
                if let scalar = Unicode.Scalar(v) { out.append(contentsOf: Array(String(Character(scalar)).utf8)) }
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
