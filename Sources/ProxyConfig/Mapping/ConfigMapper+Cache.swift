extension ConfigMapper {
    /// `[cache]`, `[cache.tiers]` and `[[cache.rules]]`. Tiers written in the file replace the
    /// default tier of the same name and add new ones; the defaults L1–L4 stay otherwise.
    mutating func cache(_ t: TOMLTable) -> CacheConfig {
        let p = "cache"
        checkKeys(t, path: p, allowed: ConfigKeys.cache)
        var c = CacheConfig()
        if let v = bool(t, "enabled", in: p) { c.enabled = v }
        if let v = size(t, "max_result_bytes", in: p, range: 1...Int.max) { c.maxResultBytes = v }
        if let v = string(t, "instance", in: p) { c.instance = v }
        if let v = duration(t, "forget_after", in: p) { c.forgetAfter = v }
        if let v = size(t, "local_memory", in: p, range: 0...Int.max) { c.localMemory = v }
        if let tiers = table(t, "tiers", in: p, what: "a table of NAME = TTL") {
            for (name, _) in tiers.entries {
                guard let ttl = duration(tiers, name, in: "cache.tiers", positive: true) else { continue }
                if let i = c.tiers.firstIndex(where: { $0.name == name }) {
                    c.tiers[i].ttl = ttl
                } else {
                    c.tiers.append(CacheTier(name: name, ttl: ttl))
                }
            }
        }
        if let value = lookup(t, "rules", p) {
            if let items = value.array, items.allSatisfy({ $0.table != nil }) {
                c.rules = rules(items, tiers: c.tiers.map(\.name))
            } else {
                wrongType(value, "cache.rules", "an array of tables ([[cache.rules]] sections)")
            }
        }
        return c
    }

    private mutating func rules(_ items: [TOMLValue], tiers: [String]) -> [CacheRule] {
        var rules: [CacheRule] = []
        var firstLine: [String: ValueOrigin] = [:]
        for (index, item) in items.enumerated() {
            let t = item.table!
            let p = "cache.rules[\(index + 1)]"
            checkKeys(t, path: p, allowed: ConfigKeys.rule)
            let name = string(t, "name", in: p, nonEmpty: true) ?? "rule\(index + 1)"
            if let first = firstLine[name] {
                let where_ = first.fileLine.map { " (first on line \($0))" } ?? ""
                report(t["name"]?.origin ?? item.origin, key: "\(p).name", "duplicate cache rule name \"\(name)\"\(where_)")
            }
            firstLine[name] = firstLine[name] ?? item.origin
            let cache = bool(t, "cache", in: p) ?? true
            let tier = string(t, "tier", in: p, nonEmpty: true)
            var rule = CacheRule(name: name, tier: tier ?? "")
            rule.cache = cache
            if let tier, !tiers.contains(tier) {
                var message = "\(p).tier names unknown tier \"\(tier)\" (tiers: \(tiers.joined(separator: ", ")))"
                if let guess = Suggestion.closest(to: tier, in: tiers) { message += "; did you mean \"\(guess)\"?" }
                report(origins["\(p).tier"], key: "\(p).tier", message)
            } else if tier == nil, cache, t["tier"] == nil {
                report(item.origin, key: "\(p).tier",
                    "\(p) (\(name)) has no tier; set tier to one of \(tiers.joined(separator: ", "))")
            }
            if let tables = stringArray(t, "tables", in: p) {
                if tables.contains("") { report(origins["\(p).tables"], key: "\(p).tables", "\(p).tables has an empty name") }
                rule.tables = tables.filter { !$0.isEmpty }
            }
            rule.fingerprint = string(t, "fingerprint", in: p, nonEmpty: true)
            rule.pattern = string(t, "pattern", in: p, nonEmpty: true)
            if let v = bool(t, "shared", in: p) { rule.shared = v }
            let hasTables = t["tables"] != nil && t["tables"]?.array?.isEmpty != true
            let hasMatch = hasTables || t["fingerprint"] != nil || t["pattern"] != nil
            if !hasMatch {
                report(item.origin, key: p,
                    "\(p) (\(name)) matches every query; set tables, fingerprint or pattern")
            }
            rules.append(rule)
        }
        return rules
    }
}

extension ValueOrigin {
    /// The file line, nil for the command line.
    var fileLine: Int? {
        if case .line(let n) = self { return n }
        return nil
    }
}
