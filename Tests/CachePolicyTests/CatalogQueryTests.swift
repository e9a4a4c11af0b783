import CachePolicy
import SQLAnalysis
import Testing

/// `CatalogQuery.snapshot(from:)`: the text rows of the catalog script, as PostgreSQL sends
/// them, turned into the snapshot the policy decides with.
@Suite struct CatalogQueryTests {
    /// One `relations` row: oid, schema, name, relkind, relpersistence, relrowsecurity,
    /// triggers or rules, parents, view bases, depends on a volatile function, view definition.
    static func relation(_ oid: Oid, _ schema: String, _ name: String, kind: String = "r", persistence: String = "p",
                         rls: Bool = false, triggers: Bool = false, parents: String? = nil, bases: String? = nil,
                         volatileDependency: Bool? = nil, definition: String? = nil) -> [String?] {
        let isView = kind == "v"
        return [String(oid), schema, name, kind, persistence, rls ? "t" : "f", triggers ? "t" : "f", parents,
                isView ? bases : nil, isView ? (volatileDependency ?? false ? "t" : "f") : nil, definition]
    }

    static func column(_ oid: Oid, _ name: String, generated: Bool = false) -> [String?] {
        [String(oid), name, generated ? "t" : "f"]
    }

    static func foreignKey(_ constraint: Oid, referenced: Oid, referencing: Oid, delete: String, update: String,
                           _ referencingColumn: String, _ referencedColumn: String) -> [String?] {
        [String(constraint), String(referenced), String(referencing), delete, update, referencingColumn, referencedColumn]
    }

    static let pgClass: Oid = 1259, pgNamespace: Oid = 2615
    static let customers: Oid = 16400, orders: Oid = 16410, items: Oid = 16420, notes: Oid = 16430
    static let events: Oid = 16500, events2024: Oid = 16501, events2025: Oid = 16502
    static let audited: Oid = 16600, secrets: Oid = 16610, remote: Oid = 16620, scratch: Oid = 16630
    static let totals: Oid = 16700, orderView: Oid = 16710, randomView: Oid = 16720, catalogView: Oid = 16730
    static let stableView: Oid = 16740, immutableView: Oid = 16750, depVolatileView: Oid = 16760
    static let insteadView: Oid = 16770

    static let rows: [[[String?]]] = [
        [
            relation(pgClass, "pg_catalog", "pg_class"),
            relation(pgNamespace, "pg_catalog", "pg_namespace"),
            relation(customers, "public", "customers"),
            relation(orders, "public", "orders"),
            relation(items, "public", "order_items"),
            relation(notes, "public", "notes"),
            relation(events, "public", "events", kind: "p"),
            relation(events2024, "public", "events_2024", parents: "{16500}"),
            relation(events2025, "public", "events_2025", parents: "{16500}"),
            relation(audited, "public", "audited", triggers: true),
            relation(secrets, "public", "secrets", rls: true),
            relation(remote, "public", "remote", kind: "f"),
            relation(scratch, "pg_temp_3", "scratch", persistence: "t"),
            relation(totals, "public", "totals", kind: "m"),
            relation(orderView, "public", "order_view", kind: "v", bases: "{16410,16400}",
                     definition: " SELECT o.id, c.name FROM (public.orders o JOIN public.customers c ON ((c.id = o.customer)));"),
            relation(randomView, "public", "random_view", kind: "v", bases: "{16410}",
                     definition: " SELECT orders.id, random() AS r FROM public.orders;"),
            relation(catalogView, "public", "catalog_view", kind: "v",
                     definition: " SELECT pg_class.relname FROM pg_class;"),
            relation(stableView, "public", "stable_view", kind: "v", bases: "{16410}",
                     definition: " SELECT public.order_total(orders.id) AS t FROM public.orders;"),
            relation(immutableView, "public", "immutable_view", kind: "v", bases: "{16410}",
                     definition: " SELECT public.cents(orders.id) AS c, date_part('year'::text, now()) FROM public.orders;"),
            relation(depVolatileView, "public", "dep_volatile_view", kind: "v", bases: "{16410}",
                     volatileDependency: true, definition: " SELECT orders.id FROM public.orders;"),
            relation(insteadView, "public", "instead_view", kind: "v", triggers: true, bases: "{16410}",
                     definition: " SELECT orders.id FROM public.orders;"),
            ["16800", "public", "order_seq", "S", "p", "f", "f", nil, nil, nil, nil],
        ],
        [
            column(customers, "id"), column(customers, "name"),
            column(orders, "id"), column(orders, "customer"), column(orders, "status"),
            column(items, "order_id"), column(items, "order_customer"), column(items, "quantity"),
            column(notes, "id"), column(notes, "order_id"), column(notes, "body"), column(notes, "words", generated: true),
            column(events, "id"), column(events2024, "id"), column(events2025, "id"),
            column(orderView, "id"), column(orderView, "name"),
            column(99999, "ghost"),
        ],
        [
            // order_items (order_id, order_customer) → orders (id, customer) ON DELETE CASCADE.
            foreignKey(17000, referenced: orders, referencing: items, delete: "c", update: "a", "order_id", "id"),
            foreignKey(17000, referenced: orders, referencing: items, delete: "c", update: "a", "order_customer", "customer"),
            // notes.order_id → orders.id ON DELETE RESTRICT ON UPDATE SET NULL.
            foreignKey(17010, referenced: orders, referencing: notes, delete: "r", update: "n", "order_id", "id"),
            // orders.customer → customers.id ON DELETE SET DEFAULT ON UPDATE CASCADE.
            foreignKey(17020, referenced: customers, referencing: orders, delete: "d", update: "c", "customer", "id"),
        ],
        [
            ["public", "order_total", "s"], ["public", "cents", "i"], ["app", "cents", "i"],
            ["public", "touch", "v"], ["app", "both", "s"], ["public", "both", "v"],
            ["public", "now", "s"],
            ["pg_catalog", "random", "v"], ["pg_catalog", "now", "s"], ["pg_catalog", "date_part", "s"],
            ["information_schema", "_pg_truetypid", "i"],
        ],
    ]

    static let snapshot: CatalogSnapshot = try! CatalogQuery.snapshot(from: rows)

    @Test func kindsPersistenceSecurityAndTriggers() throws {
        let s = Self.snapshot
        #expect(s.relation(Self.customers)?.kind == .table)
        #expect(s.relation(Self.events)?.kind == .partitionedTable)
        #expect(s.relation(Self.orderView)?.kind == .view)
        #expect(s.relation(Self.totals)?.kind == .materializedView)
        #expect(s.relation(Self.remote)?.kind == .foreignTable)
        #expect(s.relation(16800) == nil, "sequences are left out")
        #expect(s.relation(Self.scratch)?.isTemporary == true)
        #expect(s.relation(Self.customers)?.isTemporary == false)
        #expect(s.relation(Self.secrets)?.hasRowSecurity == true)
        #expect(s.relation(Self.customers)?.hasRowSecurity == false)
        #expect(s.relation(Self.audited)?.hasUserTriggers == true)
        #expect(s.relation(Self.orders)?.hasUserTriggers == false)
        #expect(s.relation(schema: "pg_catalog", name: "pg_class")?.oid == Self.pgClass)
        #expect(s.relation(schema: "public", name: "order_items")?.oid == Self.items)
    }

    @Test func columnsAndStoredGeneratedColumns() {
        let s = Self.snapshot
        #expect(s.relation(Self.orders)?.columns == ["id", "customer", "status"])
        #expect(s.relation(Self.notes)?.columns == ["id", "order_id", "body", "words"])
        #expect(s.relation(Self.notes)?.generatedColumns == ["words"])
        #expect(s.relation(Self.orders)?.generatedColumns == [])
        #expect(s.relation(Self.pgClass)?.columns == [], "system catalogs are read without columns")
    }

    @Test func partitionsAreChildrenOfTheirParent() {
        let s = Self.snapshot
        #expect(s.relation(Self.events2024)?.parents == [Self.events])
        #expect(Set(s.children(of: Self.events)) == [Self.events2024, Self.events2025])
        #expect(Set(s.family(of: Self.events2025)) == [Self.events, Self.events2025])
    }

    @Test func foreignKeysWithAWritingActionSitOnTheReferencedTable() {
        let s = Self.snapshot
        let onOrders = s.relation(Self.orders)?.referencedBy ?? []
        #expect(onOrders == [
            ForeignKeyAction(referencing: Self.items, referencingColumns: ["order_id", "order_customer"],
                             referencedColumns: ["id", "customer"], onDelete: .deletesRows, onUpdate: nil),
            ForeignKeyAction(referencing: Self.notes, referencingColumns: ["order_id"], referencedColumns: ["id"],
                             onDelete: nil, onUpdate: .updatesColumns),
        ])
        #expect(s.relation(Self.customers)?.referencedBy == [
            ForeignKeyAction(referencing: Self.orders, referencingColumns: ["customer"], referencedColumns: ["id"],
                             onDelete: .updatesColumns, onUpdate: .updatesColumns),
        ])
        #expect(s.relation(Self.items)?.referencedBy == [])
    }

    @Test func viewsKeepTheirBasesAndWhatTheirDefinitionReveals() {
        let s = Self.snapshot
        let order = s.relation(Self.orderView)
        #expect(order?.viewBases == [Self.orders, Self.customers])
        #expect(order?.callsVolatileFunctions == false)
        // PostgreSQL records no dependency on pinned objects: random() and pg_class come from the definition.
        #expect(s.relation(Self.randomView)?.callsVolatileFunctions == true)
        #expect(s.relation(Self.catalogView)?.viewBases == [Self.pgClass])
        #expect(s.relation(Self.catalogView)?.callsVolatileFunctions == false)
        // A STABLE user function may read tables the view's bases do not name.
        #expect(s.relation(Self.stableView)?.callsVolatileFunctions == true)
        // now() inside: volatile for a view even next to an immutable user function.
        #expect(s.relation(Self.immutableView)?.callsVolatileFunctions == true)
        #expect(s.relation(Self.depVolatileView)?.callsVolatileFunctions == true)
    }

    @Test func anImmutableUserFunctionInAViewIsNotVolatile() throws {
        var rows = Self.rows
        rows[0] = [
            Self.relation(Self.orders, "public", "orders"),
            Self.relation(Self.immutableView, "public", "cents_view", kind: "v", bases: "{16410}",
                          definition: " SELECT public.cents(orders.id) AS c, upper(orders.status) AS s FROM public.orders;"),
            Self.relation(Self.randomView, "public", "unparsable_view", kind: "v", bases: "{16410}",
                          definition: " SELECT FROM WHERE ;"),
        ]
        let s = try CatalogQuery.snapshot(from: rows)
        #expect(s.relation(Self.immutableView)?.callsVolatileFunctions == false)
        #expect(s.relation(Self.randomView)?.callsVolatileFunctions == true, "a definition that does not parse")
    }

    @Test func nonVolatileFunctionsAreUserFunctionsByBareAndQualifiedName() {
        let f = Self.snapshot.nonVolatileFunctions
        #expect(f.contains("order_total") && f.contains("public.order_total"))
        #expect(f.contains("cents") && f.contains("public.cents") && f.contains("app.cents"))
        #expect(!f.contains("touch") && !f.contains("public.touch"))
        // Volatile in one user schema: the bare name may mean that one.
        #expect(f.contains("app.both") && !f.contains("both") && !f.contains("public.both"))
        // A bare name pg_catalog has (not immutable) means pg_catalog's first.
        #expect(f.contains("public.now") && !f.contains("now"))
        #expect(!f.contains("random") && !f.contains("pg_catalog.random"))
        #expect(!f.contains("_pg_truetypid") && !f.contains("information_schema._pg_truetypid"))
    }

    @Test func rowsOfTheWrongShapeAreReported() {
        #expect(throws: CatalogQueryError(query: "script", row: nil, message: "expected 4 result sets, got 3")) {
            try CatalogQuery.snapshot(from: Array(Self.rows.prefix(3)))
        }
        var rows = Self.rows
        rows[1] = [["x", "id", "f"]]
        #expect(throws: CatalogQueryError(query: "columns", row: 0, message: "column 0: \"x\" is not an oid")) {
            try CatalogQuery.snapshot(from: rows)
        }
        rows = Self.rows
        rows[0] = [Self.relation(Self.events2024, "public", "events_2024", parents: "16500")]
        #expect(throws: CatalogQueryError(query: "relations", row: 0, message: "column 7: \"16500\" is not an array")) {
            try CatalogQuery.snapshot(from: rows)
        }
        rows = Self.rows
        rows[2] = [Self.foreignKey(1, referenced: 2, referencing: 3, delete: "z", update: "a", "a", "b")]
        #expect(throws: CatalogQueryError(query: "foreignKeys", row: 0, message: "column 3: \"z\" is not a referential action")) {
            try CatalogQuery.snapshot(from: rows)
        }
    }

    // MARK: The policy on a loaded snapshot

    static let policy: CachePolicy = Fixture.everything
    static let session = SessionContext(database: "shop", role: "app", settings: [:], hasTemporaryTables: false)

    static func decide(_ sql: String) -> CacheDecision {
        policy.decide(SQLAnalyzer.analyze(sql), session: session, catalog: snapshot)
    }

    static func bumps(_ sql: String) -> WriteSet {
        policy.writeSet(SQLAnalyzer.analyze(sql), session: session, catalog: snapshot)
    }

    @Test func aViewReadDependsOnEveryColumnOfItsBases() {
        #expect(Self.decide("SELECT name FROM order_view").plan?.tags.map(\.description) == [
            "16400|rows", "16400|all", "16410|rows", "16410|all",
        ])
    }

    @Test func viewsOverVolatileFunctionsAndCatalogsAreBypassed() {
        #expect(Self.decide("SELECT * FROM random_view").reason == "reads view public.random_view, which calls a volatile function")
        #expect(Self.decide("SELECT * FROM catalog_view").reason
            == "through view public.catalog_view, reads system catalog pg_catalog.pg_class, which changes without any write pgstash sees")
        #expect(Self.decide("SELECT * FROM secrets").plan == nil)
    }

    @Test func writesFollowTheLoadedForeignKeys() {
        // DELETE cascades to order_items; notes only has ON UPDATE SET NULL.
        #expect(Self.bumps("DELETE FROM orders WHERE id = 1").sortedTags.map(\.description) == ["16410|rows", "16420|rows"])
        // UPDATE of the key sets notes.order_id to NULL; order_items has no ON UPDATE action.
        #expect(Self.bumps("UPDATE orders SET id = 2 WHERE id = 1").sortedTags.map(\.description)
            == ["16410|all", "16410|c:id", "16430|all", "16430|c:order_id", "16430|c:words"])
        #expect(Self.bumps("INSERT INTO audited VALUES (1)").epochReason
            == "public.audited has triggers or rules, which may write any table")
        // A write through a view with INSTEAD OF triggers runs them.
        #expect(Self.bumps("INSERT INTO instead_view VALUES (1)").epochReason
            == "public.instead_view has triggers or rules, which may write any table")
        #expect(Self.bumps("DELETE FROM order_view").epochReason == nil)
        #expect(Self.bumps("UPDATE orders SET status = order_total(id)").epochReason == nil)
        #expect(Self.bumps("UPDATE orders SET status = touch(id)").epochReason == "calls touch(), which may write any table")
    }
}
