import CachePolicy
import EventLoop
import ProxyConfig

/// Starting and stopping the result cache with the proxy.
extension ProxyServer {
    /// Connects to Redis and loads the catalogs when `[cache] enabled` (and `[redis]` is not
    /// disabled). Changing `enabled` takes a restart; rules and tiers reload with SIGHUP.
    func startCache() {
        guard config.cache.enabled, config.redis.enabled, cache == nil else { return }
        let c = ResultCache(config: config, loop: loop, log: log)
        c.catalogLoader = { [weakRef] prefix, completion in
            guard let self = weakRef.target else { return completion(nil) }
            self.loadCatalog(prefix: prefix, completion)
        }
        cache = c
        metrics.installCacheCollector(server: self)
        if metrics.recording { c.lookupDuration = metrics.cacheLookupDuration.labels([]) }
        c.start()
        for p in c.prefixes { c.reloadCatalog(p) }
        log.info("cache: enabled with \(config.cache.rules.count) rules; Redis at \(config.redis.unixSocket ?? "\(config.redis.host):\(config.redis.port)")")
    }

    /// Leaves the cache's membership and stops Redis, then `completion`.
    func stopCache(_ completion: @escaping () -> Void) {
        guard let c = cache else { return completion() }
        cache = nil
        c.stop(completion)
    }

    /// The database a cache prefix stands for, and the credentials to read its catalog with.
    func loadCatalog(prefix: String, _ completion: @escaping (CatalogSnapshot?) -> Void) {
        guard let (name, db) = config.databases.first(where: { ResultCache.prefix($0.value) == prefix }) else {
            return completion(nil)
        }
        // The catalog is read with the database's upstream login, or else a user of the
        // auth file (postgres first): pg_class and friends are visible to every role.
        let fallback = config.auth.users["postgres"] != nil ? "postgres" : config.auth.users.keys.sorted().first
        guard let params = CatalogConnectionParameters(database: name, in: config, clientUser: db.user ?? fallback) else {
            log.warning("cache: no login to read the catalog of \(name) with (set user and password in [databases.\(name)]); its reads are not cached")
            return completion(nil)
        }
        CatalogLoader.load(params, on: loop) { [weakRef] result in
            let server = weakRef.target
            switch result {
            case .success(let snapshot):
                server?.log.info("cache: catalog of \(name) loaded")
                completion(snapshot)
            case .failure(let e):
                server?.log.warning("cache: could not read the catalog of \(name): \(e); its reads are not cached")
                completion(nil)
            }
        }
    }
}
