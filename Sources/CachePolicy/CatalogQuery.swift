import SQLAnalysis

/// How pgstash reads a `CatalogSnapshot` from `pg_catalog`: the SQL (`script`, one simple-protocol
/// round trip) and a pure function from its text result rows to the snapshot. The I/O lives in
/// the proxy (`CatalogLoader`); this part is tested with row sets and against real PostgreSQL.
///
/// The SQL runs on PostgreSQL 12–17. It reads, in one `REPEATABLE READ` transaction so that the
/// four result sets agree with each other:
/// 1. `relations`: every table, partitioned table, view, materialized view and foreign table
///    (sequences, indexes, TOAST tables and composite types are left out), with its triggers or
///    rules, parents, and for a view its base relations, its definition and whether it depends
///    on a volatile function;
/// 2. `columns`: the columns of relations outside `pg_catalog`/`information_schema` (those are
///    never cacheable, so their columns do not matter);
/// 3. `foreignKeys`: foreign keys with a writing action, one row per key column;
/// 4. `functions`: every function outside `pg_catalog`, and the `pg_catalog` ones that are not
///    `IMMUTABLE`.
public enum CatalogQuery {
    /// The result sets of `script`, in order.
    public static let queries = [relations, columns, foreignKeys, functions]

    /// Starts the transaction the queries run in. `search_path` is only `pg_catalog` so that
    /// `pg_get_viewdef` qualifies every name outside it (`definition` is read that way).
    public static let transactionStart = """
        BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
        SET LOCAL search_path = pg_catalog;
        SET LOCAL statement_timeout = '60s';
        SET LOCAL lock_timeout = '10s'
        """

    /// One simple query string: the transaction, the four queries, `COMMIT`. Its result sets
    /// with rows (`PGRES_TUPLES_OK`), in order, are what `snapshot(from:)` takes.
    public static let script = ([transactionStart] + queries + ["COMMIT"]).joined(separator: ";\n")

    /// oid, schema, name, relkind, relpersistence, relrowsecurity, has triggers or rules,
    /// parents (`oid[]`), view bases (`oid[]`), depends on a volatile function, view definition.
    public static let relations = """
        SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity,
          EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                  WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D')
            OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename <> '_RETURN'),
          (SELECT pg_catalog.array_agg(i.inhparent ORDER BY i.inhseqno)
             FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
          CASE WHEN c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN
            (SELECT pg_catalog.array_agg(DISTINCT d.refobjid)
               FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
              WHERE w.ev_class = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refobjid <> c.oid) END,
          CASE WHEN c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN
            EXISTS (SELECT 1
               FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
               JOIN pg_catalog.pg_proc p ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.refobjid
              WHERE w.ev_class = c.oid AND p.provolatile = 'v') END,
          CASE WHEN c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') THEN
            pg_catalog.pg_get_viewdef(c.oid) END
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY c.oid
        """

    /// attrelid, attname, stored generated (`attgenerated = 's'`), in column order.
    public static let columns = """
        SELECT a.attrelid, a.attname, a.attgenerated = 's'
        FROM pg_catalog.pg_attribute a
          JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        ORDER BY a.attrelid, a.attnum
        """

    /// Constraint oid, referenced table, referencing table, confdeltype, confupdtype, and per key
    /// column (in key order) the referencing and the referenced column's name.
    public static let foreignKeys = """
        SELECT k.oid, k.confrelid, k.conrelid, k.confdeltype, k.confupdtype, ra.attname, fa.attname
        FROM pg_catalog.pg_constraint k
          CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey))
            WITH ORDINALITY AS x(conattnum, confattnum, i)
          JOIN pg_catalog.pg_attribute ra ON ra.attrelid = k.conrelid AND ra.attnum = x.conattnum
          JOIN pg_catalog.pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = x.confattnum
        WHERE k.contype = 'f' AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))
        ORDER BY k.oid, x.i
        """

    /// Schema, name, provolatile of every function outside `pg_catalog`, and of the
    /// `pg_catalog` ones that are not `IMMUTABLE` (a view calling one is not cacheable).
    public static let functions = """
        SELECT n.nspname, p.proname, p.provolatile
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname <> 'pg_catalog' OR p.provolatile <> 'i'
        """

    /// The snapshot the result sets of `script` describe (`results[i]` answers `queries[i]`;
    /// text format, NULL as nil).
    public static func snapshot(from results: [[[String?]]]) throws(CatalogQueryError) -> CatalogSnapshot {
        guard results.count == queries.count else {
            throw CatalogQueryError(query: "script", row: nil,
                                    message: "expected \(queries.count) result sets, got \(results.count)")
        }
        let functionTable = try FunctionTable(rows: results[3])
        var relations = try relationRows(results[0])
        try addColumns(results[1], to: &relations.byOid)
        try addForeignKeys(results[2], to: &relations.byOid)
        var systemRelations: [String: Oid] = [:]
        for r in relations.byOid.values where r.isSystemCatalog { systemRelations[r.qualifiedName] = r.oid }
        var list: [RelationInfo] = []
        list.reserveCapacity(relations.order.count)
        for oid in relations.order {
            guard var r = relations.byOid[oid] else { continue }
            if let definition = relations.definitions[oid] {
                ViewDefinition.apply(definition, to: &r, systemRelations: systemRelations, functions: functionTable)
            }
            list.append(r)
        }
        return CatalogSnapshot(relations: list, nonVolatileFunctions: functionTable.nonVolatileUserFunctions)
    }

    // MARK: - Rows

    private struct RelationRows {
        var order: [Oid] = []
        var byOid: [Oid: RelationInfo] = [:]
        var definitions: [Oid: String] = [:]
    }

    private static func relationRows(_ rows: [[String?]]) throws(CatalogQueryError) -> RelationRows {
        var out = RelationRows()
        for (i, row) in rows.enumerated() {
            let f = Fields(query: "relations", row: i, values: row, count: 11)
            try f.check()
            let oid = try f.oid(0)
            let kind: RelationKind
            switch try f.text(3) {
            case "r": kind = .table
            case "p": kind = .partitionedTable
            case "v": kind = .view
            case "m": kind = .materializedView
            case "f": kind = .foreignTable
            default: continue
            }
            let info = RelationInfo(
                oid: oid, schema: try f.text(1), name: try f.text(2), kind: kind,
                isTemporary: try f.text(4) == "t", hasRowSecurity: try f.bool(5), hasUserTriggers: try f.bool(6),
                parents: try f.oidArray(7), viewBases: try f.oidArray(8),
                callsVolatileFunctions: try f.optionalBool(9) ?? false)
            if out.byOid.updateValue(info, forKey: oid) == nil { out.order.append(oid) }
            if kind == .view, let definition = f.values[10] { out.definitions[oid] = definition }
        }
        return out
    }

    private static func addColumns(_ rows: [[String?]], to relations: inout [Oid: RelationInfo]) throws(CatalogQueryError) {
        for (i, row) in rows.enumerated() {
            let f = Fields(query: "columns", row: i, values: row, count: 3)
            try f.check()
            let oid = try f.oid(0)
            let name = try f.text(1)
            let generated = try f.optionalBool(2) ?? false
            guard relations[oid] != nil else { continue }
            relations[oid]!.columns.append(name)
            if generated { relations[oid]!.generatedColumns.append(name) }
        }
    }

    private static func addForeignKeys(_ rows: [[String?]], to relations: inout [Oid: RelationInfo]) throws(CatalogQueryError) {
        var current: (constraint: Oid, referenced: Oid, action: ForeignKeyAction)?
        func flush() {
            guard let c = current, relations[c.referenced] != nil else { return }
            relations[c.referenced]!.referencedBy.append(c.action)
        }
        for (i, row) in rows.enumerated() {
            let f = Fields(query: "foreignKeys", row: i, values: row, count: 7)
            try f.check()
            let constraint = try f.oid(0)
            let referencingColumn = try f.text(5), referencedColumn = try f.text(6)
            if current?.constraint == constraint {
                current!.action.referencingColumns.append(referencingColumn)
                current!.action.referencedColumns.append(referencedColumn)
                continue
            }
            flush()
            let onDelete = try f.action(3, onDelete: true), onUpdate = try f.action(4, onDelete: false)
            current = (constraint, try f.oid(1),
                       ForeignKeyAction(referencing: try f.oid(2), referencingColumns: [referencingColumn],
                                        referencedColumns: [referencedColumn], onDelete: onDelete, onUpdate: onUpdate))
        }
        flush()
    }
}

/// A result row that does not have the shape `CatalogQuery` expects (a PostgreSQL version that
/// answers differently, or rows from another query).
public struct CatalogQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `relations`, `columns`, `foreignKeys`, `functions`, or `script`.
    public var query: String
    /// The row, counted from 0; nil when the result sets as a whole are wrong.
    public var row: Int?
    public var message: String

    public init(query: String, row: Int?, message: String) {
        self.query = query
        self.row = row
        self.message = message
    }

    public var description: String {
        "catalog query \(query)" + (row.map { ", row \($0)" } ?? "") + ": \(message)"
    }
}

/// The text-format fields of one row.
private struct Fields {
    let query: String
    let row: Int
    let values: [String?]
    let count: Int

    func fail(_ column: Int, _ message: String) -> CatalogQueryError {
        CatalogQueryError(query: query, row: row, message: "column \(column): \(message)")
    }

    func check() throws(CatalogQueryError) {
        guard values.count == count else {
            throw CatalogQueryError(query: query, row: row, message: "expected \(count) columns, got \(values.count)")
        }
    }

    func text(_ i: Int) throws(CatalogQueryError) -> String {
        guard let v = values[i] else { throw fail(i, "unexpected NULL") }
        return v
    }

    func oid(_ i: Int) throws(CatalogQueryError) -> Oid {
        let v = try text(i)
        guard let oid = Oid(v) else { throw fail(i, "\"\(v)\" is not an oid") }
        return oid
    }

    func optionalBool(_ i: Int) throws(CatalogQueryError) -> Bool? {
        switch values[i] {
        case nil: return nil
        case "t": return true
        case "f": return false
        case let v?: throw fail(i, "\"\(v)\" is not a boolean")
        }
    }

    func bool(_ i: Int) throws(CatalogQueryError) -> Bool {
        guard let b = try optionalBool(i) else { throw fail(i, "unexpected NULL") }
        return b
    }

    /// An `oid[]` in text form (`{16384,16390}`); NULL is empty.
    func oidArray(_ i: Int) throws(CatalogQueryError) -> [Oid] {
        guard let v = values[i] else { return [] }
        guard v.hasPrefix("{"), v.hasSuffix("}") else { throw fail(i, "\"\(v)\" is not an array") }
        let body = v.dropFirst().dropLast()
        if body.isEmpty { return [] }
        var out: [Oid] = []
        for item in body.split(separator: ",", omittingEmptySubsequences: false) {
            guard let oid = Oid(item) else { throw fail(i, "\"\(v)\" is not an oid array") }
            out.append(oid)
        }
        return out
    }

    /// `confdeltype`/`confupdtype`: `a` (NO ACTION) and `r` (RESTRICT) never write; `c` (CASCADE)
    /// deletes rows on delete and updates the key on update; `n`/`d` (SET NULL/DEFAULT) update it.
    func action(_ i: Int, onDelete: Bool) throws(CatalogQueryError) -> ForeignKeyAction.Effect? {
        switch try text(i) {
        case "a", "r": return nil
        case "c": return onDelete ? .deletesRows : .updatesColumns
        case "n", "d": return .updatesColumns
        case let v: throw fail(i, "\"\(v)\" is not a referential action")
        }
    }
}
