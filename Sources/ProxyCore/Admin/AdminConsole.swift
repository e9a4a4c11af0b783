import ProxyConfig

/// A column type of console results: PgBouncer 1.18 sends text for names, int4 for counts
/// and numeric for the `SHOW STATS` counters (checked against its RowDescriptions).
public enum AdminColumnType: Int32, Sendable, Equatable {
    case int4 = 23
    case text = 25
    case numeric = 1700

    /// The RowDescription type size: 4 for int4, -1 (variable) for the others.
    public var size: Int16 { self == .int4 ? 4 : -1 }
}

/// One column of a console result.
public struct AdminColumn: Sendable, Equatable {
    public var name: String
    public var type: AdminColumnType
    public init(_ name: String, _ type: AdminColumnType) { self.name = name; self.type = type }
}

/// A console result: its columns, rows of text values (nil is NULL) and CommandComplete tag.
public struct AdminResultSet: Sendable, Equatable {
    public var columns: [AdminColumn]
    public var rows: [[String?]]
    public var tag: String
    public init(columns: [AdminColumn], rows: [[String?]], tag: String = "SHOW") {
        self.columns = columns; self.rows = rows; self.tag = tag
    }
}

/// What running a command produced.
public enum AdminOutcome: Sendable, Equatable {
    /// Rows to send (RowDescription unless already described, DataRows, CommandComplete).
    case rows(AdminResultSet)
    /// A command without rows that succeeded: CommandComplete with this tag.
    case done(tag: String)
    case error(AdminError)
}

/// What the proxy must do for a command that changes its state; it reports back with
/// `AdminOutcome.done` or `.error` once done (PAUSE: once the running transactions finished).
public enum AdminAction: Sendable, Equatable {
    case reload
    case pause(database: String?)
    case resume(database: String?)
    case shutdown
    case kill(database: String)
    /// Explain `sql` (one statement, or a script: the last one explained after the others)
    /// against the catalog of `database` (resolved: a configured name).
    case explainCache(database: String, sql: String)
    /// `SHOW CACHE ADVICE` over the query digests (`snapshot.queries`, most total time first).
    case cacheAdvice
    /// Publish the invalidation to Redis; answer once it is published. `database` nil: every
    /// database (INVALIDATE ALL without ON).
    case invalidate(AdminInvalidation, database: String?)
}

/// The console's command table: `SHOW` results from a snapshot, checks of the commands that
/// act, and the column lists of each result (for Describe, before anything runs).
public enum AdminConsole {
    /// The virtual database name that selects the console.
    public static let databaseName = "pgstash"

    /// Either a finished outcome (`SHOW …`, or a refused action) or an action to perform.
    public enum Decision: Sendable, Equatable {
        case outcome(AdminOutcome)
        case perform(AdminAction)
    }

    /// Decides what `command` does given `snapshot`.
    public static func run(_ command: AdminCommand, _ snapshot: AdminSnapshot) -> Decision {
        switch command {
        case .show(.queries) where snapshot.queries == nil:
            return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "query digests are off",
                                              hint: "Set query_digests (e.g. 1000) in the [admin] section of proxy.conf, then RELOAD.")))
        case .show(.cacheAdvice) where snapshot.queries == nil:
            return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState,
                                              "SHOW CACHE ADVICE needs query digests, which are off",
                                              hint: "Set query_digests (e.g. 1000) in the [admin] section of proxy.conf, then RELOAD; the advice ranks the statements run since.")))
        case .show(.cache), .show(.cacheStatus), .show(.cacheAdvice), .explainCache, .invalidate:
            return runCache(command, snapshot)
        case .show(let target):
            return .outcome(.rows(AdminResultSet(columns: columns(of: target), rows: rows(of: target, snapshot))))
        case .reload:
            return .perform(.reload)
        case .shutdown:
            return .perform(.shutdown)
        case .pause(let db):
            if let db {
                if let e = unknownDatabase(db, snapshot) { return .outcome(.error(e)) }
                if snapshot.isPaused(db) { return .outcome(.error(alreadyPaused(db))) }
            } else if snapshot.pausedAll {
                return .outcome(.error(alreadyPaused(nil)))
            }
            return .perform(.pause(database: db))
        case .resume(let db):
            if let db {
                if let e = unknownDatabase(db, snapshot) { return .outcome(.error(e)) }
                if snapshot.pausedAll {
                    return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState,
                        "every database is paused; RESUME without a name resumes them")))
                }
                if !snapshot.pausedDatabases.contains(db) {
                    return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "database \(db) is not paused")))
                }
            } else if !snapshot.pausedAll && snapshot.pausedDatabases.isEmpty {
                return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "pgstash is not paused")))
            }
            return .perform(.resume(database: db))
        case .kill(let db):
            if let e = unknownDatabase(db, snapshot) { return .outcome(.error(e)) }
            return .perform(.kill(database: db))
        }
    }

    /// The cache's commands: refused while the cache is off, or for an unknown database.
    private static func runCache(_ command: AdminCommand, _ s: AdminSnapshot) -> Decision {
        guard let figures = s.cache else {
            return .outcome(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the result cache is off",
                                              hint: "Set enabled = true in the [cache] section of proxy.conf (and configure [redis]), then restart pgstash.")))
        }
        switch command {
        case .show(.cache):
            return .outcome(.rows(AdminResultSet(columns: AdminCache.columns, rows: AdminCache.rows(figures, config: s.config.cache))))
        case .show(.cacheStatus):
            return .outcome(.rows(AdminResultSet(columns: AdminCache.statusColumns, rows: AdminCache.statusRows(figures))))
        case .show(.cacheAdvice):
            return .perform(.cacheAdvice)
        case .explainCache(let db, let sql):
            if let db, let e = unknownDatabase(db, s) { return .outcome(.error(e)) }
            guard let name = db ?? defaultDatabase(s) else { return .outcome(.error(noDatabase)) }
            return .perform(.explainCache(database: name, sql: sql))
        case .invalidate(let target, let db):
            if let db, let e = unknownDatabase(db, s) { return .outcome(.error(e)) }
            if case .table = target, db == nil {
                guard let name = defaultDatabase(s) else { return .outcome(.error(noDatabase)) }
                return .perform(.invalidate(target, database: name))
            }
            return .perform(.invalidate(target, database: db))
        default:
            return .outcome(.error(AdminError(AdminSQLState.syntaxError, "not a cache command: \(command)")))
        }
    }

    /// The database a cache command without `ON db` is about: the first configured one by
    /// name (the only one, in the usual setup).
    public static func defaultDatabase(_ s: AdminSnapshot) -> String? { s.config.databases.keys.sorted().first }

    private static let noDatabase = AdminError(AdminSQLState.invalidCatalogName, "pgstash serves no database")

    private static func unknownDatabase(_ db: String, _ s: AdminSnapshot) -> AdminError? {
        guard s.config.databases[db] == nil else { return nil }
        let known = s.config.databases.keys.sorted().joined(separator: ", ")
        return AdminError(AdminSQLState.invalidCatalogName, "no such database: \(db)", hint: "pgstash serves: \(known).")
    }

    private static func alreadyPaused(_ db: String?) -> AdminError {
        AdminError(AdminSQLState.objectNotInPrerequisiteState, db.map { "database \($0) is already paused" } ?? "pgstash is already paused",
                   hint: "RESUME releases it.")
    }

    /// The columns a command returns; nil for commands without rows (Describe: NoData).
    public static func columns(of command: AdminCommand) -> [AdminColumn]? {
        if case .show(let target) = command { return columns(of: target) }
        if case .explainCache = command { return AdminCache.explainColumns }
        return nil
    }

    // MARK: Columns (PgBouncer 1.18's names and types, then pgstash's own)

    static let poolColumns: [AdminColumn] =
        [AdminColumn("database", .text), AdminColumn("user", .text)]
        + ["cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active",
           "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
           "maxwait", "maxwait_us"].map { AdminColumn($0, .int4) }
        + [AdminColumn("pool_mode", .text)]

    static let statsColumns: [AdminColumn] =
        [AdminColumn("database", .text)]
        + ["total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time",
           "total_query_time", "total_wait_time", "avg_xact_count", "avg_query_count", "avg_recv",
           "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time"].map { AdminColumn($0, .numeric) }

    static let connectionColumns: [AdminColumn] = columns([
        ("type", .text), ("user", .text), ("database", .text), ("state", .text), ("addr", .text),
        ("port", .int4), ("local_addr", .text), ("local_port", .int4), ("connect_time", .text),
        ("request_time", .text), ("wait", .int4), ("wait_us", .int4), ("close_needed", .int4),
        ("ptr", .text), ("link", .text), ("remote_pid", .int4), ("tls", .text), ("application_name", .text),
    ])

    static let databaseColumns: [AdminColumn] = columns([
        ("name", .text), ("host", .text), ("port", .int4), ("database", .text), ("force_user", .text),
        ("pool_size", .int4), ("min_pool_size", .int4), ("reserve_pool", .int4), ("pool_mode", .text),
        ("max_connections", .int4), ("current_connections", .int4), ("paused", .int4), ("disabled", .int4),
    ])

    private static func columns(_ pairs: [(String, AdminColumnType)]) -> [AdminColumn] {
        pairs.map { AdminColumn($0.0, $0.1) }
    }

    public static func columns(of target: AdminShowTarget) -> [AdminColumn] {
        switch target {
        case .pools: return poolColumns
        case .stats: return statsColumns
        case .clients, .servers: return connectionColumns
        case .databases: return databaseColumns
        case .config: return ["key", "value", "default", "changeable"].map { AdminColumn($0, .text) }
        case .version: return [AdminColumn("version", .text)]
        case .lists: return [AdminColumn("list", .text), AdminColumn("items", .int4)]
        case .rules:
            return columns([("name", .text), ("tier", .text), ("ttl", .numeric), ("tables", .text), ("fingerprint", .text),
                            ("pattern", .text), ("shared", .text), ("cache", .text)])
        case .queries: return queryColumns
        case .help: return [AdminColumn("command", .text), AdminColumn("description", .text)]
        case .cache: return AdminCache.columns
        case .cacheStatus: return AdminCache.statusColumns
        case .cacheAdvice: return CacheAdvice.columns
        }
    }

    /// `SHOW QUERIES`: times in microseconds, as `SHOW STATS`.
    static let queryColumns: [AdminColumn] =
        [AdminColumn("database", .text), AdminColumn("fingerprint", .text)]
        + ["calls", "total_time", "avg_time", "p50_time", "p99_time", "max_time", "rows", "errors",
           "cache_hits", "cache_misses"].map { AdminColumn($0, .numeric) }
        + [AdminColumn("query", .text)]

    // MARK: Rows

    static func rows(of target: AdminShowTarget, _ s: AdminSnapshot) -> [[String?]] {
        switch target {
        case .pools:
            return s.pools.map { p in
                [p.database, p.user, "\(p.clientsActive)", "\(p.clientsWaiting)", "0", "0", "\(p.serversActive)",
                 "0", "\(p.serversBeingCanceled)", "\(p.serversIdle)", "0", "0", "\(p.serversLogin)",
                 "\(Int(p.maxWait))", "\(Int((p.maxWait - p.maxWait.rounded(.down)) * 1_000_000))", p.mode]
            }
        case .stats:
            return s.stats.map { st in
                let t = st.totals, a = st.averages
                return [st.database] + [t.transactions, t.queries, t.received, t.sent, t.transactionTime, t.queryTime,
                                        t.waitTime, a.transactionsPerSecond, a.queriesPerSecond, a.receivedPerSecond,
                                        a.sentPerSecond, a.transactionTime, a.queryTime, a.waitTime].map { "\($0)" }
            }
        case .clients: return s.clients.map { connectionRow("C", $0) }
        case .servers: return s.servers.map { connectionRow("S", $0) }
        case .databases: return databaseRows(s)
        case .config: return AdminConfigRows.rows(s.config)
        case .version: return [[s.version]]
        case .lists:
            let logins = s.clients.filter { $0.state == "login" }.count
            let users = Set(s.config.auth.users.keys).union(s.config.databases.values.compactMap(\.user))
            let lists: [(String, Int)] = [
                ("databases", s.config.databases.count), ("users", users.count), ("pools", s.pools.count),
                ("used_clients", s.clients.count - logins), ("login_clients", logins),
                ("used_servers", s.servers.count),
            ]
            return lists.map { [$0.0, "\($0.1)"] }
        case .rules:
            return s.config.cache.rules.map { r in
                let ttl = s.config.cache.tiers.first { $0.name == r.tier }.map { AdminConfigRows.number($0.ttl) }
                return [r.name, r.tier, ttl, r.tables.joined(separator: ","), r.fingerprint, r.pattern,
                        r.shared ? "yes" : "no", r.cache ? "yes" : "no"]
            }
        case .queries:
            return (s.queries ?? []).map { d in
                let l = d.latency
                return [d.key.database, d.fingerprint] + [
                    d.calls, l.totalMicroseconds, l.count > 0 ? l.totalMicroseconds / l.count : 0, l.quantile(0.5),
                    l.quantile(0.99), l.maxMicroseconds, d.rows, d.errors, d.cacheHits, d.cacheMisses,
                ].map { "\($0)" } + [d.query]
            }
        case .help:
            return AdminCommand.usage.map { [$0.command, $0.description] }
        case .cache:
            return s.cache.map { AdminCache.rows($0, config: s.config.cache) } ?? []
        case .cacheStatus:
            return s.cache.map(AdminCache.statusRows) ?? []
        case .cacheAdvice:
            return []   // computed by the proxy (`AdminAction.cacheAdvice`): it needs the catalogs
        }
    }

    private static func connectionRow(_ type: String, _ c: AdminSnapshot.ConnectionRow) -> [String?] {
        let waitWhole = Int(c.wait)
        return [type, c.user, c.database, c.state, c.address, "\(c.port)", c.localAddress, "\(c.localPort)",
                AdminTime.format(c.connectTime), AdminTime.format(c.requestTime), "\(waitWhole)",
                "\(Int((c.wait - Double(waitWhole)) * 1_000_000))", "0", c.ptr, c.link, "\(c.remotePID)", c.tls,
                c.applicationName]
    }

    private static func databaseRows(_ s: AdminSnapshot) -> [[String?]] {
        var rows: [[String?]] = s.config.databases.keys.sorted().map { name in
            let d = s.config.databases[name]!
            let p = s.config.effectivePool(database: name, user: nil)
            return [name, d.host, "\(d.port)", d.dbname, d.user, "\(p.maxUpstream)", "\(p.minIdle)", "0",
                    p.mode.rawValue, "0", "\(s.serverCounts[name] ?? 0)", s.isPaused(name) ? "1" : "0", "0"]
        }
        // The console itself, as PgBouncer lists its own `pgbouncer` database.
        rows.append([databaseName, nil, "\(s.config.listen.port)", databaseName, nil, "0", "0", "0",
                     "statement", "0", "0", "0", "0"])
        return rows
    }
}

/// Formats epoch seconds as PgBouncer does: `2026-11-28 06:52:33 UTC`. Pure (no time zone
/// database): days to a civil date by Howard Hinnant's algorithm.
public enum AdminTime {
    public static func format(_ epoch: Double) -> String {
        let secs = Int64(epoch.rounded(.down))
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)-\(two(m))-\(two(d)) \(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60)) UTC"
    }
}
