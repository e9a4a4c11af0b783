import Glibc
import Metrics
import ProxyCore

/// Gauges computed from the server's own state at scrape time: nothing on the hot path
/// keeps them up to date, and they cannot drift from what `SHOW POOLS` would say.
extension ProxyMetrics {
    static let clientStates = ["login", "waiting", "active", "pinned", "idle"]
    static let serverStates = ["connecting", "idle", "active", "pinned", "closing"]

    func installCollectors(server: ProxyServer) {
        let started = Double(time(nil))
        registry.collector(names: ["pgstash_clients", "pgstash_servers", "pgstash_pool_waiting_clients",
                                   "pgstash_pool_max_servers", "pgstash_pool_upstream_up", "pgstash_max_clients",
                                   "pgstash_accepting_clients"]) { [unowned server] w in
            Self.writePools(server, into: &w)
        }
        registry.collector(names: ["pgstash_client_received_bytes_total", "pgstash_client_sent_bytes_total"]) {
            [unowned server, unowned self] w in
            var received = closedClientBytesReceived, sent = closedClientBytesSent
            for c in server.clients.values {
                received += c.conn.bytesReceived
                sent += c.conn.bytesSent
            }
            w.counter("pgstash_client_received_bytes_total", help: "Bytes received from clients.",
                      samples: [([], UInt64(received))])
            w.counter("pgstash_client_sent_bytes_total", help: "Bytes sent to clients.", samples: [([], UInt64(sent))])
        }
        registry.collector(names: ["pgstash_send_ring", "pgstash_send_ring_calls_total",
                                   "pgstash_send_ring_sends_total"]) { [unowned server] w in
            let loop = server.loop
            w.gauge("pgstash_send_ring", help: "1 when a batch's sends go out in one io_uring call; 0: one send(2) each.",
                    samples: [([], loop.sendsThroughRing ? 1 : 0)])
            let batches = loop.ringBatches
            w.counter("pgstash_send_ring_calls_total", help: "io_uring calls that sent a batch of output.",
                      samples: [([], UInt64(batches.calls))])
            w.counter("pgstash_send_ring_sends_total", help: "Sends made by those calls, one per connection of a batch.",
                      samples: [([], UInt64(batches.sends))])
        }
        registry.collector(names: ["pgstash_busy_poll_window_seconds", "pgstash_busy_poll_seconds_total",
                                   "pgstash_busy_poll_hits_total", "pgstash_busy_poll_sleeps_total"]) { [unowned server] w in
            let loop = server.loop, stats = loop.busyPollStats
            w.gauge("pgstash_busy_poll_window_seconds", help: "How long the event loop now polls before it sleeps (0: it sleeps at once).",
                    samples: [([], Double(loop.busyPollWindow) / 1e9)])
            w.header(name: "pgstash_busy_poll_seconds_total", help: "Time the event loop spent polling for events instead of sleeping.", type: .counter)
            w.sample("pgstash_busy_poll_seconds_total", value: Double(stats.nanoseconds) / 1e9)
            w.counter("pgstash_busy_poll_hits_total", help: "Polls that found an event before the window ended.",
                      samples: [([], UInt64(stats.hits))])
            w.counter("pgstash_busy_poll_sleeps_total", help: "Times the event loop slept while busy polling was on.",
                      samples: [([], UInt64(stats.sleeps))])
        }
        registry.collector(names: ["pgstash_analysis_cache_entries", "pgstash_analysis_cache_bytes",
                                   "pgstash_analysis_cache_hits_total", "pgstash_analysis_cache_misses_total"]) {
            [unowned server] w in
            let a = server.analysisCache
            w.gauge("pgstash_analysis_cache_entries", help: "Query texts in the SQL analysis cache.",
                    samples: [([], Double(a.count))])
            w.gauge("pgstash_analysis_cache_bytes", help: "Approximate size of the SQL analysis cache.",
                    samples: [([], Double(a.bytes))])
            w.counter("pgstash_analysis_cache_hits_total", help: "Analyses answered from the SQL analysis cache.",
                      samples: [([], UInt64(a.hits))])
            w.counter("pgstash_analysis_cache_misses_total", help: "Query texts parsed because they were not in the SQL analysis cache.",
                      samples: [([], UInt64(a.misses))])
        }
        registry.collector(names: ["pgstash_process_resident_memory_bytes", "pgstash_process_open_fds",
                                   "pgstash_process_max_fds", "pgstash_process_cpu_seconds_total",
                                   "pgstash_process_start_time_seconds"]) { w in
            let p = ProcessStats.read()
            if let v = p.residentBytes { w.gauge("pgstash_process_resident_memory_bytes", help: "Resident set size (RSS).", samples: [([], v)]) }
            if let v = p.openFDs { w.gauge("pgstash_process_open_fds", help: "Open file descriptors.", samples: [([], v)]) }
            if let v = p.maxFDs { w.gauge("pgstash_process_max_fds", help: "Limit of open file descriptors (RLIMIT_NOFILE).", samples: [([], v)]) }
            if let v = p.cpuSeconds {
                w.header(name: "pgstash_process_cpu_seconds_total", help: "User and system CPU time spent.", type: .counter)
                w.sample("pgstash_process_cpu_seconds_total", value: v)
            }
            w.gauge("pgstash_process_start_time_seconds", help: "Start time of the process, in seconds since the Unix epoch.",
                    samples: [([], started)])
        }
    }

    private static func writePools(_ server: ProxyServer, into w: inout TextExposition) {
        let labels = ["database", "user", "state"]
        // Clients by the pool they use (or the database and user they asked for, before login).
        var clients = Tally()
        let pools = server.pools.values.sorted { ($0.key.database, $0.key.user) < ($1.key.database, $1.key.user) }
        // Every state of every pool is exposed, at 0 when empty, so that alerts see the series.
        for p in pools { for s in clientStates { clients.add([p.key.database, p.key.user, s], 0) } }
        for c in server.clients.values.sorted(by: { $0.id.raw < $1.id.raw }) {
            guard let state = clientState(c) else { continue }
            clients.add([c.pool?.key.database ?? c.databaseName, c.pool?.key.user ?? c.user, state], 1)
        }
        w.gauge("pgstash_clients", help: "Client connections by pool and state (login, waiting for a server, active in a transaction, pinned to a server, idle).",
                labelNames: labels, samples: clients.samples)

        // Pools of one (database, user) with different [pool.users.NAME] overrides add up.
        var servers = Tally(), waiting = Tally(), maxServers = Tally(), down = Tally()
        for p in pools {
            let k = [p.key.database, p.key.user]
            let pinned = p.servers.values.filter { ($0.client.map { $0.hasSession && $0.machine.pinned } ?? false) }.count
            let pool = p.pool
            let closing = pool.serverCount - pool.idleCount - pool.connectingCount - pool.activeCount
            let byState = [pool.connectingCount, pool.idleCount, pool.activeCount - pinned, pinned, closing]
            for (s, n) in zip(serverStates, byState) { servers.add(k + [s], Double(max(n, 0))) }
            waiting.add(k, Double(pool.waitingCount))
            maxServers.add(k, Double(p.config.maxUpstream))
            down.add(k, pool.lastError == nil ? 0 : 1)
        }
        w.gauge("pgstash_servers", help: "Upstream server connections by pool and state.", labelNames: labels, samples: servers.samples)
        w.gauge("pgstash_pool_waiting_clients", help: "Clients queued for a server connection.",
                labelNames: ["database", "user"], samples: waiting.samples)
        w.gauge("pgstash_pool_max_servers", help: "The pool's cap on server connections (pool.max_upstream).",
                labelNames: ["database", "user"], samples: maxServers.samples)
        w.gauge("pgstash_pool_upstream_up", help: "0 while the pool's last attempt to connect upstream failed, else 1.",
                labelNames: ["database", "user"], samples: down.samples.map { ($0.values, $0.value > 0 ? 0 : 1) })
        w.gauge("pgstash_max_clients", help: "The cap on client connections (listen.max_clients).",
                samples: [([], Double(server.config.listen.maxClients))])
        w.gauge("pgstash_accepting_clients", help: "1 while pgstash accepts new clients (0 once shutting down).",
                samples: [([], server.accepting ? 1 : 0)])
    }

    /// The state a client is counted in, nil once closed.
    static func clientState(_ c: ClientHandler) -> String? {
        switch c.phase {
        case .startup, .lookingUp, .authenticating, .awaitingParameters, .rejecting: return "login"
        case .closed: return nil
        case .ready:
            if c.waitingForServer { return "waiting" }
            if c.leased != nil { return c.hasSession && c.machine.pinned ? "pinned" : "active" }
            return "idle"
        }
    }
}

/// Sums by label values, keeping first-seen order (one sample per label set, as the format requires).
struct Tally {
    private var values: [[String]: Double] = [:]
    private var order: [[String]] = []

    mutating func add(_ key: [String], _ n: Double) {
        if values[key] == nil { order.append(key) }
        values[key, default: 0] += n
    }

    var samples: [(values: [String], value: Double)] { order.map { ($0, values[$0]!) } }
}
