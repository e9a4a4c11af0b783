/// Normalizing a query string without parsing it: the same lexer `StatementAnalysis.normalized`
/// uses (literals become `$n`, comments go, whitespace runs become one space), over the whole
/// string, with a trailing `;` dropped. Linear in the text, so the proxy can key per-statement
/// figures (query digests) on it for every query; PostgreSQL's parser (libpg_query) is then
/// needed once per distinct normalized text, for its fingerprint.
public enum SQLText {
    public static func normalize(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.withUnsafeBufferPointer { normalize(buffer: $0) }
    }

    public static func normalize(_ sql: String) -> String {
        var s = sql
        return s.withUTF8 { normalize(buffer: $0) }
    }

    static func normalize(buffer: UnsafeBufferPointer<UInt8>) -> String {
        // A trailing `;` and spaces are dropped before (no second copy of the text) and, behind
        // a comment, after.
        var n = buffer.count
        while n > 0, buffer[n - 1] == 0 || buffer[n - 1] == UInt8(ascii: ";") || SQLLexer.isSpace(buffer[n - 1]) { n -= 1 }
        let text = Normalizer.normalize(bytes: UnsafeBufferPointer(rebasing: buffer[0..<n]))
        var end = text.utf8.endIndex
        while end > text.utf8.startIndex {
            let before = text.utf8.index(before: end)
            guard text.utf8[before] == UInt8(ascii: ";") || text.utf8[before] == UInt8(ascii: " ") else { break }
            end = before
        }
        return end == text.utf8.endIndex ? text : String(text[..<end])
    }
}
