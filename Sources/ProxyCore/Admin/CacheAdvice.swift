import CachePolicy
import ProxyConfig
import SQLAnalysis

/// `SHOW CACHE ADVICE`, without I/O: from the query digests, the reads never served from the
/// cache that took the most time through pgstash (all of it spent waiting for PostgreSQL,
/// since none was a hit: the most caching them could save), each with what to do about it —
/// the `[[cache.rules]]` block to paste when no rule covers it, or the exact reason it cannot
/// be cached (the policy's, or the last runtime refusal of its fills).
public enum CacheAdvice {
    /// Rows shown at most (the digests are ranked first; only the top ones are analysed).
    public static let rowsShown = 20

    /// `advice` is one of `add rule`, `not cacheable`, `excluded`, `rule matches`; `detail`
    /// the block to paste, or the reason in words. Times in microseconds, as `SHOW QUERIES`.
    public static let columns: [AdminColumn] =
        [AdminColumn("database", .text), AdminColumn("fingerprint", .text)]
        + ["calls", "total_time", "avg_time", "cache_misses"].map { AdminColumn($0, .numeric) }
        + [AdminColumn("advice", .text), AdminColumn("detail", .text), AdminColumn("query", .text)]

    /// What the advice needs of one database: the session a console command speaks for
    /// (its role, default settings) and the cache's catalog snapshot (nil: not loaded yet).
    public struct Database: Sendable {
        public var session: SessionContext
        public var catalog: CatalogSnapshot?
        public init(session: SessionContext, catalog: CatalogSnapshot?) { self.session = session; self.catalog = catalog }
    }

    /// What to do about one statement.
    public enum Advice: Sendable, Equatable {
        /// No rule covers it: this rule would (checked against the policy), as a block to paste.
        case addRule(CacheRule, block: String)
        /// The policy never caches it, and why.
        case notCacheable(String)
        /// An exclusion rule (`cache = false`) keeps it out.
        case excluded(String)
        /// A rule caches it, yet no call was served from the cache: why, as far as is known.
        case ruleMatches(String)

        public var name: String {
            switch self {
            case .addRule: return "add rule"
            case .notCacheable: return "not cacheable"
            case .excluded: return "excluded"
            case .ruleMatches: return "rule matches"
            }
        }

        public var detail: String {
            switch self {
            case .addRule(_, let block): return block
            case .notCacheable(let s), .excluded(let s), .ruleMatches(let s): return s
            }
        }
    }

    /// The advice rows. `digests` come most total time first (`QueryDigests.sortedByTotalTime`);
    /// a digest with a cache hit is served from the cache and left out, as are statements that
    /// are not one read (writes, transaction control, utility statements, several statements:
    /// caching never applies to them). `refusals` tells what happened to fills at run time.
    public static func rows(_ digests: [QueryDigest], policy: CachePolicy, databases: [String: Database],
                            refusals: FillRefusals, analysis: (String) -> Analysis) -> [[String?]] {
        var out: [[String?]] = []
        for d in digests where d.cacheHits == 0 && d.calls > 0 {
            guard out.count < rowsShown else { break }
            guard case .statements(let list) = analysis(d.query), list.count == 1, list[0].kind == .select else { continue }
            let advice: Advice
            if let db = databases[d.key.database], let catalog = db.catalog {
                advice = Self.advice(for: list[0], digest: d, policy: policy, session: db.session, catalog: catalog,
                                     refusal: refusals.last(FillRefusals.Key(prefix: db.session.database, fingerprint: list[0].fingerprint)))
            } else if databases[d.key.database] == nil {
                advice = .notCacheable("database \(d.key.database) is not configured any more")
            } else {
                advice = .notCacheable("the catalog of database \(d.key.database) is not loaded yet: try again once it is")
            }
            let l = d.latency
            out.append([d.key.database, d.fingerprint] + [
                d.calls, l.totalMicroseconds, l.count > 0 ? l.totalMicroseconds / l.count : 0, d.cacheMisses,
            ].map { "\($0)" } + [advice.name, advice.detail, d.query])
        }
        return out
    }

    /// The advice for one read seen `digest.calls` times without a hit.
    public static func advice(for s: StatementAnalysis, digest: QueryDigest, policy: CachePolicy, session: SessionContext,
                              catalog: CatalogSnapshot, refusal: FillRefusals.Entry?) -> Advice {
        switch policy.decide(s, session: session, catalog: catalog) {
        case .cache(let plan):
            if let refusal { return .ruleMatches("rule \"\(plan.rule)\" caches it, but " + FillRefusals.describe(refusal)) }
            if digest.cacheMisses > 0 {
                return .ruleMatches("rule \"\(plan.rule)\" caches it, but all \(digest.cacheMisses) lookups missed: each call's "
                    + "parameters differ, or entries expire (tier \(plan.tier), \(AdminConfigRows.number(plan.ttl)) s) or are invalidated before they are read again")
            }
            return .ruleMatches("rule \"\(plan.rule)\" caches it, but no call was looked up: they ran inside transaction blocks, "
                + "in several-statement queries, in sessions whose settings pgstash does not follow, or while Redis was unavailable "
                + "(SHOW CACHE STATUS counts the bypasses by reason), or the rule is newer than the calls")
        case .bypass(let reason):
            if reason.hasPrefix("cache rule") { return .excluded(reason) }
            guard reason == "no cache rule covers it" else { return .notCacheable(reason) }
            guard let proposal = proposeRule(for: s, policy: policy, session: session, catalog: catalog) else {
                return .notCacheable(reason + ", and no rule pgstash can propose would")
            }
            // The proposal is checked as the policy will read it once pasted (after the rules).
            var config = policy.config
            config.rules.append(proposal.rule)
            let check = CachePolicy(config: config).decide(s, session: session, catalog: catalog)
            guard check.plan?.rule == proposal.rule.name else {
                return .notCacheable(check.reason ?? "no rule pgstash can propose caches it")
            }
            return .addRule(proposal.rule, block: proposal.block)
        }
    }

    /// A rule matching exactly this statement (its fingerprint: any constants or parameters)
    /// and the relations it names, with a tier chosen from the configured ones:
    /// - the tier of the caching rule that lists most of the relations the statement reads
    ///   (tables that are read together are usually refreshed at the same pace);
    /// - else, for an aggregate (GROUP BY, count, sum…: dashboard statistics), the longest TTL;
    /// - else the shortest TTL (the freshest choice).
    public static func proposeRule(for s: StatementAnalysis, policy: CachePolicy, session: SessionContext,
                                   catalog: CatalogSnapshot) -> (rule: CacheRule, block: String)? {
        let tiers = policy.config.tiers
        guard !tiers.isEmpty, !s.fingerprint.isEmpty else { return nil }
        var relations: [RelationInfo] = []
        for t in s.tablesRead {
            guard let r = session.searchPath.resolve(t, in: catalog) else { return nil }
            if !relations.contains(where: { $0.oid == r.oid }) { relations.append(r) }
        }
        let tables = relations.map(\.qualifiedName)
        var best: (rule: CacheRule, shared: Int)?
        for rule in policy.config.rules where rule.cache && tiers.contains(where: { $0.name == rule.tier }) {
            let shared = relations.filter { r in rule.tables.contains { $0 == "*" ? false : names($0, r) } }.count
            if shared > 0, shared > (best?.shared ?? 0) { best = (rule, shared) }
        }
        let tier: CacheTier
        let why: String
        if let best, let t = tiers.first(where: { $0.name == best.rule.tier }) {
            tier = t
            why = "the tier of rule \"\(best.rule.name)\", which lists \(best.shared == relations.count ? "the same tables" : "some of these tables")"
        } else if isAggregate(s) {
            tier = tiers.max { $0.ttl < $1.ttl }!
            why = "an aggregate: the longest TTL"
        } else {
            tier = tiers.min { $0.ttl < $1.ttl }!
            why = "no rule lists these tables: the shortest TTL"
        }
        let base = relations.first?.name.filter { $0.isLetter || $0.isNumber || $0 == "_" } ?? "query"
        var name = "\(base.isEmpty ? "query" : base)-\(s.fingerprint.prefix(8))"
        while policy.config.rules.contains(where: { $0.name == name }) { name += "-1" }
        var rule = CacheRule(name: name, tier: tier.name)
        rule.tables = tables
        rule.fingerprint = s.fingerprint
        var lines = ["# \(why) (\(AdminConfigRows.number(tier.ttl)) s)", "[[cache.rules]]",
                     "name = \(quoted(name))", "tier = \(quoted(tier.name))"]
        if !tables.isEmpty { lines.append("tables = [" + tables.map(quoted).joined(separator: ", ") + "]") }
        lines.append("fingerprint = \(quoted(s.fingerprint))")
        return (rule, lines.joined(separator: "\n"))
    }

    /// Whether a rule's table entry names `r` (`schema.name`, or a bare name).
    private static func names(_ entry: String, _ r: RelationInfo) -> Bool {
        if let dot = entry.firstIndex(of: ".") {
            return r.schema == entry[..<dot] && r.name == entry[entry.index(after: dot)...]
        }
        return entry == r.name
    }

    private static let aggregates: Set<String> = ["count", "sum", "avg", "min", "max", "array_agg", "string_agg",
                                                  "json_agg", "jsonb_agg", "bool_and", "bool_or", "stddev", "variance"]

    private static func isAggregate(_ s: StatementAnalysis) -> Bool {
        s.normalized.uppercased().contains("GROUP BY")
            || s.functions.contains { aggregates.contains(String($0.split(separator: ".").last ?? "").lowercased()) }
    }

    /// A TOML basic string (a JSON string literal is one).
    static func quoted(_ s: String) -> String { jsonString(s) }
}
