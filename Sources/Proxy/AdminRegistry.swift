import Glibc
import ProxyConfig
import ProxyCore

/// What the admin console keeps across clients: pause state, SHOW STATS counters per
/// database, and what the executable provides (its version, how to re-read proxy.conf).
public final class AdminRegistry {
    /// `SHOW VERSION` (and the console's `server_version`): set by the executable.
    public var version = "pgstash"
    /// Re-reads proxy.conf for `RELOAD`: the new configuration, or throws the errors that
    /// reject it. nil when running without a file (`--upstream`).
    public var loadConfiguration: (() throws -> ProxyConfiguration)?
    /// `PAUSE` without a name.
    var pausedAll = false
    /// `PAUSE db` and `KILL db`.
    var pausedDatabases: Set<String> = []
    private var trafficByDatabase: [String: TrafficBox] = [:]
    /// `SHOW QUERIES`; nil while `[admin] query_digests = 0`.
    var digests: QueryDigests?
    /// Prepared statements' texts → normalized, for digests (at most 2 × 1024 entries, ~2 MB).
    var normalizedTexts = RecentTexts(limit: 1024)
    /// The last refused fill of each statement, for `EXPLAIN CACHE` and `SHOW CACHE ADVICE`.
    var fillRefusals = FillRefusals(capacity: 256)

    init() {}

    /// Applies `[admin] query_digests` (at start and reload): 0 drops the digests, another
    /// bound keeps the most recently run ones. Returns whether digests are on.
    @discardableResult
    func configureDigests(capacity: Int) -> Bool {
        if capacity == 0 {
            digests = nil
            normalizedTexts = RecentTexts(limit: 1024)
        } else if digests == nil {
            digests = QueryDigests(capacity: capacity)
        } else if digests!.capacity != capacity {
            digests!.resize(capacity)
        }
        return digests != nil
    }

    func isPaused(_ database: String) -> Bool { pausedAll || pausedDatabases.contains(database) }

    /// The counters of `database`, created on first use (pools of a database share them).
    func traffic(of database: String, now: Double) -> TrafficBox {
        if let t = trafficByDatabase[database] { return t }
        let t = TrafficBox(now: now)
        trafficByDatabase[database] = t
        return t
    }

    /// SHOW STATS rows: every configured database, counters rolled to `now`.
    func stats(databases: [String], now: Double) -> [AdminSnapshot.Stats] {
        databases.sorted().map { db in
            let box = traffic(of: db, now: now)
            box.stats.roll(now: now)
            return AdminSnapshot.Stats(database: db, totals: box.stats.totals, averages: box.stats.averages)
        }
    }
}

/// Seconds since the Unix epoch (CLOCK_REALTIME), for connect and request times.
func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The address and port at either end of a TCP socket, as text (`127.0.0.1`, `::1`).
func socketEndpoint(_ fd: Int32, peer: Bool) -> (address: String, port: Int) {
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
    }
    guard rc == 0 else { return ("", 0) }
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(storage.ss_family) {
    case AF_INET:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
                return (String(cString: text), Int(UInt16(bigEndian: sin.pointee.sin_port)))
            }
        }
    case AF_INET6:
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var a = sin6.pointee.sin6_addr
                inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
                return (String(cString: text), Int(UInt16(bigEndian: sin6.pointee.sin6_port)))
            }
        }
    default:
        return ("unix", 0)
    }
}
