import CachePolicy
import EventLoop
import PostgresWire
import ProxyCore
import SQLAnalysis

/// A client's part of the result cache: what it is doing with the batch at the head of its
/// input, the result it is capturing for a fill, and the writes whose publication holds its
/// acknowledgements (`CommitGate`).
struct ClientCacheState {
    /// The batch at the head of the input was decided: it goes to PostgreSQL.
    var decided = false
    /// A lookup (or a wait for another filler) is in flight: the input waits.
    var lookupInFlight = false
    /// Lookups of this batch so far (waits for another filler included).
    var attempts = 0
    var fill: PendingFill?
    var gate = CommitGate()
    var contextMemo: ContextMemo?

    /// The session context of the last lookup and the settings it was made from.
    struct ContextMemo {
        var settings: SessionSettings
        var pinsEmpty: Bool
        var context: SessionContext?
        var fingerprint: String
    }

    struct PendingFill {
        var prefix: String
        var hash: String
        var plan: CachePlan
        var tagNames: [String]
        var capturedTags: String
        var token: String
        var capture: ResultCapture
        var local: LocalResults.Marker?
        /// The statement's text, for the record of a refused fill (ClientHandler+FillRefusals.swift).
        var statement = ""
    }
}

extension ClientHandler {
    enum CacheStep { case wait, served, forward }

    /// The cache's prefix for the client's database, when the cache may serve it.
    var cachePrefix: String? { pool.map { ResultCache.prefix($0.database) } }

    /// The batch at the head of the input (the client holds no server): answered from the
    /// cache, looked up (wait), or sent to PostgreSQL (forward), possibly to fill the cache.
    func cacheStep(maxMessageSize: Int) -> CacheStep {
        guard let cache = server.cache, cacheState != nil, !cacheState!.decided else { return .forward }
        if cacheState!.lookupInFlight { return .wait }
        let scan = CacheBatch.scan(conn.inbound.readableView, maxMessageSize: maxMessageSize, maxBatchBytes: 64 * 1024)
        let batch: CacheBatch
        switch scan {
        case .incomplete: return .wait
        case .notCandidate: return forwardBatch(.shape, nil)
        case .candidate(let b): batch = b
        }
        guard let session, let prefix = cachePrefix else { return forwardBatch(.shape, nil) }
        guard let statement = session.cacheStatement(for: batch) else {
            return forwardBatch(.session, "the session is skipping to Sync, restoring settings, or reusing a statement name")
        }
        guard let (context, fingerprint) = cacheContext(session, prefix: prefix) else {
            return forwardBatch(.session, "a session setting pgstash does not follow (a search_path expression, an isolation level above READ COMMITTED)")
        }
        guard let catalog = cache.catalog(for: prefix) else {
            return cache.joined ? forwardBatch(.catalog, "the catalog of the database is being read")
                                : forwardBatch(.unavailable, "Redis is unavailable or this instance has not joined")
        }
        var extended: CacheBatch.ExtendedRead?
        if case .extended(let read) = batch.shape { extended = read }
        // The decision and the key's statement part depend only on the statement and the
        // session context: computed once, then remembered until the catalog or rules change.
        let memoKey = ResultCache.PlanKey(prefix: prefix, context: fingerprint, statement: statement.query,
                                          extended: extended != nil, parameterTypes: statement.parameterTypes)
        let memo: ResultCache.PlanMemo
        if let m = cache.plan(memoKey) {
            memo = m
        } else {
            let analysis = server.analysisCache.analysis(of: statement.query)
            let decision = cache.policy.decide(analysis, session: context, catalog: catalog)
            if let reason = decision.reason, reason.contains(CachePolicy.notInCatalog) {
                cache.catalogMayBeOutdated(prefix)
                return forwardBatch(.notCacheable, reason)
            }
            var statementKey: [UInt8] = []
            if let plan = decision.plan {
                statementKey = CacheKey.statementPart(cache.policy.keyInput(
                    plan, session: context, statement: statement.query, protocolKind: extended == nil ? .simple : .extended,
                    parameterTypes: statement.parameterTypes.map { UInt32(bitPattern: $0) }))
            }
            memo = cache.remember(memoKey, decision: decision, statementKey: statementKey)
        }
        guard let plan = memo.decision.plan else {
            let reason = memo.decision.reason ?? ""
            let noRule = reason.hasPrefix("no cache rule") || reason.hasPrefix("cache rule")
            return forwardBatch(noRule ? .noRule : .notCacheable, reason)
        }
        let execution = CacheKey.executionPart(parameterFormats: extended?.bind.parameterFormats ?? [],
                                               parameterValues: extended?.bind.parameters ?? [],
                                               resultFormats: extended?.bind.resultFormats ?? [],
                                               describesPortal: extended?.describesPortal ?? false)
        let hash = CacheKey.hex(Crypto.sha256(memo.statementKey, then: execution))
        let tagNames = memo.tagNames
        if let entry = cache.localHit(prefix, hash: hash) {
            if serveHit(batch, payload: entry.payload, rule: plan.rule, into: &out.toClient) {
                cache.stats.localHits += 1
                return .served
            }
        }
        cacheState!.lookupInFlight = true
        cacheState!.attempts += 1
        updateReading()
        if cacheState!.attempts <= 3, cache.joinFlight(hash, waiter: { [weakRef] in weakRef.target?.cacheRetry() }) { return .wait }
        cache.lookup(prefix, hash: hash, rule: plan.rule, tagNames: tagNames) { [weakRef] outcome in
            weakRef.target?.lookupCompleted(batch, prefix: prefix, hash: hash, plan: plan, tagNames: tagNames, outcome: outcome)
        }
        return .wait
    }

    /// The session's facts for keys and rules, and a fingerprint of them; recomputed only
    /// when the session's settings (or pins) changed since the last request.
    private func cacheContext(_ session: ClientSession, prefix: String) -> (SessionContext, String)? {
        if let m = cacheState!.contextMemo, m.pinsEmpty == session.pins.isEmpty, m.settings == session.session.settings {
            return m.context.map { ($0, m.fingerprint) }
        }
        let context = session.cacheContext(database: prefix, loginUser: user)
        var fingerprint = ""
        if let c = context {
            fingerprint = c.role + "\u{1}" + c.settings.sorted { $0.key < $1.key }.map { $0.key + "=" + $0.value }
                .joined(separator: "\u{1}") + (c.hasTemporaryTables ? "\u{1}T" : "")
        }
        cacheState!.contextMemo = ClientCacheState.ContextMemo(settings: session.session.settings, pinsEmpty: session.pins.isEmpty,
                                                               context: context, fingerprint: fingerprint)
        return context.map { ($0, fingerprint) }
    }

    private func forwardBatch(_ kind: CacheStats.Bypass, _ reason: String?) -> CacheStep {
        cacheState?.decided = true
        server.cache?.stats.bypass(kind, reason: reason)
        return .forward
    }

    /// Another client's fill of the same key ended, or a filler elsewhere holds the lease:
    /// look up again.
    private func cacheRetry() {
        guard case .ready = phase, cacheState != nil else { return }
        cacheState!.lookupInFlight = false
        updateReading()
        relayInput()
    }

    private func lookupCompleted(_ batch: CacheBatch, prefix: String, hash: String, plan: CachePlan, tagNames: [String],
                                 outcome: ResultCache.LookupOutcome) {
        guard case .ready = phase, cacheState?.lookupInFlight == true, let cache = server.cache else { return }
        cacheState!.lookupInFlight = false
        switch outcome {
        case .hit(let payload):
            var b = ByteBuffer()
            if serveHit(batch, payload: payload, rule: plan.rule, into: &b) {
                sendToClient(b)
            } else {
                // An entry that cannot answer this request (it was stored without a
                // RowDescription): PostgreSQL answers, nothing is stored.
                cacheState!.decided = true
                cache.stats.rules[plan.rule, default: CacheStats.Rule()].misses += 1
                if server.admin.digests != nil { digestCacheLookup(batch, hit: nil) }
            }
        case let .miss(captured, leaseAcquired, token, localMarker, _):
            if !leaseAcquired && cacheState!.attempts <= 6 {
                // Another instance is filling this key: wait a little for its fill (§4).
                cacheState!.lookupInFlight = true
                let delay = 0.001 * Double(1 << min(cacheState!.attempts, 6))
                _ = server.loop.schedule(after: delay) { [weakRef] in weakRef.target?.cacheRetry() }
                return
            }
            cache.stats.rules[plan.rule, default: CacheStats.Rule()].misses += 1
            if server.admin.digests != nil { digestCacheLookup(batch, hit: nil) }
            cacheState!.decided = true
            cacheState!.fill = ClientCacheState.PendingFill(prefix: prefix, hash: hash, plan: plan, tagNames: tagNames, capturedTags: captured,
                                                            token: token, capture: ResultCapture(limit: cache.policy.config.maxResultBytes),
                                                            local: localMarker)
            cacheState!.fill!.statement = fillStatement(batch)
            cache.startFlight(hash)
        case .unavailable(let reason):
            cache.stats.bypass(.unavailable, reason: reason)
            cacheState!.decided = true
        }
        updateReading()
        relayInput()
    }

    /// Answers the batch at the head of the input with a stored result (appended to `reply`);
    /// false when the entry cannot answer it (stored without a RowDescription).
    private func serveHit(_ batch: CacheBatch, payload: [UInt8], rule: String, into reply: inout ByteBuffer) -> Bool {
        guard let result = CachedResult(payload: payload), let bytes = batch.reply(from: result, status: .idle),
              let cache = server.cache else { return false }
        cache.stats.rules[rule, default: CacheStats.Rule()].hits += 1
        if server.admin.digests != nil { digestCacheLookup(batch, hit: result) }
        conn.inbound.moveReaderIndex(forwardBy: batch.length)
        machine.cacheHitServed(batch, names: &server.statementNames)
        cacheState!.attempts = 0
        reply.append(bytes)
        requestStartedAt = nil
        return true
    }

    /// The client's input was consumed without a server, or its lease ended: the next
    /// batch is a new decision.
    func cacheBatchDone() {
        guard cacheOn else { return }
        cacheState!.decided = false
        cacheState!.attempts = 0
    }

    // MARK: Capturing a miss for its fill

    /// A message relayed to the client while a fill is pending.
    func cacheObserve(_ id: UInt8, frame: ArraySlice<UInt8>) {
        guard var f = cacheState?.fill else { return }
        f.capture.observe(id, frame: frame)
        cacheState!.fill = f
        if !f.capture.isOpen { finishFill() }
    }

    /// A row too big to buffer was streamed through: the result cannot be stored.
    func cacheStreamed() {
        guard cacheState?.fill != nil else { return }
        cacheState!.fill!.capture.refuseStreamed()
        finishFill()
    }

    /// Stores a complete capture, or gives up; other clients waiting on the key go on.
    func finishFill() {
        guard let f = cacheState?.fill, let cache = server.cache else { return }
        cacheState!.fill = nil
        switch f.capture.state {
        case .complete(let result):
            let payload = result.payload
            cache.fill(f.prefix, hash: f.hash, plan: f.plan, tagNames: f.tagNames, capturedTags: f.capturedTags, token: f.token,
                       payload: payload, local: f.local) { stored in
                if stored {
                    cache.stats.rules[f.plan.rule, default: CacheStats.Rule()].fills += 1
                    cache.stats.rules[f.plan.rule, default: CacheStats.Rule()].bytesStored += payload.count
                } else {
                    cache.stats.refusedFill(rule: f.plan.rule, reason: "a write changed its tags while the query ran")
                }
                cache.endFlight(f.hash)
            }
        case .refused(let reason):
            cache.stats.refusedFill(rule: f.plan.rule, reason: reason)
            cacheFillRefused(f, reason: reason)
            cache.endFlight(f.hash)
        case .open:
            cache.stats.refusedFill(rule: f.plan.rule, reason: "the client or its server went away")
            cache.endFlight(f.hash)
        }
    }

    // MARK: Writes

    /// Before a client message goes to its leased server: what it will write if it commits.
    /// Returns the server's count of requests awaiting ReadyForQuery, to compare after.
    func cacheBeforeClientMessage(_ id: FrontendMessageID, body: ArraySlice<UInt8>, server s: ServerHandler) -> Int {
        guard let cache = server.cache, cacheState != nil else { return 0 }
        switch id {
        case .query:
            cacheState!.gate.wrote(writeSet(of: String(decoding: body.dropLast(), as: UTF8.self), cache: cache))
        case .bind:
            // The statement the Bind names, as the session knows it (its Parse came first).
            if let end = body.firstIndex(of: 0), let stEnd = body[(end + 1)...].firstIndex(of: 0) {
                let name = String(decoding: body[(end + 1)..<stEnd], as: UTF8.self)
                if let text = session?.statementText(name) {
                    cacheState!.gate.wrote(writeSet(of: text, cache: cache))
                } else if !name.isEmpty {
                    cacheState!.gate.wrote(WriteSet(epochReason: "Bind of a statement pgstash does not know"))
                }
            }
        case .functionCall:
            cacheState!.gate.wrote(WriteSet(epochReason: "a function call may write any table"))
        default:
            break
        }
        return s.state.tracker.outstandingSyncs
    }

    /// After the message went: a request the server will answer with ReadyForQuery was queued.
    func cacheAfterClientMessage(outstandingBefore: Int, server s: ServerHandler) {
        guard cacheState != nil else { return }
        let n = s.state.tracker.outstandingSyncs - outstandingBefore
        if n > 0 { for _ in 0..<n { cacheState!.gate.requestQueued() } }
    }

    /// What `sql` writes, remembered per statement and session context like read plans. In a
    /// session whose names pgstash cannot resolve (a search_path expression), any write bumps
    /// the epoch: its target may not be the relation the default path names.
    private func writeSet(of sql: String, cache: ResultCache) -> WriteSet {
        guard let prefix = cachePrefix, let session else { return WriteSet() }
        let known = cacheContext(session, prefix: prefix)
        let key = ResultCache.PlanKey(prefix: prefix, context: known?.1 ?? "\u{0}unknown", statement: sql,
                                      extended: false, parameterTypes: [])
        if let w = cache.rememberedWriteSet(key) { return w }
        let context = known?.0 ?? SessionContext(database: prefix, role: user)
        let catalog = cache.catalogs[prefix] ?? CatalogSnapshot(relations: [])
        var w = cache.policy.writeSet(server.analysisCache.analysis(of: sql), session: context, catalog: catalog)
        if known == nil, !w.isEmpty, !w.bumpsEpoch {
            w = WriteSet(epochReason: "a write in a session whose search_path or isolation pgstash does not follow")
        }
        cache.rememberWriteSet(key, w)
        return w
    }

    /// Publishes writes that may have committed without the client hearing of it (its server
    /// was lost, or it left with a request in flight).
    func cachePublishOrphanedWrites() {
        guard cacheState != nil, let cache = server.cache, let prefix = cachePrefix else { return }
        if cacheState!.fill != nil { finishFill() }
        guard cacheState!.gate.hasWrites else { return }
        cache.publish(prefix, cacheState!.gate.takeAll()) {}
    }
}
