import SQLAnalysis

/// A PostgreSQL object id (`pg_class.oid`).
public typealias Oid = UInt32

/// What `pg_class.relkind` says a relation is, as far as caching cares.
public enum RelationKind: String, Sendable, Hashable {
    /// `r`: an ordinary table.
    case table
    /// `p`: a partitioned table (its rows live in its partitions).
    case partitionedTable
    /// `v`: a view; reads depend on the relations in `RelationInfo.viewBases`.
    case view
    /// `m`: a materialized view; changes only on `REFRESH MATERIALIZED VIEW`.
    case materializedView
    /// `f`: a foreign table; its rows change outside PostgreSQL, so it is never cached.
    case foreignTable
}

/// One foreign key whose referential action writes the referencing table when the
/// referenced one changes (`ON DELETE CASCADE / SET NULL / SET DEFAULT`, `ON UPDATE …`).
public struct ForeignKeyAction: Sendable, Hashable {
    /// What the action does to the referencing rows.
    public enum Effect: Sendable, Hashable {
        /// `CASCADE` on delete: referencing rows are deleted.
        case deletesRows
        /// `CASCADE`, `SET NULL`, `SET DEFAULT` on update (or `SET NULL/DEFAULT` on delete):
        /// the referencing columns are updated.
        case updatesColumns
    }

    /// The table holding the foreign key (`pg_constraint.conrelid`).
    public var referencing: Oid
    /// Its key columns (`conkey`), by name.
    public var referencingColumns: [String]
    /// The referenced columns (`confkey`), by name: an UPDATE of any of them fires `onUpdate`.
    public var referencedColumns: [String]
    /// `confdeltype`: nil for `NO ACTION`/`RESTRICT`, which never write.
    public var onDelete: Effect?
    /// `confupdtype`: nil for `NO ACTION`/`RESTRICT`.
    public var onUpdate: Effect?

    public init(referencing: Oid, referencingColumns: [String], referencedColumns: [String],
                onDelete: Effect?, onUpdate: Effect?) {
        self.referencing = referencing
        self.referencingColumns = referencingColumns
        self.referencedColumns = referencedColumns
        self.onDelete = onDelete
        self.onUpdate = onUpdate
    }
}

/// What the cache needs to know about one relation. The proxy fills it from `pg_class`,
/// `pg_namespace`, `pg_attribute`, `pg_trigger`, `pg_constraint`, `pg_inherits` and
/// `pg_depend`/`pg_rewrite`.
public struct RelationInfo: Sendable, Hashable {
    public var oid: Oid
    public var schema: String
    public var name: String
    public var kind: RelationKind
    /// Column names (`attnum > 0`, not dropped); empty when unknown, which makes every read
    /// of the relation depend on all its columns.
    public var columns: [String]
    /// Stored generated columns: an UPDATE may change them whatever it assigns.
    public var generatedColumns: [String]
    /// `relpersistence = 't'`: exists only in one session.
    public var isTemporary: Bool
    /// `relrowsecurity`: rows visible depend on policies the cache key does not separate.
    public var hasRowSecurity: Bool
    /// Enabled user (not internal constraint) triggers or rewrite rules (`relhasrules`): a write runs code that may write anything.
    public var hasUserTriggers: Bool
    /// Direct parents (`pg_inherits`): the partitioned table of a partition, inheritance parents.
    public var parents: [Oid]
    /// For a view: the relations its query reads (direct dependencies; views among them are
    /// expanded in turn).
    public var viewBases: [Oid]
    /// Foreign keys of *other* tables that reference this one, with a writing action.
    public var referencedBy: [ForeignKeyAction]
    /// For a view: its query calls a volatile function (`pg_depend` on a `pg_proc` with
    /// `provolatile = 'v'`), so its rows change without a write.
    public var callsVolatileFunctions: Bool

    public init(oid: Oid, schema: String, name: String, kind: RelationKind = .table, columns: [String] = [],
                generatedColumns: [String] = [], isTemporary: Bool = false, hasRowSecurity: Bool = false,
                hasUserTriggers: Bool = false, parents: [Oid] = [], viewBases: [Oid] = [],
                referencedBy: [ForeignKeyAction] = [], callsVolatileFunctions: Bool = false) {
        self.oid = oid
        self.schema = schema
        self.name = name
        self.kind = kind
        self.columns = columns
        self.generatedColumns = generatedColumns
        self.isTemporary = isTemporary
        self.hasRowSecurity = hasRowSecurity
        self.hasUserTriggers = hasUserTriggers
        self.parents = parents
        self.viewBases = viewBases
        self.referencedBy = referencedBy
        self.callsVolatileFunctions = callsVolatileFunctions
    }

    /// `pg_catalog`, `information_schema` and `pg_toast`: catalogs change without a write pgstash sees.
    public var isSystemCatalog: Bool {
        schema == "pg_catalog" || schema == "information_schema" || schema == "pg_toast"
    }

    /// `schema.name`, for reasons and logs.
    public var qualifiedName: String { "\(schema).\(name)" }
}

/// The relations of one database as the proxy last read them from `pg_catalog` (at start, on
/// reload, after DDL it sees). A value: the policy never queries anything.
public struct CatalogSnapshot: Sendable {
    private var byOid: [Oid: RelationInfo] = [:]
    private var byName: [QualifiedName: Oid] = [:]
    private var childrenByOid: [Oid: [Oid]] = [:]
    /// Functions that `pg_proc` marks `STABLE` or `IMMUTABLE` (by name as the SQL writes them,
    /// e.g. `order_total` or `app.order_total`): a write statement calling only such user
    /// functions does not need an epoch bump, since PostgreSQL forbids them to write.
    public var nonVolatileFunctions: Set<String>

    struct QualifiedName: Hashable {
        let schema: String
        let name: String
    }

    public init(relations: [RelationInfo], nonVolatileFunctions: Set<String> = []) {
        self.nonVolatileFunctions = nonVolatileFunctions
        for r in relations {
            byOid[r.oid] = r
            byName[QualifiedName(schema: r.schema, name: r.name)] = r.oid
            for parent in r.parents { childrenByOid[parent, default: []].append(r.oid) }
        }
    }

    /// The relation with this oid.
    public func relation(_ oid: Oid) -> RelationInfo? { byOid[oid] }

    /// The relation `schema.name`, exactly.
    public func relation(schema: String, name: String) -> RelationInfo? {
        byName[QualifiedName(schema: schema, name: name)].flatMap { byOid[$0] }
    }

    /// Direct children (partitions, inheritance children) of `oid`.
    public func children(of oid: Oid) -> [Oid] { childrenByOid[oid] ?? [] }

    /// `oid`, its ancestors and its descendants: a write to any of them can change the rows a
    /// scan of `oid` (which includes its children) returns, and the reverse.
    public func family(of oid: Oid) -> [Oid] {
        var out: [Oid] = [oid]
        var up = byOid[oid]?.parents ?? []
        while let o = up.popLast() {
            if out.contains(o) { continue }
            out.append(o)
            up += byOid[o]?.parents ?? []
        }
        var down = children(of: oid)
        while let o = down.popLast() {
            if out.contains(o) { continue }
            out.append(o)
            down += children(of: o)
        }
        return out
    }
}
