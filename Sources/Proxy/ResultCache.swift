import CachePolicy
import EventLoop
import Glibc
import Metrics
import ProxyConfig
import ProxyCore
import RedisStore
import SQLAnalysis

/// The result cache's shared part (cache.md): the Redis store on the event loop, the policy,
/// the catalog snapshot of each database, this instance's membership lease, and publication
/// of write sets with the acknowledgement held while Redis cannot take them. The per-client
/// part is `ClientHandler+Cache`.
final class ResultCache {
    let loop: EventLoop
    let store: RedisStore
    private(set) var policy: CachePolicy
    let log: Logger
    /// This instance's name in the membership set (stable across restarts, so that a restart
    /// replaces a crashed incarnation's lapsed lease).
    let instance: String
    /// The latest catalog snapshot of each database prefix (write sets are computed with it).
    var catalogs: [String: CatalogSnapshot] = [:]
    /// Prefixes whose snapshot is out of date (DDL went through): reads are not cached until
    /// the reload is in.
    private var outdatedCatalogs: Set<String> = []
    /// Bumped by each catalog change seen: a load begun before it does not make the
    /// snapshot current.
    private var catalogChanges: [String: Int] = [:]
    private var lastOutdatedReload: [String: Double] = [:]
    /// Loads a database's catalog (set by the server; nil in tests without PostgreSQL).
    var catalogLoader: ((_ prefix: String, _ completion: @escaping (CatalogSnapshot?) -> Void) -> Void)?
    private var catalogLoading: Set<String> = []
    /// A failed load is retried no sooner than this (loop time), so that reads do not
    /// hammer PostgreSQL with catalog queries.
    private var catalogRetryAt: [String: Double] = [:]
    let prefixes: [String]
    /// Write sets that could not be published while Redis was unreachable, by prefix: paid
    /// before this instance serves again (cache.md §1.5).
    private var debt: [String: WriteSet] = [:]
    /// Joined: the first heartbeat after (re)connecting succeeded and the debt is paid.
    private(set) var joined = false
    private var everJoined = false
    private var joining = false
    /// The latest lease expiry sent (wall-clock seconds): until then peers may trust us.
    private var leaseSentUntil: Double = 0
    private var heartbeatTimer: TimerID?
    /// Single flight: keys being filled by a client of this instance → waiters.
    private var flights: [String: [() -> Void]] = [:]
    private var tokenCounter = 0
    var stats = CacheStats()
    /// This instance's copies of hot entries, by prefix (`ResultCache+Local`).
    var local: [String: LocalResults] = [:]
    /// When this instance's membership was last registered (loop time; nil while not since
    /// the connection was made): peers may trust a solo heartbeat until `soloLease` after.
    var registeredAt: Double?
    /// The other members (name, lease expiry as Redis holds it) the last heartbeat listed, by
    /// prefix: put back if Redis loses the set (`restoreMembers`).
    var knownMembers: [String: [(name: String, score: String)]] = [:]
    /// Acknowledgements waiting for the registration (`ResultCache+Local`).
    var awaitingRegistration: [() -> Void] = []
    /// Observes each lookup's round trip (set by the server).
    var lookupDuration: Histogram?

    static let leaseSeconds = 2.0
    static let heartbeatInterval = 0.6
    static let fillLeaseMs = 250
    /// Version keys live twice the largest tier TTL (cache.md §1.1).
    var versionTTLms: Int { Int(2 * (policy.config.tiers.map(\.ttl).max() ?? 300) * 1000) }

    init(config: ProxyConfiguration, loop: EventLoop, log: Logger) {
        self.loop = loop
        self.log = log
        self.policy = CachePolicy(config: config.cache)
        prefixes = Self.prefixes(config)
        store = RedisStore(settings: RedisSettings(config: config.redis, databases: prefixes), loop: loop)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        instance = config.cache.instance ?? "\(String(cString: host)):\(config.listen.port)"
        if config.cache.localMemory > 0, !prefixes.isEmpty {
            for p in prefixes { local[p] = LocalResults(byteLimit: config.cache.localMemory / prefixes.count, soloLease: Self.soloLease) }
        }
    }

    /// The key prefix of a database: its upstream identity, so that instances sharing a Redis
    /// and configured with the same upstream share entries and tags.
    static func prefix(_ db: DatabaseConfig) -> String { "\(db.dbname)@\(db.host):\(db.port)" }
    static func prefixes(_ config: ProxyConfiguration) -> [String] {
        Array(Set(config.databases.values.map(prefix))).sorted()
    }

    func start() {
        store.onReady = { [weak self] info in self?.connected(info) }
        store.onConnectionLost = { [weak self] reason in
            guard let self else { return }
            self.joined = false
            self.connectionLost()
            self.log.warning("cache: Redis connection lost (\(reason)); serving from PostgreSQL until it is back")
        }
        store.start()
        heartbeatTimer = loop.schedule(after: Self.heartbeatInterval) { [weak self] in self?.heartbeat() }
    }

    /// Leaves the membership (so that peers do not wait for this lease to lapse, nor see
    /// it as a lapsed member), then stops; `completion` runs when done or after 300 ms.
    func stop(_ completion: @escaping () -> Void = {}) {
        if let t = heartbeatTimer { loop.cancel(t) }
        heartbeatTimer = nil
        var done = false
        let finish = { [weak self] in
            guard !done else { return }
            done = true
            self?.store.stop()
            completion()
        }
        guard store.isReady, !prefixes.isEmpty else { return finish() }
        var remaining = prefixes.count
        for p in prefixes {
            store.leave(keys(p), instance: instance) { _ in
                remaining -= 1
                if remaining == 0 { finish() }
            }
        }
        _ = loop.schedule(after: 0.3) { finish() }
    }

    func reload(_ config: ProxyConfiguration) {
        policy = CachePolicy(config: config.cache)
        plansChanged()
        for p in prefixes { reloadCatalog(p) }
    }

    /// Serving lookups for a database: Redis ready, joined, its catalog loaded.
    func catalog(for prefix: String) -> CatalogSnapshot? {
        guard joined, store.isReady else { return nil }
        if !outdatedCatalogs.contains(prefix), let c = catalogs[prefix] { return c }
        reloadCatalog(prefix)
        return nil
    }

    /// A read named a relation the snapshot does not have (created since, perhaps by another
    /// instance or outside pgstash): read the catalog again, at most every 2 s.
    func catalogMayBeOutdated(_ prefix: String) {
        guard loop.now >= lastOutdatedReload[prefix] ?? 0 else { return }
        lastOutdatedReload[prefix] = loop.now + 2
        reloadCatalog(prefix)
    }
    func reloadCatalog(_ prefix: String) {
        guard let loader = catalogLoader, !catalogLoading.contains(prefix),
              loop.now >= catalogRetryAt[prefix] ?? 0 else { return }
        catalogLoading.insert(prefix)
        let change = catalogChanges[prefix] ?? 0
        loader(prefix) { [weak self] snapshot in
            guard let self else { return }
            self.catalogLoading.remove(prefix)
            if let snapshot {
                self.catalogs[prefix] = snapshot
                self.plansChanged()
                guard self.catalogChanges[prefix] ?? 0 == change else { return self.reloadCatalog(prefix) }
                self.outdatedCatalogs.remove(prefix)
                self.catalogRetryAt[prefix] = nil
            } else {
                self.catalogRetryAt[prefix] = self.loop.now + 5
            }
        }
    }

    /// Redis key names of a prefix, made once.
    private var keyNames: [String: CacheKeys] = [:]
    func keys(_ prefix: String) -> CacheKeys {
        if let k = keyNames[prefix] { return k }
        let k = CacheKeys(database: prefix)
        keyNames[prefix] = k
        return k
    }

    // MARK: Plans

    /// What decides a read's plan and its key's statement part.
    struct PlanKey: Hashable {
        var prefix: String
        var context: String
        var statement: String
        var extended: Bool
        var parameterTypes: [Int32]
    }

    struct PlanMemo {
        var decision: CacheDecision
        /// SHA-256 state after `CacheKey.statementPart` of the read (the key's constant part).
        var statementKey: SHA256Prefix
        /// The plan's tags as Redis names them.
        var tagNames: [String]
        var generation: Int
    }

    /// Changes whenever a catalog snapshot or the rules change: remembered plans are then
    /// decided again.
    private(set) var planGeneration = 0
    private var plans: [PlanKey: PlanMemo] = [:]
    static let maxPlans = 20_000

    func plan(_ key: PlanKey) -> PlanMemo? {
        guard let m = plans[key], m.generation == planGeneration else { return nil }
        return m
    }

    func remember(_ key: PlanKey, decision: CacheDecision, statementKey: [UInt8]) -> PlanMemo {
        let m = PlanMemo(decision: decision, statementKey: Crypto.sha256Prefix(statementKey),
                         tagNames: decision.plan?.tags.map(\.description) ?? [], generation: planGeneration)
        if plans.count >= Self.maxPlans { plans.removeAll(keepingCapacity: true) }
        plans[key] = m
        return m
    }

    private func plansChanged() {
        planGeneration &+= 1
        plans.removeAll(keepingCapacity: true)
        writeSets.removeAll(keepingCapacity: true)
    }

    /// What statements write, per session context (cleared with the plans).
    private var writeSets: [PlanKey: WriteSet] = [:]

    func rememberedWriteSet(_ key: PlanKey) -> WriteSet? { writeSets[key] }

    func rememberWriteSet(_ key: PlanKey, _ w: WriteSet) {
        if writeSets.count >= Self.maxPlans { writeSets.removeAll(keepingCapacity: true) }
        writeSets[key] = w
    }

    // MARK: Membership (cache.md §1.5)

    static func wallClock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func connected(_ info: RedisStore.ReadyInfo) {
        if info.runIDChanged {
            log.warning("cache: Redis restarted or failed over (run id changed): every entry was invalidated")
            // The membership went with it: put back the peers last seen, with their leases,
            // before serving (a peer still cut off may owe publications: its lease lapses).
            for p in prefixes { restoreMembers(p) }
        }
        join()
    }

    /// Pays the debt (or, on the first join of this process, bumps the epoch: a crashed
    /// earlier incarnation may have owed bumps), then renews the lease; lookups resume after.
    private func join() {
        guard !joining else { return }
        joining = true
        let first = !everJoined
        var owed = debt
        if first { for p in prefixes { owed[p, default: WriteSet()].formUnion(WriteSet(epochReason: "pgstash instance (re)started")) } }
        let pending = owed.filter { !$0.value.isEmpty }
        var remaining = pending.count
        let done: () -> Void = { [weak self] in
            guard let self else { return }
            self.joining = false
            self.everJoined = true
            self.heartbeat()
        }
        if remaining == 0 { return done() }
        for (p, w) in pending {
            bump(p, w) { [weak self] ok in
                guard let self else { return }
                guard ok else { self.joining = false; return }
                if self.debt[p] == w { self.debt[p] = nil }
                remaining -= 1
                if remaining == 0 { done() }
            }
        }
    }

    private func heartbeat() {
        if let t = heartbeatTimer { loop.cancel(t) }
        heartbeatTimer = loop.schedule(after: Self.heartbeatInterval) { [weak self] in self?.heartbeat() }
        guard store.isReady else { return }
        guard everJoined, debt.isEmpty else { return join() }
        let until = Self.wallClock() + Self.leaseSeconds
        leaseSentUntil = max(leaseSentUntil, until)
        var remaining = prefixes.count
        var failed = false
        let forgetAfter = policy.config.forgetAfter
        for p in prefixes {
            if forgetAfter > 0 {
                let before = Int64((Self.wallClock() - forgetAfter) * 1000)
                store.command(["ZREMRANGEBYSCORE", keys(p).members, "-inf", "(\(before)"]) { _ in }
            }
            var registered = false
            store.heartbeat(keys(p), instance: instance, expiresAtMs: Int64(until * 1000)) { [weak self] r in
                guard let self else { return }
                if case .failure = r { failed = true } else {
                    registered = true
                    // Added anew while registered: the set was lost (FLUSHALL) — put the peers back.
                    if case .success(.integer(1)) = r, self.registeredAt != nil { self.restoreMembers(p) }
                    self.registered()
                }
                remaining -= 1
                if remaining == 0, !failed, !self.joined, self.debt.isEmpty {
                    self.joined = true
                    self.log.info("cache: joined Redis as \(self.instance); serving from the cache")
                }
            }
            readMembers(p, registered: { registered })
        }
    }

    // MARK: Lookups and fills

    enum LookupOutcome {
        case hit([UInt8])
        /// `local`: the state of the local copy when the lookup was sent, for keeping a copy
        /// of the fill (`sentAt`: loop time).
        case miss(capturedTags: String, leaseAcquired: Bool, token: String, local: LocalResults.Marker?, sentAt: Double)
        /// Redis is unavailable or a member's lease lapsed: read from PostgreSQL, fill nothing.
        case unavailable(String)
    }

    func nextToken() -> String {
        tokenCounter += 1
        return "\(instance)#\(tokenCounter)"
    }

    func lookup(_ prefix: String, hash: String, rule: String, tagNames: [String], _ completion: @escaping (LookupOutcome) -> Void) {
        let token = nextToken()
        let started = loop.now
        let marker = local[prefix]?.marker(tags: tagNames)
        store.lookup(keys(prefix), hash: hash, tags: tagNames, token: token,
                     leaseMs: Self.fillLeaseMs, versionTTLms: versionTTLms) { [weak self] result in
            if let self { self.lookupDuration?.observe(self.loop.now - started) }
            switch result {
            case .success(.hit(let payload, let ttlMs)):
                if let self, let marker {
                    self.local[prefix]?.store(hash, payload: payload, rule: rule, tags: tagNames, marker: marker,
                                              expiresAt: started + Double(ttlMs) / 1000, now: self.loop.now)
                }
                completion(.hit(payload))
            case .success(.miss(let captured, let lease)):
                completion(.miss(capturedTags: captured, leaseAcquired: lease, token: token, local: marker, sentAt: started))
            case .success(.degraded): completion(.unavailable("a pgstash instance's lease lapsed (it may owe invalidations)"))
            case .failure(let e): completion(.unavailable("Redis: \(e)"))
            }
        }
    }

    func fill(_ prefix: String, hash: String, plan: CachePlan, tagNames: [String], capturedTags: String, token: String,
              payload: [UInt8], local marker: LocalResults.Marker?, _ completion: @escaping (Bool) -> Void) {
        let sentAt = loop.now
        store.fill(keys(prefix), hash: hash, tags: tagNames, capturedTags: capturedTags,
                   ttlMs: Int(plan.ttl * 1000), payload: payload, token: token, versionTTLms: versionTTLms) { [weak self] result in
            guard case .success(true) = result else { return completion(false) }
            if let self, let marker {
                self.local[prefix]?.store(hash, payload: payload, rule: plan.rule, tags: tagNames, marker: marker,
                                          expiresAt: sentAt + plan.ttl, now: self.loop.now)
            }
            completion(true)
        }
    }

    /// Whether another client of this instance is filling `hash`; if so `waiter` runs when it is done.
    func joinFlight(_ hash: String, waiter: @escaping () -> Void) -> Bool {
        guard flights[hash] != nil else { return false }
        flights[hash]!.append(waiter)
        return true
    }

    func startFlight(_ hash: String) { if flights[hash] == nil { flights[hash] = [] } }

    func endFlight(_ hash: String) {
        guard let waiters = flights.removeValue(forKey: hash) else { return }
        for w in waiters { w() }
    }

    // MARK: Publication (cache.md §1.2 step 4, §1.5)

    /// Publishes a committed transaction's writes; `completion` runs when the writer's
    /// acknowledgement may go: after the bump, or — Redis unreachable — once this instance's
    /// lease has certainly lapsed (peers then serve nothing from the cache), the writes kept
    /// as debt to bump before this instance serves again.
    func publish(_ prefix: String, _ w: WriteSet, _ completion: @escaping () -> Void) {
        guard !w.isEmpty else { return completion() }
        stats.publications += 1
        if w.bumpsEpoch {
            stats.epochBumps += 1
            log.info("cache: every entry of \(prefix) invalidated: \(w.epochReason ?? "unknown write")")
        }
        // Before the acknowledgement, which may follow at once when Redis is unreachable.
        local[prefix]?.invalidate(tags: w.sortedTags.map(\.description), everything: w.bumpsEpoch)
        if w.changesCatalog {
            outdatedCatalogs.insert(prefix)
            plansChanged()
            catalogChanges[prefix, default: 0] += 1
            catalogRetryAt[prefix] = nil
            reloadCatalog(prefix)
        }
        attemptPublish(prefix, w, completion)
    }

    private func attemptPublish(_ prefix: String, _ w: WriteSet, _ completion: @escaping () -> Void) {
        guard debt.isEmpty || debt[prefix] == nil else { return owe(prefix, w, completion) }
        bump(prefix, w) { [weak self] ok in
            guard let self else { return completion() }
            if ok { return self.whenRegistered(completion) }
            if Self.wallClock() > self.leaseSentUntil + 0.05 { return self.owe(prefix, w, completion) }
            _ = self.loop.schedule(after: 0.05) { [weak self] in
                guard let self else { return completion() }
                self.attemptPublish(prefix, w, completion)
            }
        }
    }

    private func owe(_ prefix: String, _ w: WriteSet, _ completion: () -> Void) {
        if debt[prefix] == nil { log.warning("cache: could not publish writes to Redis; this instance serves nothing from the cache until it can") }
        debt[prefix, default: WriteSet()].formUnion(w)
        joined = false
        stats.publicationsOwed += 1
        completion()
    }

    private func bump(_ prefix: String, _ w: WriteSet, _ completion: @escaping (Bool) -> Void) {
        store.bump(keys(prefix), tags: w.sortedTags.map(\.description), epoch: w.bumpsEpoch,
                   versionTTLms: versionTTLms) { [weak self] result in
            switch result {
            case .failure(let e):
                self?.log.debug("cache: bump failed: \(e)")
                completion(false)
            case .success(let v):
                if w.bumpsEpoch { self?.local[prefix]?.epochBumped(to: String(v)) }
                completion(true)
            }
        }
    }
}

// MARK: The admin console (INVALIDATE, SHOW CACHE)

extension ResultCache {
    /// Publishes an invalidation asked for in the console, as a committed write's: `completion`
    /// gets true once Redis took the bump, false when it was kept as debt (Redis unreachable:
    /// paid before this instance serves again, and peers serve nothing meanwhile).
    func invalidateFromConsole(_ prefix: String, _ w: WriteSet, _ completion: @escaping (Bool) -> Void) {
        let owedBefore = stats.publicationsOwed
        publish(prefix, w) { [weak self] in completion((self?.stats.publicationsOwed ?? owedBefore + 1) == owedBefore) }
    }
}
