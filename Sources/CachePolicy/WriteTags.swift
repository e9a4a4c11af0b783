import SQLAnalysis

/// The tags a write statement must bump (cache.md §1.6, §1.8, §2 column level): per written
/// relation, its row tag or, for an UPDATE of known columns, its column tags; the same for its
/// partition/inheritance family; then the tables its foreign-key actions write. Anything whose
/// effects cannot be seen from the statement and the catalog bumps the epoch.
struct WriteTags {
    let catalog: CatalogSnapshot
    let searchPath: SearchPath
    let sessionHasTemporaryTables: Bool
    var result = WriteSet()
    /// (relation, how its rows changed) already followed through its foreign keys.
    private var visitedRows: Set<RowVisit> = []
    private var visitedColumns: Set<InvalidationTag> = []

    init(catalog: CatalogSnapshot, searchPath: SearchPath, sessionHasTemporaryTables: Bool) {
        self.catalog = catalog
        self.searchPath = searchPath
        self.sessionHasTemporaryTables = sessionHasTemporaryTables
    }

    mutating func add(_ s: StatementAnalysis) {
        switch s.kind {
        case .select, .copyTo, .declareCursor:
            if s.createsTableFromQuery {
                result.bumpEpoch("SELECT INTO creates a table, which changes what names resolve to")
                result.changesCatalog = true
            } else if s.hasDataModifyingCTE {
                writeRows(s.tablesWritten, .any)
            }
        case .insert, .copyFrom:
            writeRows(s.tablesWritten, .inserted)
        case .delete, .truncate:
            writeRows(s.tablesWritten, .deleted)
        case .merge:
            writeRows(s.tablesWritten, .any)
        case .update:
            if s.tablesWritten.count == 1, !s.hasDataModifyingCTE, !s.columnsAssigned.isEmpty {
                writeColumns(s.tablesWritten[0], s.columnsAssigned)
            } else {
                writeRows(s.tablesWritten, .any)
            }
        case .ddl:
            result.bumpEpoch("DDL (\(s.nodeType)) may change any relation and what names resolve to")
            result.changesCatalog = true
        case .call:
            result.bumpEpoch("CALL runs a procedure, which may write any table")
        case .do:
            result.bumpEpoch("DO runs a code block, which may write any table")
        case .commitPrepared:
            result.bumpEpoch("COMMIT PREPARED commits writes pgstash did not see")
        case .execute:
            result.bumpEpoch("EXECUTE runs a prepared statement whose writes are not known here")
        case .explain where s.explainAnalyze && (s.isWrite || !s.tablesWritten.isEmpty):
            result.bumpEpoch("EXPLAIN ANALYZE executes a write")
        case .other:
            result.bumpEpoch("\(s.nodeType.isEmpty ? "an unrecognised statement" : s.nodeType) may write")
        default:
            break
        }
        let userFunctions = s.unknownFunctions.filter { !catalog.nonVolatileFunctions.contains($0) }
        if !userFunctions.isEmpty {
            result.bumpEpoch("calls \(userFunctions.map { "\($0)()" }.joined(separator: ", ")), which may write any table")
        }
    }

    /// How rows changed, which decides the referential actions that fire.
    enum RowChange {
        /// INSERT, COPY FROM: no row goes away, but `ON CONFLICT DO UPDATE` may update
        /// referenced keys, so `ON UPDATE` actions fire.
        case inserted
        /// DELETE, TRUNCATE (with CASCADE, referencing tables are emptied too): `ON DELETE` actions.
        case deleted
        /// MERGE, data-modifying CTEs, UPDATEs of unknown columns: both.
        case any
    }

    struct RowVisit: Hashable {
        let relation: Oid
        let change: RowChange
    }

    /// INSERT, DELETE, MERGE, COPY FROM, TRUNCATE, and UPDATEs of unknown columns.
    private mutating func writeRows(_ tables: [TableName], _ change: RowChange) {
        for table in tables {
            guard let r = resolve(table) else { continue }
            rowsChanged(r.oid, change)
        }
    }

    private mutating func writeColumns(_ table: TableName, _ columns: [String]) {
        guard let r = resolve(table) else { return }
        columnsChanged(r.oid, columns)
    }

    private mutating func resolve(_ table: TableName) -> RelationInfo? {
        if table.schema == nil, sessionHasTemporaryTables {
            result.bumpEpoch("the session has temporary tables, so \(table) may name one of them")
            return nil
        }
        guard let r = searchPath.resolve(table, in: catalog) else {
            result.bumpEpoch("\(table) is not in the catalog snapshot")
            return nil
        }
        return r
    }

    /// The targets of a write through a view are its base relations.
    private func bases(_ oid: Oid) -> [Oid] {
        guard let r = catalog.relation(oid), r.kind == .view else { return [oid] }
        var out: [Oid] = []
        var seen: Set<Oid> = [oid]
        var stack = r.viewBases
        while let b = stack.popLast() {
            guard seen.insert(b).inserted else { continue }
            if let br = catalog.relation(b), br.kind == .view { stack += br.viewBases } else { out.append(b) }
        }
        return out
    }

    /// Rows of `oid` were inserted, deleted or changed in unknown columns. Its referential
    /// actions may fire either way (MERGE and `ON CONFLICT DO UPDATE` update, DELETE deletes).
    private mutating func rowsChanged(_ oid: Oid, _ change: RowChange) {
        // A write through a view runs its INSTEAD OF triggers or rules, which its bases do not show.
        if let view = catalog.relation(oid), view.kind == .view { noteTriggers(view) }
        for base in bases(oid) {
            for member in catalog.family(of: base) {
                result.tags.insert(.rows(member))
                guard visitedRows.insert(RowVisit(relation: member, change: change)).inserted,
                      let r = catalog.relation(member) else { continue }
                noteTriggers(r)
                for fk in r.referencedBy {
                    let fired: [ForeignKeyAction.Effect?]
                    switch change {
                    case .inserted: fired = [fk.onUpdate]
                    case .deleted: fired = [fk.onDelete]
                    case .any: fired = [fk.onDelete, fk.onUpdate]
                    }
                    for effect in fired.compactMap({ $0 }) {
                        switch effect {
                        case .deletesRows: rowsChanged(fk.referencing, .deleted)
                        case .updatesColumns: columnsChanged(fk.referencing, fk.referencingColumns)
                        }
                    }
                }
            }
        }
    }

    /// `columns` of existing rows of `oid` changed.
    private mutating func columnsChanged(_ oid: Oid, _ columns: [String]) {
        let relation = catalog.relation(oid)
        guard relation?.kind != .view else { rowsChanged(oid, .any); return }
        let changed = columns + (relation?.generatedColumns ?? [])
        // Already bumped (a cycle of ON UPDATE CASCADE keys ends here).
        guard changed.contains(where: { !visitedColumns.contains(.column(oid, $0)) }) else { return }
        let family = catalog.family(of: oid)
        // A row may move between partitions or children when a key column changes: each
        // member's row set changes, though the family's does not.
        if family.count > 1 {
            for member in family { result.tags.insert(.rows(member)) }
        }
        for member in family {
            result.tags.insert(.allColumns(member))
            for c in changed where visitedColumns.insert(.column(member, c)).inserted {
                result.tags.insert(.column(member, c))
            }
            guard let r = catalog.relation(member) else { continue }
            noteTriggers(r)
            for fk in r.referencedBy where !Set(fk.referencedColumns).isDisjoint(with: changed) {
                switch fk.onUpdate {
                case nil: break
                case .deletesRows: rowsChanged(fk.referencing, .deleted)
                case .updatesColumns: columnsChanged(fk.referencing, fk.referencingColumns)
                }
            }
        }
    }

    private mutating func noteTriggers(_ r: RelationInfo) {
        if r.hasUserTriggers {
            result.bumpEpoch("\(r.qualifiedName) has triggers or rules, which may write any table")
        }
    }
}
