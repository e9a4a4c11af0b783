import PostgresWire

/// RowDescription and DataRow of console results, in text or (when a Bind asks for it)
/// binary format: int4 as a big-endian Int32, numeric in PostgreSQL's base-10000 form
/// (`numeric_send`), text as its UTF-8 bytes.
public enum AdminWire {
    /// The format of column `i` under a Bind's result-format codes (none: text; one: all).
    static func format(_ formats: [Int16], _ i: Int) -> Int16 {
        formats.isEmpty ? 0 : (formats.count == 1 ? formats[0] : formats[i])
    }

    public static func rowDescription(_ columns: [AdminColumn], formats: [Int16]) -> BackendMessage {
        .rowDescription(columns.enumerated().map { i, c in
            BackendMessage.FieldDescription(name: c.name, tableOID: 0, columnAttribute: 0, dataTypeOID: c.type.rawValue,
                                            dataTypeSize: c.type.size, typeModifier: -1, format: format(formats, i))
        })
    }

    public static func dataRow(_ row: [String?], columns: [AdminColumn], formats: [Int16]) -> BackendMessage {
        .dataRow(row.enumerated().map { i, value in
            guard let value else { return nil }
            guard format(formats, i) == 1 else { return Array(value.utf8) }
            return binary(value, columns[i].type)
        })
    }

    static func binary(_ text: String, _ type: AdminColumnType) -> [UInt8] {
        switch type {
        case .text: return Array(text.utf8)
        case .int4: return bigEndian(UInt32(bitPattern: Int32(text) ?? 0))
        case .numeric: return numeric(text)
        }
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private static func int16(_ v: Int) -> [UInt8] {
        let u = UInt16(bitPattern: Int16(v))
        return [UInt8(u >> 8), UInt8(u & 0xFF)]
    }

    /// `numeric_send` of a decimal literal (`-12.5`): digit count, weight, sign, display
    /// scale, then base-10000 digits with leading and trailing zero groups dropped.
    static func numeric(_ text: String) -> [UInt8] {
        var s = Substring(text)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = String(parts[0]).filter(\.isNumber)
        let fraction = parts.count > 1 ? String(parts[1]).filter(\.isNumber) : ""
        let dscale = fraction.count
        let paddedWhole = String(repeating: "0", count: (4 - whole.count % 4) % 4) + whole
        let paddedFraction = fraction + String(repeating: "0", count: (4 - fraction.count % 4) % 4)
        func groups(_ s: String) -> [Int] {
            let chars = Array(s)
            return stride(from: 0, to: chars.count, by: 4).map { Int(String(chars[$0..<$0 + 4]))! }
        }
        var digits = groups(paddedWhole) + groups(paddedFraction)
        var weight = paddedWhole.count / 4 - 1
        while let first = digits.first, first == 0 { digits.removeFirst(); weight -= 1 }
        while let last = digits.last, last == 0 { digits.removeLast() }
        if digits.isEmpty { weight = 0; negative = false }
        var out = int16(digits.count) + int16(weight) + (negative ? [0x40, 0x00] : [0, 0]) + int16(dscale)
        for d in digits { out += int16(d) }
        return out
    }
}
