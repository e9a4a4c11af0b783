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

    /// After a heartbeat's ZADD: read the epoch and the members, and tell the local copy
    /// whether this instance is alone. `registered` says whether the ZADD succeeded.
    func checkSolo(_ prefix: String, registered: @escaping () -> Bool) {
        guard local[prefix] != nil else { return }
        let sentAt = loop.now
        var epoch: String?
        var epochRead = false
        store.command(["GET", keys(prefix).epoch]) { r in
            if case .success(let v) = r { epoch = v.text; epochRead = true }
        }
        store.command(["ZRANGE", keys(prefix).members, "0", "-1"]) { [weak self] r in
            guard let self else { return }
            guard registered(), epochRead, case .success(.array(let items)) = r else { self.local[prefix]?.lostSolo(now: self.loop.now); return }
            let alone = items.allSatisfy { $0.text == self.instance }
            self.local[prefix]?.heartbeat(sentAt: sentAt, alone: alone, epoch: epoch, now: self.loop.now)
        }
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
    var localTotals: (entries: Int, bytes: Int, hits: Int, stores: Int, solo: Bool) {
        var t = (entries: 0, bytes: 0, hits: 0, stores: 0, solo: !local.isEmpty)
        for l in local.values {
            t.entries += l.count
            t.bytes += l.bytes
            t.hits += l.hits
            t.stores += l.stores
            t.solo = t.solo && l.isSolo(now: loop.now)
        }
        return t
    }
}
