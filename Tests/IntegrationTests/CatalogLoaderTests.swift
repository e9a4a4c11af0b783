import CachePolicy
import CLibPQ
import Foundation
import ProxyConfig
import SQLAnalysis
import Testing

/// `CatalogQuery.script` against real PostgreSQL, run through libpq the way `CatalogLoader`
/// runs it (one simple query, the result sets with rows in order), and the snapshot it gives
/// the cache policy.
@Suite(.serialized) struct CatalogLoaderTests {
    static let schema = """
        CREATE SCHEMA shop;
        CREATE TABLE shop.plain (id int PRIMARY KEY, note text);
        CREATE TABLE shop.events (id int, at date NOT NULL, kind text) PARTITION BY RANGE (at);
        CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE shop.animals (id int, name text);
        CREATE TABLE shop.dogs (breed text) INHERITS (shop.animals);
        CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
        CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers (id) ON DELETE CASCADE,
                                  status text);
        CREATE TABLE shop.notes (id int, order_id int REFERENCES shop.orders (id) ON UPDATE SET NULL, body text,
                                 words int GENERATED ALWAYS AS (length(body)) STORED);
        ALTER TABLE shop.notes DROP COLUMN id;
        CREATE VIEW shop.order_view AS SELECT o.id, c.name FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id;
        CREATE VIEW shop.random_view AS SELECT id, random() AS r FROM shop.plain;
        CREATE VIEW shop.catalog_view AS SELECT relname FROM pg_class;
        CREATE VIEW shop.view_of_view AS SELECT name FROM shop.order_view;
        CREATE TABLE shop.audited (id int, v int);
        CREATE FUNCTION shop.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER audited_insert BEFORE INSERT ON shop.audited FOR EACH ROW EXECUTE FUNCTION shop.audit();
        CREATE VIEW shop.plain_view AS SELECT id, note FROM shop.plain;
        CREATE TRIGGER plain_view_insert INSTEAD OF INSERT ON shop.plain_view FOR EACH ROW EXECUTE FUNCTION shop.audit();
        CREATE TABLE shop.quiet (id int);
        CREATE TRIGGER quiet_insert BEFORE INSERT ON shop.quiet FOR EACH ROW EXECUTE FUNCTION shop.audit();
        ALTER TABLE shop.quiet DISABLE TRIGGER quiet_insert;
        CREATE TABLE shop.secrets (id int);
        ALTER TABLE shop.secrets ENABLE ROW LEVEL SECURITY;
        CREATE FUNCTION shop.order_total(int) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 1::bigint $$;
        CREATE MATERIALIZED VIEW shop.totals AS SELECT count(*) AS n FROM shop.orders;
        CREATE SEQUENCE shop.seq;
        CREATE TYPE shop.pair AS (a int, b int);
        CREATE TEMP TABLE scratch (id int)
        """

    /// Creates a database with `schema` and loads its snapshot on the connection that created
    /// the temporary table.
    static func load(_ body: (CatalogSnapshot) throws -> Void) throws {
        let env = try TestEnvironment.require()
        let name = "catalog_\(UInt32.random(in: 0...UInt32.max))"
        try DirectConnection(env).query("CREATE DATABASE \(name)")
        defer { _ = try? DirectConnection(env).query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        guard let conn = PQconnectdb(env.directDSN(db: name)) else { throw TestFailure("PQconnectdb returned nil") }
        defer { PQfinish(conn) }
        guard PQstatus(conn) == CONNECTION_OK else { throw TestFailure(String(cString: PQerrorMessage(conn))) }
        _ = try results(of: schema, on: conn)
        let sets = try results(of: CatalogQuery.script, on: conn)
        #expect(sets.count == CatalogQuery.queries.count)
        try body(try CatalogQuery.snapshot(from: sets))
    }

    /// The rows of each result set that has rows, as `CatalogLoader` collects them.
    static func results(of sql: String, on conn: OpaquePointer) throws -> [[[String?]]] {
        guard PQsendQuery(conn, sql) == 1 else { throw TestFailure(String(cString: PQerrorMessage(conn))) }
        var sets: [[[String?]]] = []
        var failure: String?
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            switch PQresultStatus(r) {
            case PGRES_TUPLES_OK:
                sets.append((0..<PQntuples(r)).map { i in
                    (0..<PQnfields(r)).map { j in PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j)) }
                })
            case PGRES_COMMAND_OK: break
            default: failure = failure ?? String(cString: PQresultErrorMessage(r))
            }
        }
        if let failure { throw TestFailure("query failed: \(failure)") }
        return sets
    }

    static func oid(_ s: CatalogSnapshot, _ name: String, schema: String = "shop") throws -> Oid {
        guard let r = s.relation(schema: schema, name: name) else { throw TestFailure("\(schema).\(name) not in the snapshot") }
        return r.oid
    }

    @Test func theSnapshotHasTheFactsOfTheSchema() throws {
        try Self.load { s in
            let get = { (name: String) throws -> RelationInfo in s.relation(try Self.oid(s, name))! }
            let plain = try get("plain")
            #expect(plain.kind == .table && plain.columns == ["id", "note"] && !plain.hasUserTriggers)
            #expect(try get("events").kind == .partitionedTable)
            let events = try Self.oid(s, "events")
            #expect(try get("events_2024").parents == [events] && get("events_2025").parents == [events])
            #expect(Set(s.children(of: events)) == [try Self.oid(s, "events_2024"), try Self.oid(s, "events_2025")])
            #expect(try get("dogs").parents == [try Self.oid(s, "animals")])
            #expect(try get("dogs").columns == ["id", "name", "breed"])
            #expect(try get("totals").kind == .materializedView)
            #expect(s.relation(schema: "shop", name: "seq") == nil, "sequences are left out")
            #expect(s.relation(schema: "shop", name: "pair") == nil, "composite types are left out")
            #expect(s.relation(schema: "shop", name: "plain_pkey") == nil, "indexes are left out")

            // Foreign keys, on the referenced table; their internal triggers are not user triggers.
            let customers = try get("customers"), orders = try get("orders"), notes = try get("notes")
            #expect(customers.referencedBy == [ForeignKeyAction(
                referencing: orders.oid, referencingColumns: ["customer_id"], referencedColumns: ["id"],
                onDelete: .deletesRows, onUpdate: nil)])
            #expect(orders.referencedBy == [ForeignKeyAction(
                referencing: notes.oid, referencingColumns: ["order_id"], referencedColumns: ["id"],
                onDelete: nil, onUpdate: .updatesColumns)])
            #expect(!customers.hasUserTriggers && !orders.hasUserTriggers && !notes.hasUserTriggers)
            #expect(notes.columns == ["order_id", "body", "words"], "a dropped column is left out")
            #expect(notes.generatedColumns == ["words"])

            #expect(try get("audited").hasUserTriggers)
            #expect(try !get("quiet").hasUserTriggers, "a disabled trigger never fires")
            #expect(try get("secrets").hasRowSecurity && !get("plain").hasRowSecurity)
            let scratch = s.relation(schema: "pg_temp_\(try Self.tempSchemaNumber(s))", name: "scratch")
            #expect(scratch?.isTemporary == true)
            #expect(!plain.isTemporary)

            // Views: bases from pg_depend; random() and pg_class only from the definition.
            let orderView = try get("order_view")
            #expect(Set(orderView.viewBases) == [orders.oid, customers.oid] && !orderView.callsVolatileFunctions)
            #expect(!orderView.hasUserTriggers, "a view's own _RETURN rule is no user rule")
            #expect(try get("plain_view").hasUserTriggers)
            #expect(try get("view_of_view").viewBases == [orderView.oid])
            #expect(try get("random_view").callsVolatileFunctions)
            #expect(try get("random_view").viewBases == [plain.oid])
            let pgClass = try Self.oid(s, "pg_class", schema: "pg_catalog")
            #expect(try get("catalog_view").viewBases == [pgClass])
            #expect(s.relation(pgClass)?.columns == [], "system catalogs are read without columns")
            #expect(s.relation(schema: "information_schema", name: "tables")?.kind == .view)

            #expect(s.nonVolatileFunctions.contains("order_total") && s.nonVolatileFunctions.contains("shop.order_total"))
            #expect(!s.nonVolatileFunctions.contains("audit") && !s.nonVolatileFunctions.contains("shop.audit"))
            #expect(!s.nonVolatileFunctions.contains(where: { $0.hasPrefix("pg_catalog.") || $0.hasPrefix("information_schema.") }))
        }
    }

    /// The `N` of the `pg_temp_N` schema holding `scratch`.
    static func tempSchemaNumber(_ s: CatalogSnapshot) throws -> String {
        for n in 0..<1000 where s.relation(schema: "pg_temp_\(n)", name: "scratch") != nil { return String(n) }
        throw TestFailure("no pg_temp_N.scratch in the snapshot")
    }

    @Test func thePolicyDecidesWithTheLoadedSnapshot() throws {
        var config = CacheConfig()
        config.enabled = true
        var rule = CacheRule(name: "all", tier: "default")
        rule.tables = ["*"]
        config.rules = [rule]
        config.tiers = [CacheTier(name: "default", ttl: 60)]
        let policy = CachePolicy(config: config)
        let session = SessionContext(database: "shop", role: "postgres", settings: ["search_path": "shop"],
                                     hasTemporaryTables: false)
        try Self.load { s in
            let decide = { (sql: String) in policy.decide(SQLAnalyzer.analyze(sql), session: session, catalog: s) }
            let bumps = { (sql: String) in policy.writeSet(SQLAnalyzer.analyze(sql), session: session, catalog: s) }
            let orders = try Self.oid(s, "orders"), customers = try Self.oid(s, "customers"), notes = try Self.oid(s, "notes")

            // A read of a view depends on every column of its base tables.
            let viewTags = decide("SELECT name FROM order_view WHERE id = 1").plan?.tags ?? []
            #expect(Set(viewTags) == [.rows(orders), .allColumns(orders), .rows(customers), .allColumns(customers)])
            #expect(decide("SELECT id, note FROM plain").plan?.tags.count == 3)
            #expect(decide("SELECT * FROM random_view").reason == "reads view shop.random_view, which calls a volatile function")
            #expect(decide("SELECT * FROM catalog_view").reason?.contains("system catalog pg_catalog.pg_class") == true)
            #expect(decide("SELECT * FROM secrets").reason?.contains("row-level security") == true)

            // DELETE on the referenced table bumps the table its ON DELETE CASCADE empties.
            #expect(Set(bumps("DELETE FROM customers WHERE id = 1").tags) == [.rows(customers), .rows(orders)])
            // UPDATE of the referenced key: ON UPDATE SET NULL writes notes.order_id (and the generated column).
            #expect(Set(bumps("UPDATE orders SET id = 2 WHERE id = 1").tags) == [
                .allColumns(orders), .column(orders, "id"),
                .allColumns(notes), .column(notes, "order_id"), .column(notes, "words"),
            ])
            #expect(bumps("INSERT INTO audited VALUES (1, 1)").epochReason?.contains("triggers") == true)
            #expect(bumps("INSERT INTO quiet VALUES (1)").epochReason == nil)
            #expect(bumps("INSERT INTO plain_view VALUES (1, 'x')").epochReason?.contains("triggers") == true)
            #expect(Set(bumps("DELETE FROM order_view").tags) == [.rows(orders), .rows(customers)])
            #expect(bumps("UPDATE plain SET note = order_total(id)::text").epochReason == nil)
        }
    }
}
