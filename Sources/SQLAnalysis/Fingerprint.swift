/// pgstash's statement fingerprint: a 64-bit FNV-1a hash of the parse tree with every
/// `location`, every constant and every `$n` number left out, and a list made only of
/// constants and parameters (`IN (1, 2, 3)`) hashed as one. Statements that differ only in
/// constants, parameter numbers, whitespace, comments or keyword case share a fingerprint.
/// It groups queries (like pg_stat_statements' queryid) and is never a cache key by itself.
/// It is not pg_query's fingerprint and the two values are not comparable.
enum Fingerprint {
    static func compute(tape: JSONTape, statement: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        func mixRange(_ start: Int32, _ length: Int32) {
            var k = Int(start)
            let end = k + Int(length)
            while k < end { mix(tape.bytes[k]); k += 1 }
        }

        var i = statement
        let end = Int(tape.node(statement).end)
        while i < end {
            let node = tape.node(i)
            if node.keyLength == 8, tape.keyEquals(i, "location") { i += 1; continue }
            if node.kind == .object, tape.isConstantNode(i) {
                mix(UInt8(ascii: "?"))
                i = Int(node.end)
                continue
            }
            if node.kind == .array, node.keyLength == 5, tape.keyEquals(i, "items"), tape.isConstantList(i) {
                mix(UInt8(ascii: "*"))
                i = Int(node.end)
                continue
            }
            mixRange(node.keyStart, node.keyLength)
            mix(0x3A)
            switch node.kind {
            case .object: mix(0x7B)
            case .array: mix(0x5B)
            default: mixRange(node.valueStart, node.valueLength)
            }
            mix(0x2C)
            i += 1
        }
        return hex(hash)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        var v = value
        for k in stride(from: 15, through: 0, by: -1) {
            out[k] = digits[Int(v & 0xF)]
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
