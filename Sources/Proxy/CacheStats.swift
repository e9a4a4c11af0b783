/// Counters of the result cache, for metrics and the admin console (`SHOW CACHE`).
struct CacheStats {
    struct Rule {
        var hits = 0
        var misses = 0
        var fills = 0
        var fillsRefused = 0
        var bytesStored = 0
    }

    /// Why a request was not looked up, in a few words fit for a metric label.
    enum Bypass: String, CaseIterable {
        /// Not a request shape the cache answers (several statements, Flush, a row limit…).
        case shape
        /// Session state: skipping to Sync, settings being restored, an isolation level above
        /// READ COMMITTED, a search_path expression.
        case session
        /// Not cacheable: volatile functions, FOR UPDATE, system catalogs, temporary tables…
        case notCacheable = "not_cacheable"
        /// No rule matches, or a `cache = false` rule does.
        case noRule = "no_rule"
        /// Redis unreachable, a member's lease lapsed, or this instance owes publications.
        case unavailable
        /// The database's catalog is not loaded (yet, or again after DDL).
        case catalog
    }

    var rules: [String: Rule] = [:]
    var bypasses: [Bypass: Int] = [:]
    /// Bypass reasons in words, for `SHOW CACHE` (bounded: later new reasons count as "other").
    var bypassReasons: [String: Int] = [:]
    var fillRefusals: [String: Int] = [:]
    var publications = 0
    var epochBumps = 0
    /// Publications that could not reach Redis and were kept as debt.
    var publicationsOwed = 0
    /// Hits answered from this instance's local copy (counted in the rules' hits too).
    var localHits = 0

    static let maxReasons = 200

    mutating func bypass(_ kind: Bypass, reason: String?) {
        bypasses[kind, default: 0] += 1
        guard let reason else { return }
        Self.count(reason, in: &bypassReasons)
    }

    mutating func refusedFill(rule: String, reason: String) {
        rules[rule, default: Rule()].fillsRefused += 1
        Self.count(reason, in: &fillRefusals)
    }

    private static func count(_ reason: String, in map: inout [String: Int]) {
        if map[reason] != nil || map.count < maxReasons { map[reason, default: 0] += 1 } else { map["other", default: 0] += 1 }
    }

    var hits: Int { rules.values.reduce(0) { $0 + $1.hits } }
    var misses: Int { rules.values.reduce(0) { $0 + $1.misses } }
}
