import Metrics
import ProxyCore

/// pgstash's metrics (names and meanings: docs/metrics.md). Counters that events move are
/// registered here and updated through `PoolStats` and a few hooks in the handlers; gauges
/// that describe current state (clients and servers by state, pools, process) are computed
/// from `ProxyServer`'s own bookkeeping when scraped (`ProxyMetrics+Collectors.swift`), so
/// no handler keeps a second copy of a fact.
final class ProxyMetrics {
    let registry = MetricsRegistry()

    /// One per simple-protocol Query or extended-protocol Sync answered by a server.
    let queries: MetricFamily<Counter>
    /// One per ReadyForQuery 'I' (an autocommit statement or an explicit transaction ended).
    let transactions: MetricFamily<Counter>
    let queryDuration: MetricFamily<Histogram>
    let acquireWait: MetricFamily<Histogram>
    let connectFailures: MetricFamily<Counter>
    /// ErrorResponses clients received, by SQLSTATE class and whether PostgreSQL or pgstash sent it.
    let errors: MetricFamily<Counter>
    let cacheLookupDuration: MetricFamily<Histogram>
    let authQueryLookups: MetricFamily<Counter>
    let authQueryDuration: MetricFamily<Histogram>
    let authQueryConnections: MetricFamily<Counter>
    /// Bytes of clients that have gone (live clients' bytes are read from their connections).
    var closedClientBytesReceived = 0
    var closedClientBytesSent = 0
    /// False with `[metrics] enabled = false`: event-driven instruments are not updated (the
    /// endpoint is closed, so nobody could read them). Scrape-time collectors cost nothing
    /// then. The console's counters (`SHOW STATS`, `SHOW CACHE`…) are kept elsewhere and
    /// keep counting.
    var recording = true
    /// The HTTP endpoint, once started (`ProxyServer.startMetrics`).
    var endpoint: MetricsServer?
    /// Pool instruments by pool (kept after a pool's last client: pools live as long as the process).
    private var poolStats: [PoolKey: PoolStats] = [:]

    init() {
        let pool = ["database", "user"]
        queries = registry.counter("pgstash_queries_total", help:
            "Requests answered by PostgreSQL through pgstash: one per simple Query or extended-protocol Sync.", labels: pool)
        transactions = registry.counter("pgstash_transactions_total", help:
            "Transactions ended (ReadyForQuery with status idle), autocommit statements included.", labels: pool)
        queryDuration = registry.histogram("pgstash_query_duration_seconds", help:
            "Time from a client's request arriving at pgstash to the server's ReadyForQuery for it, pool wait included.",
            labels: pool)
        acquireWait = registry.histogram("pgstash_pool_acquire_wait_seconds", help:
            "Time a client waited for a server connection, from asking to being assigned one or refused.", labels: pool)
        connectFailures = registry.counter("pgstash_pool_connect_failures_total", help:
            "Upstream connections that failed to connect or log in.", labels: pool)
        errors = registry.counter("pgstash_errors_total", help:
            "ErrorResponses sent to clients, by SQLSTATE class (first two characters) and origin (postgres or pgstash).",
            labels: ["origin", "class"])
        authQueryLookups = registry.counter("pgstash_auth_query_lookups_total", help:
            "auth_query lookups run (answers served from the cache are not counted), by outcome: found, refused (no row or no password) or failed.",
            labels: ["outcome"])
        authQueryDuration = registry.histogram("pgstash_auth_query_duration_seconds", help:
            "Time of one auth_query lookup: connecting as auth_user, the query, reading the row.")
        authQueryConnections = registry.counter("pgstash_auth_query_connections_total", help:
            "libpq connections opened as auth_user for auth_query (idle ones are reused for 60 s).")
        // The result cache's counters are a collector (ProxyMetrics+Cache.swift).
        cacheLookupDuration = registry.histogram("pgstash_cache_lookup_duration_seconds", help:
            "Redis round trip of cache lookups, from sending the lookup script to its answer.")
    }

    /// The instruments of one pool, made on its first use.
    func stats(for key: PoolKey) -> PoolStats {
        if let s = poolStats[key] { return s }
        let labels = [key.database, key.user]
        let s = PoolStats(metrics: self, queries: queries.labels(labels), transactions: transactions.labels(labels),
                          queryDuration: queryDuration.labels(labels), acquireWait: acquireWait.labels(labels),
                          connectFailures: connectFailures.labels(labels))
        poolStats[key] = s
        return s
    }

    /// An ErrorResponse pgstash itself sent a client (`ClientHandler.fatal`).
    func proxyError(sqlState: String) {
        guard recording else { return }
        errors.labels("pgstash", Self.sqlStateClass(sqlState)).increment()
    }

    /// An ErrorResponse from PostgreSQL forwarded to a client; `body` is its field list.
    func serverError(body: ArraySlice<UInt8>) {
        errors.labels("postgres", Self.sqlStateClass(ErrorFieldScan.sqlState(in: body) ?? "")).increment()
    }

    /// Keeps the byte counts of a client that is going away.
    func clientClosed(_ c: ClientHandler) {
        closedClientBytesReceived += c.conn.bytesReceived
        closedClientBytesSent += c.conn.bytesSent
    }

    /// `42P01` → `42`; anything malformed → `XX` (internal error class).
    static func sqlStateClass(_ s: String) -> String {
        let u = Array(s.utf8.prefix(2))
        guard u.count == 2, u.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) }) else { return "XX" }
        return String(decoding: u, as: UTF8.self)
    }
}

/// Reads the SQLSTATE ('C' field) out of an ErrorResponse body without decoding the rest.
enum ErrorFieldScan {
    static func sqlState(in body: ArraySlice<UInt8>) -> String? {
        var i = body.startIndex
        while i < body.endIndex, body[i] != 0 {
            let type = body[i]
            let start = body.index(after: i)
            guard let end = body[start...].firstIndex(of: 0) else { return nil }
            if type == UInt8(ascii: "C") { return String(decoding: body[start..<end], as: UTF8.self) }
            i = body.index(after: end)
        }
        return nil
    }
}
