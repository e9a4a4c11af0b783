/// pgstash's statement fingerprint: a 64-bit multiplicative hash of the parse tree with every
/// `location`, every constant and every `$n` number left out, and a list made only of
/// constants and parameters (`IN (1, 2, 3)`) hashed as one. Statements that differ only in
/// constants, parameter numbers, whitespace, comments or keyword case share a fingerprint.
/// It groups queries (like pg_stat_statements' queryid) and is never a cache key by itself.
/// It is not pg_query's fingerprint and the two values are not comparable.
enum Fingerprint {
    static func compute(tape: JSONTape, statement: Int) -> String {
        var hasher = TreeHasher(base: UnsafeRawPointer(tape.bytes.baseAddress!))
        var i = statement
        let end = Int(tape.node(statement).end)
        // Ends of the open containers, so that nesting is part of the hash.
        var ends: [Int] = []
        ends.reserveCapacity(32)
        while i < end {
            while let last = ends.last, i >= last {
                hasher.mix(UInt8(ascii: "}"))
                ends.removeLast()
            }
            let node = tape.node(i)
            if node.keyLength == 8, tape.keyEquals(i, "location") { i += 1; continue }
            if node.kind == .object, tape.isConstantNode(i) {
                hasher.mix(UInt8(ascii: "?"))
                i = Int(node.end)
                continue
            }
            if node.kind == .array, node.keyLength == 5, tape.keyEquals(i, "items"), tape.isConstantList(i) {
                hasher.mix(UInt8(ascii: "*"))
                i = Int(node.end)
                continue
            }
            hasher.mixRange(node.keyStart, node.keyLength)
            switch node.kind {
            case .object: hasher.mix(UInt8(ascii: "{")); ends.append(Int(node.end))
            case .array: hasher.mix(UInt8(ascii: "[")); ends.append(Int(node.end))
            default: hasher.mixRange(node.valueStart, node.valueLength)
            }
            i += 1
        }
        for _ in ends { hasher.mix(UInt8(ascii: "}")) }
        return hex(hasher.hash)
    }

    /// Word-at-a-time multiplicative hashing of byte ranges of the JSON.
    private struct TreeHasher {
        let base: UnsafeRawPointer
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325

        @inline(__always) mutating func mix(_ word: UInt64) {
            hash = (hash ^ word) &* 0x9E37_79B9_7F4A_7C15
            hash ^= hash >> 29
        }

        @inline(__always) mutating func mix(_ byte: UInt8) { mix(UInt64(byte) | 0x100) }

        /// Eight bytes at a time; the length goes in too, so "ab"+"c" differs from "a"+"bc".
        mutating func mixRange(_ start: Int32, _ length: Int32) {
            var k = Int(start)
            let end = k + Int(length)
            while k + 8 <= end {
                mix(base.loadUnaligned(fromByteOffset: k, as: UInt64.self))
                k += 8
            }
            var tail = UInt64(length) << 56
            var shift: UInt64 = 0
            while k < end {
                tail |= UInt64(base.load(fromByteOffset: k, as: UInt8.self)) << shift
                shift += 8
                k += 1
            }
            mix(tail)
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        var out = [UInt8](repeating: 0, count: 16)
        var v = value
        for k in stride(from: 15, through: 0, by: -1) {
            out[k] = digits.utf8Start[Int(v & 0xF)]
            v >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}

private extension JSONTape {
    /// `{"A_Const": …}` or `{"ParamRef": …}`.
    func isConstantNode(_ index: Int) -> Bool {
        let first = index + 1
        guard node(index).end > Int32(first), node(first).end == node(index).end else { return false }
        return keyEquals(first, "A_Const") || keyEquals(first, "ParamRef")
    }

    /// An array whose items are all constants or parameters.
    func isConstantList(_ index: Int) -> Bool {
        var all = true
        forEachChild(index) { item in if all, !isConstantNode(item) { all = false } }
        return all
    }
}
