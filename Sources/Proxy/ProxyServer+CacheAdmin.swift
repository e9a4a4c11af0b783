import CachePolicy
import ProxyConfig
import ProxyCore
import SQLAnalysis

/// The admin console's cache commands against the live cache: its figures for `SHOW CACHE`,
/// `EXPLAIN CACHE` on the loaded catalog snapshot, and `INVALIDATE` published to Redis.
extension ProxyServer {
    /// The cache's counters for the console; nil when the cache is off.
    func cacheFigures() -> CacheFigures? {
        guard let cache else { return nil }
        let s = cache.stats
        var f = CacheFigures()
        for (name, r) in s.rules {
            f.rules[name] = CacheFigures.Rule(hits: r.hits, misses: r.misses, fills: r.fills, fillsRefused: r.fillsRefused,
                                              bytesStored: r.bytesStored)
        }
        f.redisUp = cache.store.isReady
        f.joined = cache.joined
        f.publications = s.publications
        f.epochBumps = s.epochBumps
        f.publicationsOwed = s.publicationsOwed
        f.bypasses = CacheStats.Bypass.allCases.map { ($0.rawValue, s.bypasses[$0] ?? 0) }
        f.bypassReasons = s.bypassReasons
        f.fillRefusals = s.fillRefusals
        let l = cache.localTotals
        f.local = CacheFigures.Local()
        f.local.hits = s.localHits
        f.local.entries = l.entries
        f.local.bytes = l.bytes
        f.local.solo = l.solo
        f.catalogsLoaded = config.databases.keys.sorted().filter { cache.catalogs[ResultCache.prefix(config.databases[$0]!)] != nil }
        return f
    }

    /// The role a console command speaks for on `database`: its upstream user, else the
    /// console user (who logs in upstream as themselves).
    private func consoleRole(_ database: String, user: String) -> String {
        config.databases[database]?.user ?? user
    }

    /// The cache's catalog snapshot of a configured database, or the console's error.
    private func consoleCatalog(_ database: String) -> Result<(prefix: String, catalog: CatalogSnapshot), AdminError> {
        guard let cache, let db = config.databases[database] else {
            return .failure(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the result cache is off"))
        }
        let prefix = ResultCache.prefix(db)
        guard let catalog = cache.catalogs[prefix] else {
            return .failure(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the catalog of database \(database) is not loaded yet",
                                       hint: "pgstash reads it at start and after DDL; the log says \"catalog of \(database) loaded\" when it is in. Try again then."))
        }
        return .success((prefix, catalog))
    }

    /// `EXPLAIN CACHE`: a session of the database's role with default settings. Several
    /// statements are a script: the last is explained after the others
    /// (`AdminCache.explainScript`). The last refused fill of the statement, if any, follows.
    func explainCache(database: String, sql: String, user: String) -> AdminOutcome {
        guard let cache else { return .error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the result cache is off")) }
        switch consoleCatalog(database) {
        case .failure(let e):
            return .error(e)
        case .success(let (prefix, catalog)):
            let session = SessionContext(database: prefix, role: consoleRole(database, user: user))
            let pieces = AdminCommand.statements(in: sql)
            var set: AdminResultSet
            if pieces.count > 1 {
                set = AdminCache.explainScript(pieces.map { ($0, analysisCache.analysis(of: $0)) }, database: database,
                                               policy: cache.policy, session: session, catalog: catalog)
            } else {
                set = AdminCache.explain(sql: sql, analysis: analysisCache.analysis(of: sql), database: database,
                                         policy: cache.policy, session: session, catalog: catalog)
            }
            if let last = pieces.last, let refusal = lastFillRefusal(prefix: prefix, sql: last) {
                set.rows.append(["fills", FillRefusals.describe(refusal)])
            }
            return .rows(set)
        }
    }

    /// `SHOW CACHE ADVICE` over the query digests (`queries`: most total time first).
    func cacheAdvice(_ queries: [QueryDigest], user: String) -> AdminOutcome {
        guard let cache else { return .error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the result cache is off")) }
        var databases: [String: CacheAdvice.Database] = [:]
        for (name, db) in config.databases {
            let prefix = ResultCache.prefix(db)
            databases[name] = CacheAdvice.Database(session: SessionContext(database: prefix, role: consoleRole(name, user: user)),
                                                   catalog: cache.catalogs[prefix])
        }
        let rows = CacheAdvice.rows(queries, policy: cache.policy, databases: databases, refusals: admin.fillRefusals,
                                    analysis: { analysisCache.analysis(of: $0) })
        return .rows(AdminResultSet(columns: CacheAdvice.columns, rows: rows))
    }

    /// The last refused fill of the statement `sql` on the database of `prefix`.
    private func lastFillRefusal(prefix: String, sql: String) -> FillRefusals.Entry? {
        guard case .statements(let list) = analysisCache.analysis(of: sql), list.count == 1 else { return nil }
        return admin.fillRefusals.last(FillRefusals.Key(prefix: prefix, fingerprint: list[0].fingerprint))
    }

    /// A fill of `query` (the statement the client ran) under `rule` was refused at run time:
    /// remembered for `EXPLAIN CACHE` and `SHOW CACHE ADVICE`.
    func fillRefused(prefix: String, query: String, rule: String, reason: String) {
        guard case .statements(let list) = analysisCache.analysis(of: query), list.count == 1 else { return }
        admin.fillRefusals.record(FillRefusals.Key(prefix: prefix, fingerprint: list[0].fingerprint), reason: reason, rule: rule,
                                  at: wallClock())
    }

    /// `INVALIDATE`: publishes, then answers (`completion` runs on the loop).
    func invalidateFromConsole(_ target: AdminInvalidation, database: String?, user: String,
                               _ completion: @escaping (AdminOutcome) -> Void) {
        guard let cache else { return completion(.error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "the result cache is off"))) }
        var sets: [(prefix: String, writes: WriteSet)] = []
        switch target {
        case .all:
            let names = database.map { [$0] } ?? config.databases.keys.sorted()
            let prefixes = Set(names.compactMap { config.databases[$0].map(ResultCache.prefix) })
            for p in prefixes.sorted() { sets.append((p, WriteSet(epochReason: "INVALIDATE ALL by \(user)"))) }
        case .table(let table):
            let name = database ?? config.databases.keys.sorted().first ?? ""
            switch consoleCatalog(name) {
            case .failure(let e): return completion(.error(e))
            case .success(let (prefix, catalog)):
                switch AdminCache.invalidation(table, catalog: catalog, role: consoleRole(name, user: user)) {
                case .failure(let e): return completion(.error(e))
                case .success(let w): sets.append((prefix, w))
                }
            }
        }
        log.info("admin: \(AdminCommand.invalidate(target, database: database)) by \(user): \(sets.map { "\($0.prefix): \($0.writes.epochReason ?? $0.writes.sortedTags.map(\.description).joined(separator: " "))" }.joined(separator: "; "))")
        guard !sets.isEmpty else { return completion(.done(tag: "INVALIDATE")) }
        var remaining = sets.count
        var allReached = true
        for (prefix, w) in sets {
            cache.invalidateFromConsole(prefix, w) { reached in
                if !reached { allReached = false }
                remaining -= 1
                guard remaining == 0 else { return }
                completion(allReached ? .done(tag: "INVALIDATE") : .error(AdminError(
                    AdminSQLState.objectNotInPrerequisiteState, "Redis is unreachable: the invalidation is kept as a debt",
                    hint: "This instance serves nothing from the cache until Redis takes it; other instances see its lease lapse and serve nothing from the cache either.")))
            }
        }
    }
}
