import ProxyConfig
import SQLAnalysis

/// `[[cache.rules]]` evaluation (docs/configuration.md): rules are tried in order and the
/// first whose every set match field matches decides; `cache = false` makes it an exclusion.
public struct RuleMatcher: Sendable {
    public let rules: [CacheRule]

    public init(rules: [CacheRule]) { self.rules = rules }

    /// The first rule that matches, or nil.
    /// - Parameters:
    ///   - statement: the analysis (fingerprint and normalized text).
    ///   - relations: the relations the statement names, resolved (not expanded through views).
    ///   - searchPath: how the session resolves an unqualified rule table name.
    public func firstMatch(_ statement: StatementAnalysis, relations: [RelationInfo], searchPath: SearchPath,
                           catalog: CatalogSnapshot) -> CacheRule? {
        rules.first { matches($0, statement, relations, searchPath, catalog) }
    }

    func matches(_ rule: CacheRule, _ s: StatementAnalysis, _ relations: [RelationInfo], _ searchPath: SearchPath,
                 _ catalog: CatalogSnapshot) -> Bool {
        let hasTables = !rule.tables.isEmpty
        guard hasTables || rule.fingerprint != nil || rule.pattern != nil else { return false }
        if let fingerprint = rule.fingerprint, fingerprint.lowercased() != s.fingerprint.lowercased() { return false }
        if let pattern = rule.pattern, !s.normalized.lowercased().contains(pattern.lowercased()) { return false }
        if hasTables {
            guard !relations.isEmpty else { return false }
            for r in relations where !rule.tables.contains(where: { entry($0, names: r, searchPath, catalog) }) {
                return false
            }
        }
        return true
    }

    /// `*` names every relation; `schema.name` exactly that one; a bare `name` what the
    /// name means to this session (its search_path), so `orders` in a rule and
    /// `"public"."orders"` in a query are the same relation when public is where `orders` resolves.
    func entry(_ entry: String, names r: RelationInfo, _ searchPath: SearchPath, _ catalog: CatalogSnapshot) -> Bool {
        if entry == "*" { return true }
        if let dot = entry.firstIndex(of: ".") {
            return r.schema == entry[..<dot] && r.name == entry[entry.index(after: dot)...]
        }
        guard entry == r.name else { return false }
        return searchPath.resolve(TableName(name: entry), in: catalog)?.oid == r.oid
    }
}
