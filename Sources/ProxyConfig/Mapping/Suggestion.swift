/// "did you mean …?" for misspelt keys and sections.
enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be a plausible typo.
    /// camelCase, dashes and case are forgiven (`maxUpstream` → `max_upstream`).
    static func closest(to word: String, in candidates: [String]) -> String? {
        let target = normalized(word)
        let limit = target.count <= 4 ? 1 : target.count <= 8 ? 2 : 3
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(target, normalized(candidate))
            if d <= limit, d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// Lower-case snake_case: `maxUpstream` and `Max-Upstream` become `max_upstream`.
    static func normalized(_ word: String) -> [Character] {
        var out: [Character] = []
        var previousWasLower = false
        for c in word {
            if c.isUppercase, previousWasLower { out.append("_") }
            out.append(c == "-" ? "_" : Character(c.lowercased()))
            previousWasLower = c.isLowercase || c.isNumber
        }
        return out
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    /// two neighbours each cost 1.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
