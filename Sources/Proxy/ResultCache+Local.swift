import ProxyCore
import RedisStore

/// Local copies of hot entries (`LocalResults`, docs/caching.md "Local copies"): served with no
/// Redis round trip while this instance is the only member on the Redis, and the rule that
/// keeps that exact on every instance — no write is acknowledged until `soloLease` after the
/// writer's membership was registered, so a peer's solo heartbeat has lapsed by then.
extension ResultCache {
    /// How long a heartbeat that found no other member lets the local copy serve; also how long
    /// a (re)joining instance holds its first acknowledgements (plus `registrationMargin`).
    static let soloLease = 1.5
    static let registrationMargin = 0.1
    /// A successful bump waits at most this long for the membership to be registered.
    static let registrationWaitLimit = 5.0

    /// After a heartbeat's ZADD: read the members (remembered, to be put back if Redis loses
    /// them) and, for the local copy, the epoch; tell the local copy whether this instance is
    /// alone. `registered` says whether the ZADD succeeded.
    func readMembers(_ prefix: String, registered: @escaping () -> Bool) {
        let sentAt = loop.now
        var epoch: String?
        var epochRead = false
        if local[prefix] != nil {
            store.command(["GET", keys(prefix).epoch]) { r in
                if case .success(let v) = r { epoch = v.text; epochRead = true }
            }
        }
        store.command(["ZRANGE", keys(prefix).members, "0", "-1", "WITHSCORES"]) { [weak self] r in
            guard let self else { return }
            guard registered(), case .success(.array(let items)) = r, items.count % 2 == 0 else {
                self.local[prefix]?.lostSolo(now: self.loop.now)
                return
            }
            var peers: [(name: String, score: String)] = []
            for i in stride(from: 0, to: items.count, by: 2) {
                guard let name = items[i].text, let score = items[i + 1].text else { continue }
                if name != self.instance { peers.append((name, score)) }
            }
            self.knownMembers[prefix] = peers
            guard self.local[prefix] != nil else { return }
            guard epochRead else { self.local[prefix]!.lostSolo(now: self.loop.now); return }
            self.local[prefix]!.heartbeat(sentAt: sentAt, alone: peers.isEmpty, epoch: epoch, now: self.loop.now)
        }
    }

    /// Puts back the peers the last heartbeat listed, with the lease expiries they had (`NX`:
    /// a peer that re-registered meanwhile keeps its newer lease). Sent before anything else
    /// on a new connection, so no lookup runs without them.
    func restoreMembers(_ prefix: String) {
        guard let peers = knownMembers[prefix], !peers.isEmpty else { return }
        log.info("cache: membership of \(prefix) lost by Redis; restoring \(peers.count) peer(s) with their last leases")
        store.command(["ZADD", keys(prefix).members, "NX"] + peers.flatMap { [$0.score, $0.name] }) { _ in }
    }

    /// A heartbeat's ZADD succeeded: the first since the connection was made starts the
    /// registration hold.
    func registered() {
        guard registeredAt == nil else { return }
        registeredAt = loop.now
        let waiting = awaitingRegistration
        awaitingRegistration.removeAll()
        for w in waiting { whenRegistered(w) }
    }

    func connectionLost() {
        registeredAt = nil
        for p in local.keys { local[p]!.lostSolo(now: loop.now) }
    }

    /// Runs `acknowledge` once peers can no longer be serving local copies made before this
    /// instance was a member: `soloLease` after the registration, at once after that.
    func whenRegistered(_ acknowledge: @escaping () -> Void) {
        guard let at = registeredAt else {
            awaitingRegistration.append(acknowledge)
            if awaitingRegistration.count == 1 {
                _ = loop.schedule(after: Self.registrationWaitLimit) { [weak self] in
                    guard let self, self.registeredAt == nil, !self.awaitingRegistration.isEmpty else { return }
                    self.log.warning("cache: membership not registered after \(Self.registrationWaitLimit) s; acknowledging published writes anyway")
                    let waiting = self.awaitingRegistration
                    self.awaitingRegistration.removeAll()
                    for w in waiting { w() }
                }
            }
            return
        }
        let allowedAt = at + Self.soloLease + Self.registrationMargin
        if loop.now >= allowedAt { return acknowledge() }
        _ = loop.schedule(after: allowedAt - loop.now) { acknowledge() }
    }

    /// The local copy of `hash`, when this instance may serve it now.
    func localHit(_ prefix: String, hash: String) -> LocalResults.Entry? {
        guard local[prefix] != nil, joined else { return nil }
        return local[prefix]!.lookup(hash, now: loop.now)
    }

    /// Totals over databases, for metrics and `SHOW CACHE STATUS`.
    var localTotals: (entries: Int, bytes: Int, solo: Bool) {
        var t = (entries: 0, bytes: 0, solo: !local.isEmpty)
        for l in local.values {
            t.entries += l.count
            t.bytes += l.bytes
            t.solo = t.solo && l.isSolo(now: loop.now)
        }
        return t
    }
}
