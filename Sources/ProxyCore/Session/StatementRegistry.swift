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
/// `pgstash_<n>` on every server, whichever client prepared it.
public struct StatementNames: Sendable {
    private var ids: [StatementKey: Int] = [:]
    public init() {}

    public mutating func serverName(for key: StatementKey) -> String {
        if let id = ids[key] { return "pgstash_\(id)" }
        let id = ids.count + 1
        ids[key] = id
        return "pgstash_\(id)"
    }

    public var count: Int { ids.count }

    /// The server name of a statement some client already prepared (so its text parsed
    /// once), or nil.
    public func knownServerName(for key: StatementKey) -> String? {
        ids[key].map { "pgstash_\($0)" }
    }
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
