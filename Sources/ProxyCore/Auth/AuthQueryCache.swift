/// Whose password an auth_query lookup fetches: the database whose upstream it runs on, and
/// the user.
public struct AuthLookupKey: Hashable, Sendable, CustomStringConvertible {
    public var database: String
    public var user: String

    public init(database: String, user: String) {
        self.database = database
        self.user = user
    }

    public var description: String { "\(database)/\(user)" }
}

/// The answers of `[auth] auth_query`, cached for `auth_cache_ttl`, and the lookups in flight.
/// Pure: the driver runs each lookup (a libpq connection on its own thread), reports it with
/// `lookupCompleted`, and hands each answer to the client it names.
///
/// - Clients asking for one key while its lookup runs wait for that lookup: one query serves
///   them all.
/// - An answer (a password, or "no such role") is kept `ttl` seconds; a failed lookup is not
///   kept, so the next login tries again.
/// - At most `maxEntries` answers are kept: past it the oldest goes (expired ones go first
///   anyway, at every store), in O(1) amortized.
/// - At most `maxConcurrentLookups` lookups run at once; further keys queue in arrival order.
public struct AuthQueryCache: Sendable {
    /// What the driver does.
    public enum Action: Equatable, Sendable {
        /// Run the lookup of this key, then call `lookupCompleted`.
        case startLookup(AuthLookupKey)
        /// Go on with this client's login with this outcome.
        case answer(ClientID, Result<AuthQueryAnswer, AuthQueryError>)
    }

    struct Entry: Sendable {
        var answer: AuthQueryAnswer
        var storedAt: Double
    }

    public var ttl: Double
    public let maxEntries: Int
    public let maxConcurrentLookups: Int
    private var entries: [AuthLookupKey: Entry] = [:]
    /// Keys in the order they were stored (a key stored again appears again; only the record
    /// whose time matches its entry counts): the oldest answer is at the front, so eviction
    /// costs O(1) amortized, whatever the cache's size.
    private var order = FIFOQueue<(key: AuthLookupKey, storedAt: Double)>()
    /// Clients waiting, by the key they wait for (running or queued lookups).
    private var waiters: [AuthLookupKey: [ClientID]] = [:]
    private var running: Set<AuthLookupKey> = []
    private var queued: [AuthLookupKey] = []

    public init(ttl: Double, maxEntries: Int = 10_000, maxConcurrentLookups: Int = 8) {
        self.ttl = ttl
        self.maxEntries = max(1, maxEntries)
        self.maxConcurrentLookups = max(1, maxConcurrentLookups)
    }

    /// Answers kept (fresh or not yet evicted).
    public var count: Int { entries.count }
    /// Lookups running now.
    public var lookupsRunning: Int { running.count }

    /// `client` needs the answer for `key`.
    public mutating func lookupRequested(_ key: AuthLookupKey, by client: ClientID, now: Double) -> [Action] {
        if let e = entries[key] {
            if now - e.storedAt < ttl { return [.answer(client, .success(e.answer))] }
            entries[key] = nil
        }
        let already = waiters[key] != nil
        waiters[key, default: []].append(client)
        if already { return [] }
        if running.count < maxConcurrentLookups {
            running.insert(key)
            return [.startLookup(key)]
        }
        queued.append(key)
        return []
    }

    /// The lookup of `key` ended: answers its waiters, keeps a success, starts queued lookups.
    public mutating func lookupCompleted(_ key: AuthLookupKey, _ outcome: Result<AuthQueryAnswer, AuthQueryError>,
                                         now: Double) -> [Action] {
        guard running.remove(key) != nil else { return [] }
        if case .success(let answer) = outcome { store(answer, for: key, now: now) }
        var actions = (waiters.removeValue(forKey: key) ?? []).map { Action.answer($0, outcome) }
        while running.count < maxConcurrentLookups, !queued.isEmpty {
            let next = queued.removeFirst()
            guard waiters[next] != nil else { continue }
            running.insert(next)
            actions.append(.startLookup(next))
        }
        return actions
    }

    /// The client left (or timed out) while waiting: it gets no answer. A queued lookup
    /// nobody waits for any more is not started.
    public mutating func clientGaveUp(_ client: ClientID) {
        for (key, list) in waiters where list.contains(client) {
            let rest = list.filter { $0 != client }
            if rest.isEmpty && !running.contains(key) {
                waiters[key] = nil
                queued.removeAll { $0 == key }
            } else {
                waiters[key] = rest
            }
        }
    }

    /// Forgets every answer (the configuration changed); lookups in flight go on.
    public mutating func flush() {
        entries.removeAll()
        order = FIFOQueue()
    }

    private mutating func store(_ answer: AuthQueryAnswer, for key: AuthLookupKey, now: Double) {
        entries[key] = Entry(answer: answer, storedAt: now)
        order.append((key, now))
        // Drop expired answers and, past the bound, the oldest; skip records of keys stored
        // again since (or already gone).
        while let first = order.first {
            let current = entries[first.key]
            if current?.storedAt != first.storedAt {
                _ = order.popFirst()
            } else if now - first.storedAt >= ttl || entries.count > maxEntries {
                entries[first.key] = nil
                _ = order.popFirst()
            } else {
                break
            }
        }
    }
}
