import SQLAnalysis

/// A session's `search_path`, parsed as PostgreSQL reads it, and name resolution through it.
public struct SearchPath: Sendable, Hashable {
    /// The schemas searched for an unqualified name, in order, `$user` replaced by the role and
    /// `pg_catalog` first unless the path names it elsewhere. `pg_temp` is left out: temporary
    /// relations are not in a catalog snapshot (see `SessionContext.hasTemporaryTables`).
    public let schemas: [String]

    /// PostgreSQL's default, `"$user", public`.
    public static let defaultValue = "\"$user\", public"

    /// Parses `value` (as `SHOW search_path` or ParameterStatus gives it): comma-separated
    /// identifiers, double-quoted ones kept as written, others folded to lower case.
    public init(_ value: String, role: String) {
        var schemas: [String] = []
        for raw in Self.split(value) {
            let name = raw == "$user" ? role : raw
            if name.isEmpty || name == "pg_temp" || schemas.contains(name) { continue }
            schemas.append(name)
        }
        if !schemas.contains("pg_catalog") { schemas.insert("pg_catalog", at: 0) }
        self.schemas = schemas
    }

    /// The relation `table` names: its own schema if written, otherwise the first schema of
    /// the path that has a relation of that name.
    public func resolve(_ table: TableName, in catalog: CatalogSnapshot) -> RelationInfo? {
        if let schema = table.schema { return catalog.relation(schema: schema, name: table.name) }
        for schema in schemas {
            if let r = catalog.relation(schema: schema, name: table.name) { return r }
        }
        return nil
    }

    /// Splits on commas outside double quotes; `""` inside quotes is one `"`.
    static func split(_ value: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var chars = Array(value)[...]
        func finish() {
            let item = wasQuoted ? current : current.trimmingCharacters(in: " \t\n\r").lowercased()
            items.append(item)
            current = ""
            wasQuoted = false
        }
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { chars.removeFirst(); current.append("\"") } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
                wasQuoted = true
                current = ""
            } else if c == "," {
                finish()
            } else if !(wasQuoted && c.isWhitespace) {
                current.append(c)
            }
        }
        if !current.isEmpty || wasQuoted || !items.isEmpty { finish() }
        return items
    }
}

extension String {
    /// The string without the given leading and trailing characters.
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
