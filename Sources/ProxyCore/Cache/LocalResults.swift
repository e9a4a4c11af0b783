/// An instance's own copy of hot cache entries (cache.md §3, "single instance"), so that a
/// hit costs no Redis round trip. It is exact only while this instance is the only one that
/// can acknowledge writes to the database: every write it acknowledges is applied here before
/// the acknowledgement (`invalidate`), and none comes from anywhere else.
///
/// **Solo.** A heartbeat that found no other member in the membership set makes the copy
/// usable until `sentAt + soloLease` (the time measured from *before* the heartbeat was sent).
/// An instance that joins acknowledges no write until `soloLease` after its own membership
/// was registered (`ResultCache` holds those acknowledgements), so by then every peer has
/// seen it or stopped trusting its last solo heartbeat. When solo lapses the copy is
/// flushed: writes acknowledged by a peer since are not reflected in it.
///
/// **In flight.** A copy made from a Redis reply (a hit, or a fill's CAS) is kept only if no
/// local invalidation touched the entry's tags since the request was sent (`Marker`).
///
/// Bounded by bytes: two generations (a hit in the older one moves the entry to the younger;
/// when the younger holds half the budget it becomes the older and the oldest is dropped).
/// Pure: times are passed in (loop seconds).
public struct LocalResults: Sendable {
    public struct Entry: Sendable {
        public var payload: [UInt8]
        public var rule: String
        var tags: [String]
        var versions: [UInt64]
        var flushes: UInt64
        var expiresAt: Double
        var bytes: Int { payload.count + tags.reduce(64) { $0 + $1.utf8.count + 8 } }
    }

    /// The local state when a request for an entry was sent.
    public struct Marker: Sendable, Equatable {
        var flushes: UInt64
        var versions: [UInt64]
    }

    public let byteLimit: Int
    public let soloLease: Double
    private var young: [String: Entry] = [:]
    private var old: [String: Entry] = [:]
    public private(set) var youngBytes = 0
    public private(set) var oldBytes = 0
    /// Local invalidations by tag (only tags invalidated since the last flush are here).
    private var tagVersions: [String: UInt64] = [:]
    private var flushes: UInt64 = 0
    private var soloUntil = -Double.infinity
    /// No solo heartbeat counts if it was sent before this (the epoch changed unseen).
    private var distrustBefore = -Double.infinity
    private var epochSeen: String?

    public init(byteLimit: Int, soloLease: Double = 1.5) {
        self.byteLimit = max(0, byteLimit)
        self.soloLease = soloLease
    }

    public var count: Int { young.count + old.count }
    public var bytes: Int { youngBytes + oldBytes }
    public var enabled: Bool { byteLimit > 0 }
    public func isSolo(now: Double) -> Bool { now < soloUntil }

    // MARK: Membership

    /// A heartbeat sent at `sentAt` came back: `alone` when no other member was listed,
    /// `epoch` the database's epoch value read by it.
    public mutating func heartbeat(sentAt: Double, alone: Bool, epoch: String?, now: Double) {
        if let seen = epochSeen, seen != epoch {
            // The epoch moved without this instance knowing (FLUSHALL, a restart, a peer's
            // bump): distrust solo until every live peer has certainly heartbeaten again.
            flush()
            distrustBefore = now + soloLease
        }
        epochSeen = epoch
        guard alone, sentAt >= distrustBefore else {
            soloUntil = -Double.infinity
            return flush()
        }
        soloUntil = max(soloUntil, sentAt + soloLease)
    }

    /// This instance bumped the epoch itself (its value is now `epoch`).
    public mutating func epochBumped(to epoch: String?) {
        flush()
        epochSeen = epoch
    }

    /// The Redis connection was lost or replaced: nothing local can be trusted, and solo only
    /// again from a heartbeat sent a lease after `now` (peers re-register by then).
    public mutating func lostSolo(now: Double) {
        soloUntil = -Double.infinity
        epochSeen = nil
        distrustBefore = max(distrustBefore, now + soloLease)
        flush()
    }

    // MARK: Entries

    /// A local write (committed, about to be acknowledged) changes these tags, or everything.
    public mutating func invalidate(tags: [String], everything: Bool) {
        if everything { return flush() }
        for t in tags { tagVersions[t, default: 0] &+= 1 }
    }

    public func marker(tags: [String]) -> Marker {
        Marker(flushes: flushes, versions: tags.map { tagVersions[$0] ?? 0 })
    }

    /// The entry for `key`, if the copy may serve now and the entry is current.
    public mutating func lookup(_ key: String, now: Double) -> Entry? {
        guard enabled, count > 0 else { return nil }
        guard now < soloUntil else { flush(); return nil }
        if let e = young[key] {
            guard current(e, now: now) else { young[key] = nil; youngBytes -= e.bytes; return nil }
            return e
        }
        guard let e = old.removeValue(forKey: key) else { return nil }
        oldBytes -= e.bytes
        guard current(e, now: now) else { return nil }
        insertYoung(key, e)
        return e
    }

    /// Keeps a copy of an entry Redis holds (or just stored), made from a request sent when
    /// `marker` was taken; refused if local writes touched its tags since or not solo.
    @discardableResult
    public mutating func store(_ key: String, payload: [UInt8], rule: String, tags: [String], marker: Marker,
                               expiresAt: Double, now: Double) -> Bool {
        guard enabled, now < soloUntil, expiresAt > now, marker == self.marker(tags: tags) else { return false }
        let e = Entry(payload: payload, rule: rule, tags: tags, versions: marker.versions, flushes: marker.flushes, expiresAt: expiresAt)
        guard e.bytes <= byteLimit / 4 else { return false }
        if let o = young.removeValue(forKey: key) { youngBytes -= o.bytes }
        if let o = old.removeValue(forKey: key) { oldBytes -= o.bytes }
        insertYoung(key, e)
        return true
    }

    public mutating func flush() {
        flushes &+= 1
        young.removeAll()
        old.removeAll()
        youngBytes = 0
        oldBytes = 0
        tagVersions.removeAll()
    }

    private func current(_ e: Entry, now: Double) -> Bool {
        guard e.flushes == flushes, now < e.expiresAt else { return false }
        for (i, t) in e.tags.enumerated() where (tagVersions[t] ?? 0) != e.versions[i] { return false }
        return true
    }

    private mutating func insertYoung(_ key: String, _ e: Entry) {
        if youngBytes + e.bytes > byteLimit / 2 {
            old = young
            oldBytes = youngBytes
            young = [:]
            youngBytes = 0
        }
        young[key] = e
        youngBytes += e.bytes
    }
}
