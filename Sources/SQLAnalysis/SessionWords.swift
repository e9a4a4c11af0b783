/// A word scan of code the parser cannot see into (a DO block's PL/pgSQL body and the SQL
/// strings it EXECUTEs): says whether it may leave session state on its server. It is a
/// conservative gate, not a classifier: a "maybe" makes pgstash treat the block as
/// session-bound.
enum SessionWords {
    static let words: Set<String> = ["listen", "temp", "temporary", "pg_temp", "hold", "set_config"]

    static func mayChangeSession(_ text: String) -> Bool {
        var word: [UInt8] = []
        func check() -> Bool {
            defer { word.removeAll(keepingCapacity: true) }
            guard !word.isEmpty else { return false }
            let w = String(decoding: word, as: UTF8.self)
            return words.contains(w) || w.hasPrefix("pg_temp") || w.contains("advisory")
        }
        for c in text.utf8 {
            let lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c
            let isWord = (lower >= 0x61 && lower <= 0x7a) || (lower >= 0x30 && lower <= 0x39) || lower == 0x5f || lower >= 0x80
            if isWord { word.append(lower) } else if check() { return true }
        }
        return check()
    }
}
