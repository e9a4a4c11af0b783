/// Identifies one digest: the database the client connected to and the normalized statement
/// (`SQLText.normalize`: constants as `$n`, comments and extra whitespace gone), so
/// `WHERE id = 1` and `WHERE id = 2` are one digest, as in pg_stat_statements.
/// A text longer than `QueryDigests.maximumQueryLength` bytes is kept as its first bytes, `…`,
/// and an FNV-1a hash of the whole text, so that a table of long statements stays small.
public struct QueryDigestKey: Hashable, Sendable {
    public var database: String
    public var query: String
    public init(database: String, query: String) {
        self.database = database
        let utf8 = query.utf8
        guard utf8.count > QueryDigests.maximumQueryLength else { self.query = query; return }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        self.query = String(decoding: utf8.prefix(QueryDigests.maximumQueryLength), as: UTF8.self)
            + "… (\(utf8.count) bytes, FNV-1a \(String(hash, radix: 16)))"
    }
}

/// What one statement cost through pgstash, accumulated over its executions.
public struct QueryDigest: Sendable, Equatable {
    public var key: QueryDigestKey
    /// The normalized statement (a long one cut, as `QueryDigestKey` keeps it).
    public var query: String
    /// libpg_query's fingerprint of the statement (`;`-joined for several), computed once
    /// when the digest is created; empty for SQL that does not parse.
    public var fingerprint: String
    public var calls: UInt64 = 0
    /// Request to ReadyForQuery through pgstash (pool wait included), microseconds.
    public var latency = LatencyHistogram()
    /// Rows reported by CommandComplete tags (`SELECT 3`, `INSERT 0 5`, `UPDATE 2`…).
    public var rows: UInt64 = 0
    /// Executions answered with an ErrorResponse.
    public var errors: UInt64 = 0
    /// Answers served from the result cache / looked up there and missed (kept by the cache).
    public var cacheHits: UInt64 = 0
    public var cacheMisses: UInt64 = 0

    public init(key: QueryDigestKey, fingerprint: String) {
        self.key = key
        self.fingerprint = fingerprint
        query = key.query
    }
}

/// One execution to account for.
public struct QueryExecution: Sendable, Equatable {
    public var seconds: Double
    public var rows: UInt64
    public var failed: Bool
    public init(seconds: Double, rows: UInt64 = 0, failed: Bool = false) {
        self.seconds = seconds
        self.rows = rows
        self.failed = failed
    }
}

/// Per-statement figures for `SHOW QUERIES`: a least-recently-used table of at most
/// `capacity` digests (`[admin] query_digests`). Recording a statement not in the table when
/// it is full evicts the statement executed least recently. A pure value: the proxy feeds it
/// keys (from the analysis cache, so no statement is parsed twice) and durations.
public struct QueryDigests: Sendable {
    private struct Slot: Sendable {
        var digest: QueryDigest
        var newer = -1
        var older = -1
    }

    public private(set) var capacity: Int
    private var index: [QueryDigestKey: Int] = [:]
    private var slots: [Slot] = []
    /// Most recently used slot, or -1.
    private var newest = -1
    /// Least recently used slot, or -1.
    private var oldest = -1
    /// Digests dropped to make room (a sign `query_digests` is too small).
    public private(set) var evictions: UInt64 = 0
    /// Longest normalized text kept whole; longer ones are cut (`QueryDigestKey`).
    public static let maximumQueryLength = 4096

    /// - Parameter capacity: digests kept at most (at least 1).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { index.count }

    /// Accounts for one execution of the statement `key`; `fingerprint` is only evaluated when
    /// the statement is new to the table.
    public mutating func record(_ key: QueryDigestKey, fingerprint: @autoclosure () -> String, _ e: QueryExecution) {
        let slot = touch(key, fingerprint)
        slots[slot].digest.calls += 1
        slots[slot].digest.latency.record(seconds: e.seconds)
        slots[slot].digest.rows += e.rows
        if e.failed { slots[slot].digest.errors += 1 }
    }

    /// The result cache looked the statement up: counts a hit or a miss.
    public mutating func recordCacheResult(_ key: QueryDigestKey, fingerprint: @autoclosure () -> String, hit: Bool) {
        let slot = touch(key, fingerprint)
        if hit { slots[slot].digest.cacheHits += 1 } else { slots[slot].digest.cacheMisses += 1 }
    }

    /// The digest of `key`, without marking it used.
    public func digest(_ key: QueryDigestKey) -> QueryDigest? {
        index[key].map { slots[$0].digest }
    }

    /// Every digest, most total time first (ties: more calls, then the text).
    public func sortedByTotalTime() -> [QueryDigest] {
        index.values.map { slots[$0].digest }.sorted {
            ($0.latency.totalMicroseconds, $0.calls, $1.key.query) > ($1.latency.totalMicroseconds, $1.calls, $0.key.query)
        }
    }

    /// Changes the bound; the least recently used digests beyond it go (and their memory).
    public mutating func resize(_ newCapacity: Int) {
        let bound = max(1, newCapacity)
        guard bound < index.count else { capacity = bound; return }
        var kept: [QueryDigest] = []
        var slot = newest
        while slot >= 0, kept.count < bound {
            kept.append(slots[slot].digest)
            slot = slots[slot].older
        }
        evictions += UInt64(index.count - kept.count)
        removeAll()
        capacity = bound
        for d in kept.reversed() {
            let s = slots.count
            slots.append(Slot(digest: d))
            index[d.key] = s
            linkAtFront(s)
        }
    }

    public mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        newest = -1
        oldest = -1
    }

    // MARK: The LRU list

    /// The slot of `key`, made most recently used; created (evicting if full) when new.
    private mutating func touch(_ key: QueryDigestKey, _ fingerprint: () -> String) -> Int {
        if let slot = index[key] {
            moveToFront(slot)
            return slot
        }
        let digest = QueryDigest(key: key, fingerprint: fingerprint())
        let slot: Int
        if index.count >= capacity {
            slot = evictOldest()
            slots[slot] = Slot(digest: digest)
        } else {
            slot = slots.count
            slots.append(Slot(digest: digest))
        }
        index[key] = slot
        linkAtFront(slot)
        return slot
    }

    /// Unlinks the least recently used digest; returns its slot for reuse.
    private mutating func evictOldest() -> Int {
        let slot = oldest
        unlink(slot)
        index[slots[slot].digest.key] = nil
        evictions += 1
        return slot
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    private mutating func linkAtFront(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let s = slots[slot]
        if s.newer >= 0 { slots[s.newer].older = s.older } else { newest = s.older }
        if s.older >= 0 { slots[s.older].newer = s.newer } else { oldest = s.newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }
}

/// A bounded map from statement texts to their normalized form, for texts seen again and again
/// (a prepared statement's, at every Bind). Two generations: a hit in the older one moves the
/// entry to the younger; when the younger holds `limit` entries or `byteLimit` bytes of text it
/// becomes the older one and the oldest generation is dropped — an approximate LRU of at most
/// 2 × `limit` entries and about 2 × `byteLimit` bytes, O(1) per lookup.
public struct RecentTexts: Sendable {
    public let limit: Int
    public let byteLimit: Int
    private var young: [String: String] = [:]
    private var old: [String: String] = [:]
    private var youngBytes = 0

    public init(limit: Int, byteLimit: Int = 1 << 20) {
        self.limit = max(1, limit)
        self.byteLimit = max(1, byteLimit)
    }

    public var count: Int { young.count + old.count }

    public mutating func value(for text: String, compute: (String) -> String) -> String {
        if let v = young[text] { return v }
        let v = old[text] ?? compute(text)
        if young.count >= limit || youngBytes >= byteLimit {
            old = young
            young = [:]
            youngBytes = 0
        }
        young[text] = v
        youngBytes += text.utf8.count + v.utf8.count
        return v
    }
}
