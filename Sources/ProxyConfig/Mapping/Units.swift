/// Durations and sizes written as strings with units.
enum Units {
    /// Seconds per duration unit.
    static let durationUnits: [String: Double] = [
        "us": 0.000_001, "ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400,
    ]

    /// Bytes per size unit: powers of 1024, as in PostgreSQL (`kB` is 1024 bytes), with the
    /// IEC spellings (`KiB`, `MiB`…) accepted too. Units are matched case-insensitively.
    static let sizeUnits: [String: Int] = [
        "b": 1,
        "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
        "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
        "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
        "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
    ]

    /// `"200ms"`, `"30s"`, `"5m"`, `"1h"`, `"1.5s"`, `"30"` (seconds) → seconds.
    static func duration(_ text: String) -> Double? {
        guard let (number, unit) = split(text) else { return nil }
        if unit.isEmpty { return number }
        guard let scale = durationUnits[unit] else { return nil }
        return number * scale
    }

    /// `"64MB"`, `"1MiB"`, `"512kB"`, `"4096"` (bytes) → bytes; nil when it overflows.
    static func size(_ text: String) -> Int? {
        guard let (number, unit) = split(text) else { return nil }
        let scale = unit.isEmpty ? 1 : sizeUnits[unit.lowercased()]
        guard let scale else { return nil }
        let bytes = (number * Double(scale)).rounded(.down)
        guard bytes.magnitude < 9.0e18 else { return nil }
        return Int(bytes)
    }

    /// A decimal number (optionally negative), optional spaces, then letters.
    private static func split(_ text: String) -> (Double, String)? {
        let trimmed = text.trimmingSpaces()
        let numberPart = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
        let unit = trimmed.dropFirst(numberPart.count).trimmingSpaces()
        guard !numberPart.isEmpty, unit.allSatisfy({ $0.isASCII && $0.isLetter }),
            let number = Double(numberPart.filter { $0 != "_" }), number.isFinite
        else { return nil }
        return (number, unit)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        let isSpace = { (c: Character) in c == " " || c == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
