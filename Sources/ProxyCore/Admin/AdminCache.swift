import CachePolicy
import ProxyConfig
import SQLAnalysis

/// The result cache's counters as the console shows them (`SHOW CACHE`, `SHOW CACHE
/// STATUS`): the proxy copies them from its `CacheStats` and Redis connection.
public struct CacheFigures: Sendable, Equatable {
    /// Counters of one rule since start.
    public struct Rule: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var fills = 0
        public var fillsRefused = 0
        public var bytesStored = 0
        public init(hits: Int = 0, misses: Int = 0, fills: Int = 0, fillsRefused: Int = 0, bytesStored: Int = 0) {
            self.hits = hits; self.misses = misses; self.fills = fills
            self.fillsRefused = fillsRefused; self.bytesStored = bytesStored
        }
    }

    public var rules: [String: Rule] = [:]
    public var redisUp = false
    public var joined = false
    public var publications = 0
    public var epochBumps = 0
    public var publicationsOwed = 0
    /// Requests not looked up, by category (`shape`, `session`, `not_cacheable`, `no_rule`,
    /// `unavailable`, `catalog`), every category listed.
    public var bypasses: [(category: String, count: Int)] = []
    /// Bypass and fill-refusal reasons in words, with their counts.
    public var bypassReasons: [String: Int] = [:]
    public var fillRefusals: [String: Int] = [:]
    /// Databases whose catalog snapshot is loaded.
    public var catalogsLoaded: [String] = []
    /// This instance's local copy (docs/caching.md, "Local copies").
    public var local = Local()
    public struct Local: Sendable, Equatable {
        public var hits = 0, entries = 0, bytes = 0
        public var solo = false
        public init() {}
    }

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.rules == b.rules && a.redisUp == b.redisUp && a.joined == b.joined && a.publications == b.publications
            && a.epochBumps == b.epochBumps && a.publicationsOwed == b.publicationsOwed
            && a.bypasses.map(\.category) == b.bypasses.map(\.category) && a.bypasses.map(\.count) == b.bypasses.map(\.count)
            && a.bypassReasons == b.bypassReasons && a.fillRefusals == b.fillRefusals && a.catalogsLoaded == b.catalogsLoaded
            && a.local == b.local
    }
}

/// The console's cache commands, without I/O: their columns and rows, `EXPLAIN CACHE`'s
/// explanation, and the write set of `INVALIDATE table`.
public enum AdminCache {
    /// How many reasons of each kind `SHOW CACHE STATUS` lists, most frequent first.
    public static let reasonsShown = 5

    /// `SHOW CACHE`: counts are numeric, `hit_ratio` is hits / (hits + misses) with 3
    /// decimals (NULL before any lookup), `ttl` in seconds (NULL for an exclusion rule).
    public static let columns: [AdminColumn] =
        [AdminColumn("rule", .text), AdminColumn("tier", .text), AdminColumn("ttl", .numeric)]
        + ["hits", "misses", "hit_ratio", "fills", "fills_refused", "bytes_stored"].map { AdminColumn($0, .numeric) }

    /// `SHOW CACHE STATUS`: one figure per row; `detail` names a bypass category or gives a
    /// reason in words.
    public static let statusColumns = [AdminColumn("item", .text), AdminColumn("value", .numeric), AdminColumn("detail", .text)]

    /// `EXPLAIN CACHE`: one part of the explanation per row.
    public static let explainColumns = [AdminColumn("item", .text), AdminColumn("value", .text)]

    /// One row per configured rule in order (then rules counted before a RELOAD removed
    /// them), then `total`.
    public static func rows(_ f: CacheFigures, config: CacheConfig) -> [[String?]] {
        var out: [[String?]] = []
        var total = CacheFigures.Rule()
        var seen: Set<String> = []
        func add(_ name: String, tier: String?, ttl: String?, _ r: CacheFigures.Rule) {
            out.append([name, tier, ttl] + figures(r))
            total.hits += r.hits; total.misses += r.misses; total.fills += r.fills
            total.fillsRefused += r.fillsRefused; total.bytesStored += r.bytesStored
        }
        for rule in config.rules where seen.insert(rule.name).inserted {
            let tier = config.tiers.first(where: { $0.name == rule.tier })
            let ttl = rule.cache ? tier.map { AdminConfigRows.number($0.ttl) } : nil
            add(rule.name, tier: rule.cache ? rule.tier : nil, ttl: ttl, f.rules[rule.name] ?? CacheFigures.Rule())
        }
        for name in f.rules.keys.sorted() where !seen.contains(name) { add(name, tier: nil, ttl: nil, f.rules[name]!) }
        out.append(["total", nil, nil] + figures(total))
        return out
    }

    private static func figures(_ r: CacheFigures.Rule) -> [String?] {
        let looked = r.hits + r.misses
        let ratio: String? = looked == 0 ? nil : decimal(Double(r.hits) / Double(looked))
        return ["\(r.hits)", "\(r.misses)", ratio, "\(r.fills)", "\(r.fillsRefused)", "\(r.bytesStored)"]
    }

    /// `0.667`: three decimals, without Foundation.
    static func decimal(_ x: Double) -> String {
        let thousandths = Int((x * 1000).rounded())
        let frac = thousandths % 1000
        return "\(thousandths / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }

    public static func statusRows(_ f: CacheFigures) -> [[String?]] {
        var out: [[String?]] = [
            ["redis_up", f.redisUp ? "1" : "0", nil],
            ["joined", f.joined ? "1" : "0", f.joined ? "serving from the cache" : "not serving from the cache (Redis down, joining, or owing publications)"],
            ["catalogs_loaded", "\(f.catalogsLoaded.count)", f.catalogsLoaded.joined(separator: ", ")],
            ["publications", "\(f.publications)", nil],
            ["epoch_bumps", "\(f.epochBumps)", nil],
            ["publications_owed", "\(f.publicationsOwed)", nil],
            ["local_solo", f.local.solo ? "1" : "0", f.local.solo ? "the only instance on the Redis: the local copy serves"
                                                               : "the local copy is off, or another instance shares the Redis"],
            ["local_hits", "\(f.local.hits)", "answered from the local copy, with no Redis round trip"],
            ["local_entries", "\(f.local.entries)", nil],
            ["local_bytes", "\(f.local.bytes)", nil],
        ]
        for b in f.bypasses { out.append(["bypasses", "\(b.count)", b.category]) }
        for (reason, n) in top(f.bypassReasons) { out.append(["bypass_reason", "\(n)", reason]) }
        for (reason, n) in top(f.fillRefusals) { out.append(["fill_refusal", "\(n)", reason]) }
        return out
    }

    private static func top(_ counts: [String: Int]) -> [(String, Int)] {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(reasonsShown).map { ($0.key, $0.value) }
    }

    // MARK: EXPLAIN CACHE

    /// What the cache does with `analysis` (of `sql`) for a session of `session.role` on
    /// `database` with default settings: the rule, tier, TTL, key parts and tags, or the
    /// reason it is not cached; for a write, what it invalidates when it commits.
    public static func explain(sql: String, analysis: Analysis, database: String, policy: CachePolicy,
                               session: SessionContext, catalog: CatalogSnapshot) -> AdminResultSet {
        var rows: [[String?]] = []
        func row(_ item: String, _ value: String) { rows.append([item, value]) }
        switch policy.decide(analysis, session: session, catalog: catalog) {
        case .cache(let plan):
            row("decision", "cached")
            row("rule", plan.rule)
            row("tier", plan.tier)
            row("ttl", AdminConfigRows.number(plan.ttl) + " s")
            row("key: database", "\(database) (\(session.database))")
            row("key: role", plan.shared ? "not keyed: rule \"\(plan.rule)\" is shared across roles" : session.role)
            for name in CacheKey.resultSettings {
                row("key: setting \(name)", session.settings[name] ?? "the client session's value")
            }
            row("key: statement", sql)
            row("key: protocol", "simple Query, or extended (Parse/Bind/Execute) with its parameter types, "
                + "parameter formats and values, result formats and Describe: each protocol has its own entries")
            row("depends on", "epoch")
            for tag in plan.tags { row("depends on", describe(tag, catalog)) }
        case .bypass(let reason):
            row("decision", "not cached")
            row("reason", reason)
        }
        let writes = policy.writeSet(analysis, session: session, catalog: catalog)
        if let reason = writes.epochReason {
            row("invalidates", "every entry of the database (epoch): \(reason)")
        } else {
            for tag in writes.sortedTags { row("invalidates", describe(tag, catalog)) }
        }
        return AdminResultSet(columns: explainColumns, rows: rows, tag: "EXPLAIN")
    }

    /// A tag with its relation's name: `public.orders (rows)`, `public.orders (any column)`,
    /// `public.orders.status` (as `pgstash analyze` prints them).
    public static func describe(_ tag: InvalidationTag, _ catalog: CatalogSnapshot) -> String {
        let table = catalog.relation(tag.relation)?.qualifiedName ?? "relation \(tag.relation)"
        switch tag.scope {
        case .rows: return "\(table) (rows)"
        case .allColumns: return "\(table) (any column)"
        case .column(let c): return "\(table).\(c)"
        }
    }

    // MARK: INVALIDATE

    /// The tags `INVALIDATE table` bumps: `rows` and `all` of the relation, of its partitions,
    /// inheritance children and parents (their scans include its rows), and of a view's base
    /// relations. Every cached read of a relation depends on its `rows` tag; `all` is bumped
    /// too, as an UPDATE of unknown columns would. A bare name is resolved through the default
    /// `search_path` of `role`.
    public static func invalidation(_ table: TableName, catalog: CatalogSnapshot, role: String) -> Result<WriteSet, AdminError> {
        let path = SearchPath(SearchPath.defaultValue, role: role)
        guard let r = path.resolve(table, in: catalog) else {
            return .failure(AdminError(AdminSQLState.undefinedTable, "relation \"\(table)\" does not exist in the catalog snapshot",
                                       hint: "Name it as the default search_path (\(path.schemas.joined(separator: ", "))) finds it, or qualify it with its schema."))
        }
        var tags: Set<InvalidationTag> = []
        var stack: [Oid] = [r.oid]
        var seen: Set<Oid> = []
        while let oid = stack.popLast() {
            guard seen.insert(oid).inserted else { continue }
            for member in catalog.family(of: oid) {
                tags.insert(.rows(member))
                tags.insert(.allColumns(member))
                if let rel = catalog.relation(member), rel.kind == .view { stack += rel.viewBases }
            }
            if let rel = catalog.relation(oid), rel.kind == .view { stack += rel.viewBases }
        }
        return .success(WriteSet(tags: tags))
    }
}
