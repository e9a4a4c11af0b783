/// A prepared statement's identity: its text and declared parameter types. Two clients that
/// prepare the same text with the same types share one server-side statement.
public struct StatementKey: Hashable, Sendable {
    public let query: String
    public let parameterTypes: [Int32]
    public init(query: String, parameterTypes: [Int32]) {
        self.query = query
        self.parameterTypes = parameterTypes
    }
}

/// Process-wide numbering of distinct statements: the server-side name of a statement is
/// `pgstash_<n>` on every server, whichever client prepared it. Entries are counted by the
/// clients that hold them; an entry no client holds is kept (so a client that prepares it
/// again reuses the servers' copies) up to `maximumUnreferenced`, least recently released
/// first out. Ids are never reused, so an evicted entry's server copies can never be taken
/// for another statement.
public struct StatementNames: Sendable {
    struct Entry: Sendable {
        var id: Int
        var references: Int
        /// Some server completed its Parse: the text is valid SQL (as of then).
        var confirmed: Bool
        var releasedAt: UInt64
    }
    private var entries: [StatementKey: Entry] = [:]
    private var nextID = 1
    private var clock: UInt64 = 0
    private var unreferenced = 0
    public let maximumUnreferenced: Int

    public init(maximumUnreferenced: Int = 10_000) { self.maximumUnreferenced = max(1, maximumUnreferenced) }

    /// Takes a reference to `key`'s entry (a client prepared it); returns its server name.
    public mutating func acquire(_ key: StatementKey) -> String {
        if var e = entries[key] {
            if e.references == 0 { unreferenced -= 1 }
            e.references += 1
            entries[key] = e
            return Self.name(e.id)
        }
        let id = nextID
        nextID += 1
        entries[key] = Entry(id: id, references: 1, confirmed: false, releasedAt: 0)
        return Self.name(id)
    }

    /// A client dropped its reference (Close, DEALLOCATE, disconnect).
    public mutating func release(_ key: StatementKey) {
        guard var e = entries[key], e.references > 0 else { return }
        e.references -= 1
        clock += 1
        e.releasedAt = clock
        entries[key] = e
        if e.references == 0 {
            unreferenced += 1
            if unreferenced > maximumUnreferenced { evict() }
        }
    }

    /// A server completed the Parse of `key`.
    public mutating func confirm(_ key: StatementKey) {
        entries[key]?.confirmed = true
    }

    public var count: Int { entries.count }

    /// The server name of a statement some server already parsed successfully, or nil.
    public func knownServerName(for key: StatementKey) -> String? {
        guard let e = entries[key], e.confirmed else { return nil }
        return Self.name(e.id)
    }

    /// Drops the least recently released half of the unreferenced entries.
    private mutating func evict() {
        let victims = entries.filter { $0.value.references == 0 }
            .sorted { $0.value.releasedAt < $1.value.releasedAt }
            .prefix(max(1, unreferenced - maximumUnreferenced / 2))
        for (k, _) in victims { entries[k] = nil; unreferenced -= 1 }
    }

    static func name(_ id: Int) -> String { "pgstash_\(id)" }
}

/// The statements one server has prepared under pgstash names, bounded by
/// `max_prepared_statements`: least recently used ones are closed first.
public struct ServerStatementCache: Sendable {
    public let capacity: Int
    private var lastUse: [String: UInt64] = [:]
    private var clock: UInt64 = 0

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public var count: Int { lastUse.count }
    public func contains(_ name: String) -> Bool { lastUse[name] != nil }

    /// Marks a use; returns false when the statement is not prepared on this server.
    public mutating func touch(_ name: String) -> Bool {
        guard lastUse[name] != nil else { return false }
        clock += 1
        lastUse[name] = clock
        return true
    }

    /// Records a statement as prepared; returns the names to close to stay within capacity.
    public mutating func insert(_ name: String) -> [String] {
        clock += 1
        lastUse[name] = clock
        var evicted: [String] = []
        while lastUse.count > capacity {
            let victim = lastUse.min { $0.value < $1.value }!.key
            lastUse[victim] = nil
            evicted.append(victim)
        }
        return evicted
    }

    public mutating func remove(_ name: String) { lastUse[name] = nil }
    public mutating func removeAll() { lastUse.removeAll() }
}
