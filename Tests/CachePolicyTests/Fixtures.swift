import CachePolicy
import ProxyConfig
import SQLAnalysis
import Testing

/// The seed plan's schema as a catalog snapshot, plus the relations the traps need.
enum Fixture {
    static let orders: Oid = 1001, customers: Oid = 1002, users: Oid = 1003, orderItems: Oid = 1004
    static let notifications: Oid = 1005, summaryView: Oid = 1006, appOrders: Oid = 1010
    static let events: Oid = 1020, events2024: Oid = 1021, events2025: Oid = 1022
    static let audited: Oid = 1030, secrets: Oid = 1040, remote: Oid = 1050, scratch: Oid = 1060
    static let clockView: Oid = 1070, pgClass: Oid = 1259, activities: Oid = 1080

    static let catalog = CatalogSnapshot(relations: [
        RelationInfo(oid: orders, schema: "public", name: "orders",
                     columns: ["id", "reference", "status", "shippingStatus", "total", "createdAt", "updatedAt",
                               "storeIdentifier", "assignedAgentId", "customerId"],
                     referencedBy: [
                        ForeignKeyAction(referencing: orderItems, referencingColumns: ["orderId"],
                                         referencedColumns: ["id"], onDelete: .deletesRows, onUpdate: nil),
                        ForeignKeyAction(referencing: activities, referencingColumns: ["orderId"],
                                         referencedColumns: ["id"], onDelete: .updatesColumns, onUpdate: .updatesColumns),
                     ]),
        RelationInfo(oid: customers, schema: "public", name: "customers", columns: ["id", "fullName", "telephone", "wilaya"]),
        RelationInfo(oid: users, schema: "public", name: "users", columns: ["id", "name", "agentCode"]),
        RelationInfo(oid: orderItems, schema: "public", name: "order_items", columns: ["id", "orderId", "quantity"]),
        RelationInfo(oid: activities, schema: "public", name: "agent_activities",
                     columns: ["id", "agentId", "orderId", "createdAt"]),
        RelationInfo(oid: notifications, schema: "public", name: "notifications",
                     columns: ["id", "userId", "isRead", "body", "wordCount"], generatedColumns: ["wordCount"]),
        RelationInfo(oid: summaryView, schema: "public", name: "order_summary_view", kind: .view,
                     columns: ["id", "status"], viewBases: [orders, customers, users, orderItems]),
        RelationInfo(oid: appOrders, schema: "app", name: "orders", columns: ["id", "status"]),
        RelationInfo(oid: events, schema: "public", name: "events", kind: .partitionedTable, columns: ["id", "at", "kind"]),
        RelationInfo(oid: events2024, schema: "public", name: "events_2024", columns: ["id", "at", "kind"], parents: [events]),
        RelationInfo(oid: events2025, schema: "public", name: "events_2025", columns: ["id", "at", "kind"], parents: [events]),
        RelationInfo(oid: audited, schema: "public", name: "audited", columns: ["id", "v"], hasUserTriggers: true),
        RelationInfo(oid: secrets, schema: "public", name: "secrets", columns: ["id"], hasRowSecurity: true),
        RelationInfo(oid: remote, schema: "public", name: "remote", kind: .foreignTable, columns: ["id"]),
        RelationInfo(oid: scratch, schema: "pg_temp_3", name: "scratch", columns: ["id"], isTemporary: true),
        RelationInfo(oid: clockView, schema: "public", name: "clock_view", kind: .view, viewBases: [orders],
                     callsVolatileFunctions: true),
        RelationInfo(oid: pgClass, schema: "pg_catalog", name: "pg_class", columns: ["oid", "relname"]),
    ], nonVolatileFunctions: ["order_total"])

    static func rule(_ name: String, tier: String = "L1", tables: [String] = [], pattern: String? = nil,
                     fingerprint: String? = nil, shared: Bool = false, cache: Bool = true) -> CacheRule {
        var r = CacheRule(name: name, tier: tier)
        r.tables = tables
        r.pattern = pattern
        r.fingerprint = fingerprint
        r.shared = shared
        r.cache = cache
        return r
    }

    static func policy(_ rules: [CacheRule], enabled: Bool = true, maxResultBytes: Int = 1024 * 1024) -> CachePolicy {
        var config = CacheConfig()
        config.enabled = enabled
        config.rules = rules
        config.maxResultBytes = maxResultBytes
        return CachePolicy(config: config)
    }

    static let everything = policy([rule("all", tables: ["*"])])

    static func session(role: String = "webuser", searchPath: String? = nil, temp: Bool = false) -> SessionContext {
        var settings = ["timezone": "UTC", "datestyle": "ISO, MDY"]
        settings["search_path"] = searchPath
        return SessionContext(database: "shop", role: role, settings: settings, hasTemporaryTables: temp)
    }

    static func decide(_ policy: CachePolicy, _ sql: String, session: SessionContext = session()) -> CacheDecision {
        policy.decide(SQLAnalyzer.analyze(sql), session: session, catalog: catalog)
    }

    static func writeSet(_ sql: String, session: SessionContext = session()) -> WriteSet {
        everything.writeSet(SQLAnalyzer.analyze(sql), session: session, catalog: catalog)
    }
}

/// An input and its expectation; described by the SQL so that failures name the query.
struct Case<Expected: Sendable>: Sendable, CustomTestStringConvertible {
    let sql: String
    let expected: Expected
    init(_ sql: String, _ expected: Expected) {
        self.sql = sql
        self.expected = expected
    }
    var testDescription: String { sql.count > 100 ? String(sql.prefix(97)) + "..." : sql }
}
