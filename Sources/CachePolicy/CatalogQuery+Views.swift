import SQLAnalysis

/// What `pg_depend` cannot say about a view. PostgreSQL records no dependency on a *pinned*
/// object (everything initdb's bootstrap creates: `random()`, `now()`, `pg_class`…), so a view
/// over `pg_class` has no base relation there and a view calling `random()` no volatile
/// function. Its definition (`pg_get_viewdef`, read with `search_path = pg_catalog`, so every
/// name outside `pg_catalog` is qualified) is analysed like a query to find them.
enum ViewDefinition {
    /// Adds the system relations `definition` reads to `view.viewBases` and sets
    /// `callsVolatileFunctions` when it calls a function that is not immutable, or when it
    /// cannot be analysed.
    ///
    /// `systemRelations` maps `schema.name` of every `pg_catalog`/`information_schema` relation
    /// to its oid.
    static func apply(_ definition: String, to view: inout RelationInfo, systemRelations: [String: Oid],
                      functions: FunctionTable) {
        guard case .statements(let list) = SQLAnalyzer.analyze(definition), list.count == 1 else {
            view.callsVolatileFunctions = true
            return
        }
        let s = list[0]
        for table in s.tablesRead {
            let schema = table.schema ?? "pg_catalog"
            guard schema == "pg_catalog" || schema == "information_schema" else { continue }
            guard let oid = systemRelations["\(schema).\(table.name)"] else {
                view.callsVolatileFunctions = true
                continue
            }
            if !view.viewBases.contains(oid) { view.viewBases.append(oid) }
        }
        let unknown = Set(s.unknownFunctions)
        let knownVolatile = s.volatileFunctions.filter { !unknown.contains($0) }
        let notImmutable = s.unknownFunctions.filter { !functions.isImmutable($0) }
        if !knownVolatile.isEmpty || !notImmutable.isEmpty { view.callsVolatileFunctions = true }
        // Any other reason the analyser gives (TABLESAMPLE without REPEATABLE, FOR UPDATE, a
        // definition nested too deeply) counts as volatile too: the view is never cached.
        let explained = !unknown.isEmpty || !s.systemCatalogs.isEmpty || !s.temporaryTables.isEmpty
        if !s.cacheable, !explained { view.callsVolatileFunctions = true }
    }
}

/// `pg_proc` as the `functions` query returns it: user functions with their volatility, and the
/// `pg_catalog` functions that are not immutable.
struct FunctionTable {
    /// `schema.name` → the `provolatile` of each overload.
    private var bySchemaName: [String: Set<Character>] = [:]
    /// Bare name → the `provolatile` of each overload in any user schema.
    private var userByName: [String: Set<Character>] = [:]

    init(rows: [[String?]]) throws(CatalogQueryError) {
        for (i, row) in rows.enumerated() {
            guard row.count == 3, let schema = row[0], let name = row[1], let v = row[2], v.count == 1,
                  "vsi".contains(v) else {
                throw CatalogQueryError(query: "functions", row: i, message: "expected schema, name and provolatile")
            }
            let volatility = Character(v)
            bySchemaName["\(schema).\(name)", default: []].insert(volatility)
            if Self.isUserSchema(schema) { userByName[name, default: []].insert(volatility) }
        }
    }

    /// Not `pg_catalog`, `information_schema`, `pg_toast` or a `pg_temp_N` schema.
    static func isUserSchema(_ schema: String) -> Bool {
        !schema.hasPrefix("pg_") && schema != "information_schema"
    }

    /// User functions every overload of which is `STABLE` or `IMMUTABLE`, by `schema.name` and,
    /// when no user schema has a volatile one of that name and `pg_catalog` none that is not
    /// immutable, by bare name.
    var nonVolatileUserFunctions: Set<String> {
        var out: Set<String> = []
        for (key, volatility) in bySchemaName where !volatility.contains("v") {
            let schema = key.split(separator: ".", maxSplits: 1).first.map(String.init) ?? ""
            if Self.isUserSchema(schema) { out.insert(key) }
        }
        for (name, volatility) in userByName where !volatility.contains("v") && bySchemaName["pg_catalog.\(name)"] == nil {
            out.insert(name)
        }
        return out
    }

    /// Whether a function named as a view definition writes it is immutable (every overload).
    /// An unqualified name is one of `pg_catalog`, whose immutable functions are not listed.
    func isImmutable(_ written: String) -> Bool {
        guard let dot = written.lastIndex(of: ".") else { return bySchemaName["pg_catalog.\(written)"] == nil }
        if written[..<dot] == "pg_catalog" { return bySchemaName[written] == nil }
        guard let volatility = bySchemaName[written] else { return false }
        return volatility == ["i"]
    }
}
