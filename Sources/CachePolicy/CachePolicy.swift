import ProxyConfig
import SQLAnalysis

/// What to do with a read: cache it under a rule, or send it to PostgreSQL and say why.
public enum CacheDecision: Sendable, Equatable {
    /// Look the result up and fill on a miss, as `plan` says.
    case cache(CachePlan)
    /// Never served from or stored in the cache; `reason` is in words for a DBA (EXPLAIN CACHE, logs).
    case bypass(reason: String)

    /// The plan, when the decision is to cache.
    public var plan: CachePlan? {
        if case .cache(let p) = self { return p }
        return nil
    }

    /// The reason, when the decision is to bypass.
    public var reason: String? {
        if case .bypass(let r) = self { return r }
        return nil
    }
}

/// How a cacheable read is cached.
public struct CachePlan: Sendable, Equatable {
    /// The rule that matched.
    public var rule: String
    public var tier: String
    /// Seconds an entry lives (the tier's TTL).
    public var ttl: Double
    /// Entries are shared across roles (the role is left out of the key).
    public var shared: Bool
    /// The version tags the entry depends on, sorted; the epoch comes on top of them.
    public var tags: [InvalidationTag]
}

/// The pure cache policy of architecture.md §6 and cache.md: rules, tiers, keys, the
/// cacheability of a read given the catalog, and the invalidation sets of reads and writes.
public struct CachePolicy: Sendable {
    public let config: CacheConfig
    public let matcher: RuleMatcher

    public init(config: CacheConfig) {
        self.config = config
        self.matcher = RuleMatcher(rules: config.rules)
    }

    /// Whether a query string's result may be cached, and how.
    public func decide(_ analysis: Analysis, session: SessionContext, catalog: CatalogSnapshot) -> CacheDecision {
        switch analysis {
        case .error:
            return .bypass(reason: "the SQL does not parse")
        case .statements(let list):
            if list.isEmpty { return .bypass(reason: "the query is empty") }
            if list.count > 1 { return .bypass(reason: "a query string with \(list.count) statements is never cached") }
            return decide(list[0], session: session, catalog: catalog)
        }
    }

    /// Whether one statement's result may be cached, and how. The first refusal that applies
    /// is reported: cache off, the analyser's verdict, names the catalog cannot resolve, the
    /// kind of relation, then the rules.
    public func decide(_ s: StatementAnalysis, session: SessionContext, catalog: CatalogSnapshot) -> CacheDecision {
        guard config.enabled else { return .bypass(reason: "the cache is disabled ([cache] enabled = false)") }
        if let reason = s.reason, !s.cacheable { return .bypass(reason: reason) }
        let searchPath = session.searchPath
        var named: [RelationInfo] = []
        for table in s.tablesRead {
            if table.schema == nil, session.hasTemporaryTables {
                return .bypass(reason: "the session has temporary tables, one of which may be what \(table) names")
            }
            guard let r = searchPath.resolve(table, in: catalog) else {
                return .bypass(reason: "table \(table) \(Self.notInCatalog) (search_path: "
                    + "\(searchPath.schemas.joined(separator: ", ")))")
            }
            if !named.contains(where: { $0.oid == r.oid }) { named.append(r) }
        }
        var bases: [RelationInfo] = []
        for r in named {
            switch Relations.expand(r, catalog) {
            case .failure(let refusal): return .bypass(reason: refusal.reason)
            case .success(let list): for b in list where !bases.contains(where: { $0.oid == b.oid }) { bases.append(b) }
            }
            if let reason = Relations.refusal(r) { return .bypass(reason: reason) }
        }
        for b in bases { if let reason = Relations.refusal(b) { return .bypass(reason: reason) } }
        guard let rule = matcher.firstMatch(s, relations: named, searchPath: searchPath, catalog: catalog) else {
            return .bypass(reason: "no cache rule covers it")
        }
        guard rule.cache else { return .bypass(reason: "cache rule \"\(rule.name)\" excludes it") }
        guard let tier = config.tiers.first(where: { $0.name == rule.tier }) else {
            return .bypass(reason: "cache rule \"\(rule.name)\" names tier \"\(rule.tier)\", which is not defined")
        }
        return .cache(CachePlan(rule: rule.name, tier: tier.name, ttl: tier.ttl, shared: rule.shared,
                                tags: ReadTags.tags(s, named: named, catalog: catalog)))
    }

    /// The key input of a planned read; the role is left out when the rule is shared.
    public func keyInput(_ plan: CachePlan, session: SessionContext, statement: String,
                         protocolKind: QueryProtocol = .simple, parameterTypes: [UInt32] = [],
                         parameterFormats: [Int16] = [], parameterValues: [[UInt8]?] = [],
                         resultFormats: [Int16] = []) -> CacheKeyInput {
        var settings: [String: String] = [:]
        for name in CacheKey.resultSettings { settings[name] = session.settings[name] }
        return CacheKeyInput(database: session.database, role: plan.shared ? nil : session.role, settings: settings,
                             statement: statement, protocolKind: protocolKind, parameterTypes: parameterTypes,
                             parameterFormats: parameterFormats, parameterValues: parameterValues,
                             resultFormats: resultFormats)
    }

    /// The words of a refusal because a name is not in the catalog snapshot (the proxy then
    /// reads the catalog again: the relation may be new).
    public static let notInCatalog = "is not in the catalog snapshot"

    /// Nil when a captured result of `byteCount` bytes may be stored, else why not.
    public func refusalToStore(byteCount: Int) -> String? {
        guard byteCount > config.maxResultBytes else { return nil }
        return "the result is \(byteCount) bytes, more than [cache] max_result_bytes (\(config.maxResultBytes))"
    }

    /// What a query string bumps when it commits (empty for a plain read). A transaction's
    /// write set is the union over its statements.
    public func writeSet(_ analysis: Analysis, session: SessionContext, catalog: CatalogSnapshot) -> WriteSet {
        switch analysis {
        case .error(let message, let position):
            // PostgreSQL rejects what libpg_query cannot parse, so nothing was written; but
            // SQL pgstash did not analyse (position -1) may run and write anything.
            return position < 0 ? WriteSet(epochReason: "pgstash could not analyse it: \(message)") : WriteSet()
        case .statements(let list):
            var w = WriteTags(catalog: catalog, searchPath: session.searchPath,
                              sessionHasTemporaryTables: session.hasTemporaryTables)
            for s in list { w.add(s) }
            return w.result
        }
    }
}

/// The tags a cached read depends on (cache.md §2 column level, §1.8 views).
enum ReadTags {
    static func tags(_ s: StatementAnalysis, named: [RelationInfo], catalog: CatalogSnapshot) -> [InvalidationTag] {
        var tags: Set<InvalidationTag> = []
        for r in named {
            if r.kind == .view {
                // A view may use any column of its bases: depend on every column.
                let bases = (try? Relations.expand(r, catalog).get()) ?? []
                for b in bases { tags.insert(.rows(b.oid)); tags.insert(.allColumns(b.oid)) }
                continue
            }
            tags.insert(.rows(r.oid))
            if s.referencesAllColumns || r.columns.isEmpty {
                tags.insert(.allColumns(r.oid))
            } else {
                let columns = Set(r.columns)
                for c in s.columnsReferenced where columns.contains(c) { tags.insert(.column(r.oid, c)) }
            }
        }
        return tags.sorted()
    }
}

/// The relations behind a name, and the kinds of relation never cached.
enum Relations {
    /// Why a relation read (directly or through a view) can never be cached, or nil.
    static func refusal(_ r: RelationInfo) -> String? {
        if r.isSystemCatalog { return "reads system catalog \(r.qualifiedName), which changes without any write pgstash sees" }
        if r.isTemporary { return "reads temporary table \(r.qualifiedName), which exists only in one session" }
        if r.kind == .foreignTable { return "reads foreign table \(r.qualifiedName), whose rows change outside PostgreSQL" }
        if r.callsVolatileFunctions {
            return "reads view \(r.qualifiedName), which calls a volatile function"
        }
        if r.hasRowSecurity {
            return "reads \(r.qualifiedName), which has row-level security: the rows a role sees are not separated by the cache key"
        }
        return nil
    }

    struct Refusal: Error { let reason: String }

    /// A view's base relations, recursively; any other relation itself.
    static func expand(_ r: RelationInfo, _ catalog: CatalogSnapshot) -> Result<[RelationInfo], Refusal> {
        guard r.kind == .view else { return .success([r]) }
        var out: [RelationInfo] = []
        var seen: Set<Oid> = [r.oid]
        var stack = r.viewBases
        if stack.isEmpty { return .success([]) }
        while let oid = stack.popLast() {
            guard seen.insert(oid).inserted else { continue }
            guard let b = catalog.relation(oid) else {
                return .failure(Refusal(reason: "view \(r.qualifiedName) depends on relation \(oid), which is not in the catalog snapshot"))
            }
            if let reason = refusal(b) { return .failure(Refusal(reason: "through view \(r.qualifiedName), " + reason)) }
            if b.kind == .view { stack += b.viewBases } else { out.append(b) }
        }
        return .success(out)
    }
}
