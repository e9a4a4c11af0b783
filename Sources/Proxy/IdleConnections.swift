import Foundation

/// Open connections put aside between uses, shared by background threads under a lock: a
/// thread takes one for its key (or opens its own), and puts it back when done. At most
/// `maxPerKey` wait per key; one idle longer than `idleTimeout` is handed back for closing
/// at the next `take`. Time comes in as `now` (monotonic seconds).
final class IdleConnections<Connection, Key: Hashable>: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [Key: [(connection: Connection, since: Double)]] = [:]
    let maxPerKey: Int
    let idleTimeout: Double

    init(maxPerKey: Int, idleTimeout: Double) {
        self.maxPerKey = maxPerKey
        self.idleTimeout = idleTimeout
    }

    /// A connection for `key` if one waits (the most recently used), and every connection that
    /// idled too long (any key), which the caller closes.
    func take(_ key: Key, now: Double) -> (connection: Connection?, expired: [Connection]) {
        lock.lock()
        defer { lock.unlock() }
        let expired = removeExpired(now: now)
        return (idle[key]?.popLast()?.connection, expired)
    }

    /// Every connection that idled too long, which the caller closes (the janitor's call,
    /// so that none outlives `idleTimeout` by much when no lookup comes).
    func takeExpired(now: Double) -> [Connection] {
        lock.lock()
        defer { lock.unlock() }
        return removeExpired(now: now)
    }

    private func removeExpired(now: Double) -> [Connection] {
        var expired: [Connection] = []
        for (k, list) in idle {
            let fresh = list.filter { now - $0.since < idleTimeout }
            if fresh.count != list.count {
                expired += list.filter { now - $0.since >= idleTimeout }.map(\.connection)
                idle[k] = fresh.isEmpty ? nil : fresh
            }
        }
        return expired
    }

    /// Puts `connection` aside for `key`; false when `maxPerKey` already wait (the caller
    /// closes it).
    func put(_ connection: Connection, for key: Key, now: Double) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard idle[key, default: []].count < maxPerKey else { return false }
        idle[key, default: []].append((connection, now))
        return true
    }

    /// Connections waiting now (all keys).
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return idle.values.reduce(0) { $0 + $1.count }
    }
}
