import Foundation
import Glibc
import PostgresWire
import Testing

/// `[metrics]`: `/metrics` in Prometheus text that `promtool` accepts and whose values follow
/// a real workload; `/healthz` and `/readyz` with the upstream up and down; the HTTP rules;
/// the alert rules and the dashboard of docs/ checked against what pgstash exposes.
@Suite struct MetricsTests {
    @Test("/metrics passes promtool and moves with a workload: queries, a waiting client, an error by class")
    func valuesFollowAWorkload() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "metrics")
        defer { db.drop() }
        let mport = freePort()
        let proxy = try startPgStash(env, db, ["pool.max_upstream=1", "pool.acquire_timeout=20", "metrics.port=\(mport)"])
        defer { proxy.stop() }
        let pool = ["database": db.name, "user": "postgres"]

        let before = try scrape(mport)
        #expect(before.has("pgstash_process_resident_memory_bytes") && before.value("pgstash_process_resident_memory_bytes") > 0)
        #expect(before.value("pgstash_process_open_fds") > 0)
        #expect(before.has("pgstash_analysis_cache_entries"))

        // A client holds the only server in a transaction; a second one must wait for it.
        let holder = try WireClient.connected(proxy, db)
        let waiter = try WireClient.connected(proxy, db)
        try #require(holder.query("BEGIN; SELECT 1").errors.isEmpty)
        waiter.send(FrontendMessage.query("SELECT 'served'").encoded)
        let busy = try scrape(mport) { $0.value("pgstash_clients", pool.merging(["state": "waiting"]) { $1 }) == 1 }
        #expect(busy.value("pgstash_clients", pool.merging(["state": "waiting"]) { $1 }) == 1, "no waiting client seen:\n\(busy.text)")
        #expect(busy.value("pgstash_clients", pool.merging(["state": "active"]) { $1 }) == 1)
        #expect(busy.value("pgstash_pool_waiting_clients", pool) == 1)
        #expect(busy.value("pgstash_servers", pool.merging(["state": "active"]) { $1 }) == 1)
        #expect(busy.value("pgstash_pool_max_servers", pool) == 1)

        // The COMMIT's answer to the holder and the waiter's query to the server it is handed
        // leave in one batch: through io_uring, where the kernel has it.
        let ringBefore = busy.value("pgstash_send_ring_calls_total")
        #expect(holder.query("COMMIT").errors.isEmpty)
        var got: [BackendMessage] = []
        while let m = waiter.receive() {
            got.append(m)
            if case .readyForQuery = m { break }
        }
        #expect(got.rows == [["served"]])
        let handed = try scrape(mport)
        #expect(handed.has("pgstash_send_ring"))
        if handed.value("pgstash_send_ring") == 1 {
            #expect(handed.value("pgstash_send_ring_calls_total") > ringBefore)
            #expect(handed.value("pgstash_send_ring_sends_total") >= 2 * handed.value("pgstash_send_ring_calls_total"))
        }

        // An error from PostgreSQL is counted by its SQLSTATE class (42P01 → 42).
        #expect(holder.query("SELECT * FROM no_such_table").errors.first?.sqlState == "42P01")

        // A pgbench workload through pgstash: 4 clients × 50 transactions.
        let script = "\(env.tmp)/metrics-\(db.name).sql"
        try "SELECT 1;\n".write(toFile: script, atomically: true, encoding: .utf8)
        let bench = try runCommand(["pgbench", "-n", "-c", "4", "-t", "50", "-f", script, scriptDSN(proxy, db)],
                                   env: ["PGPASSWORD": env.pgPassword], timeout: 120)
        #expect(bench.status == 0, "pgbench: \(bench.stderr.suffix(2000))")

        let after = try scrape(mport)
        let queries = after.value("pgstash_queries_total", pool) - before.value("pgstash_queries_total", pool)
        #expect(queries >= 204, "queries counted: \(queries)")
        #expect(after.value("pgstash_transactions_total", pool) >= 201)
        #expect(after.value("pgstash_query_duration_seconds_count", pool) >= 200)
        #expect(after.value("pgstash_query_duration_seconds_bucket", pool.merging(["le": "+Inf"]) { $1 })
                == after.value("pgstash_query_duration_seconds_count", pool))
        #expect(after.value("pgstash_pool_acquire_wait_seconds_count", pool) >= 1)
        #expect(after.value("pgstash_errors_total", ["origin": "postgres", "class": "42"]) == 1)
        #expect(after.value("pgstash_client_received_bytes_total") > before.value("pgstash_client_received_bytes_total"))
        #expect(after.value("pgstash_client_sent_bytes_total") > before.value("pgstash_client_sent_bytes_total"))
        #expect(after.value("pgstash_pool_upstream_up", pool) == 1)
        #expect(after.has("pgstash_busy_poll_window_seconds") && after.value("pgstash_busy_poll_sleeps_total") == 0,
                "busy polling is off by default")
        for name in after.samples.map(\.name) { #expect(name.hasPrefix("pgstash_"), "\(name) lacks the pgstash_ prefix") }

        let check = try promtool(["check", "metrics"], stdin: after.text)
        #expect(check.status == 0, "promtool check metrics:\n\(check.stdout)\(check.stderr)")
    }

    @Test("listen.busy_poll: under pgbench the loop polls, finds the next query while polling, and says so")
    func busyPollingIsCounted() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "metrics_poll")
        defer { db.drop() }
        let mport = freePort()
        let proxy = try startPgStash(env, db, ["listen.busy_poll=200us", "metrics.port=\(mport)"])
        defer { proxy.stop() }
        let script = "\(env.tmp)/metrics-poll-\(db.name).sql"
        try "SELECT 1;\n".write(toFile: script, atomically: true, encoding: .utf8)
        let bench = try runCommand(["pgbench", "-n", "-c", "4", "-t", "300", "-f", script, scriptDSN(proxy, db)],
                                   env: ["PGPASSWORD": env.pgPassword], timeout: 120)
        #expect(bench.status == 0, "pgbench: \(bench.stderr.suffix(2000))")
        let m = try scrape(mport)
        #expect(m.value("pgstash_busy_poll_sleeps_total") > 0)
        #expect(m.value("pgstash_busy_poll_hits_total") > 0, "no poll found a query:\n\(m.text)")
        #expect(m.value("pgstash_busy_poll_seconds_total") > 0)
        #expect(m.value("pgstash_busy_poll_window_seconds") <= 0.0002)
    }

    @Test("an acquire timeout is counted as a pgstash error of class 53")
    func proxyErrorsCounted() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "metrics_err")
        defer { db.drop() }
        let mport = freePort()
        let proxy = try startPgStash(env, db, ["pool.max_upstream=1", "pool.acquire_timeout=0.5", "metrics.port=\(mport)"])
        defer { proxy.stop() }
        let holder = try WireClient.connected(proxy, db)
        let waiter = try WireClient.connected(proxy, db)
        try #require(holder.query("BEGIN; SELECT 1").errors.isEmpty)
        #expect(waiter.query("SELECT 1").errors.first?.sqlState == "53300")
        let m = try scrape(mport)
        #expect(m.value("pgstash_errors_total", ["origin": "pgstash", "class": "53"]) == 1, "\(m.text)")
    }

    @Test("/healthz and /readyz with the upstream up, then while shutting down")
    func healthAndReadinessUp() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "metrics_up")
        defer { db.drop() }
        let mport = freePort()
        let proxy = try startPgStash(env, db, ["metrics.port=\(mport)"])
        defer { proxy.stop() }
        // No client yet: readiness comes from a probe of the upstream.
        let ready = try httpGet(mport, "/readyz")
        #expect(ready.status == 200, "\(ready.body)")
        #expect(try httpGet(mport, "/healthz").status == 200)

        // A client in a transaction keeps a draining pgstash alive: it no longer accepts clients.
        let holder = try WireClient.connected(proxy, db)
        try #require(holder.query("BEGIN").errors.isEmpty)
        #expect(try httpGet(mport, "/readyz").status == 200)
        proxy.signal(SIGTERM)
        var health = try httpGet(mport, "/healthz")
        for _ in 0..<100 where health.status == 200 {
            usleep(50_000)
            health = try httpGet(mport, "/healthz")
        }
        #expect(health.status == 503, "\(health.body)")
        #expect(try scrape(mport).value("pgstash_accepting_clients") == 0)
        _ = holder.query("COMMIT")
    }

    @Test("/readyz is 503 with the reason while the upstream is down; /healthz stays 200")
    func readinessDown() throws {
        let env = try TestEnvironment.require()
        let mport = freePort()
        let deadPort = freePort()
        let proxy = try PgStashProcess(env, overrides: ["metrics.port=\(mport)", "pool.connect_timeout=2"],
                                       upstream: "postgresql://postgres:x@127.0.0.1:\(deadPort)/postgres")
        defer { proxy.stop() }
        let r = try httpGet(mport, "/readyz")
        #expect(r.status == 503)
        #expect(r.body.hasPrefix("not ready:") && r.body.contains("\(deadPort)"), "\(r.body)")
        #expect(try httpGet(mport, "/healthz").status == 200)

        // A client's failed login attempt shows in the pool's gauges and counters.
        let login = try psql(proxy.dsn(password: "x"), "SELECT 1", timeout: 30)
        #expect(login.status != 0)
        let m = try scrape(mport) { $0.value("pgstash_pool_connect_failures_total") >= 1 }
        #expect(m.samples.contains { $0.name == "pgstash_pool_upstream_up" && $0.labels["database"] == "postgres" && $0.value == 0 },
                "\(m.text)")
        #expect(m.value("pgstash_pool_connect_failures_total") >= 1)
        let check = try promtool(["check", "metrics"], stdin: m.text)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test("HTTP: keep-alive, HEAD, 404, 405 with Allow, oversized requests refused and closed")
    func httpRules() throws {
        let env = try TestEnvironment.require()
        let mport = freePort()
        let proxy = try PgStashProcess(env, overrides: ["metrics.port=\(mport)"])
        defer { proxy.stop() }
        let c = try HTTPProbe(port: mport)
        let first = try c.request("/metrics")
        #expect(first.status == 200)
        #expect(first.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(try c.request("/nope").status == 404)
        let post = try c.request("/metrics", method: "POST")
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try c.request("/healthz", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty && head.headers["content-length"] == "3")
        #expect(try c.request("/healthz", keepAlive: false).status == 200)
        #expect(c.readsEndOfFile(), "Connection: close must close")

        let big = try HTTPProbe(port: mport)
        big.sendRaw("GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
        #expect(try big.readAnswer().status == 431)
        #expect(big.readsEndOfFile())
    }

    @Test("docs/alerts pass promtool check rules, and every metric they and the dashboard use is exposed")
    func alertsAndDashboard() throws {
        let env = try TestEnvironment.require()
        let rules = "\(repositoryRoot)/docs/alerts/pgstash.rules.yml"
        let check = try promtool(["check", "rules", rules])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // The dashboard's queries, as recording rules, must parse too.
        let dashboardPath = "\(repositoryRoot)/docs/dashboards/pgstash.json"
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dashboardPath))) as? [String: Any]
        let panels = dashboard?["panels"] as? [[String: Any]] ?? []
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= 8, "the dashboard has \(exprs.count) queries")
        var yaml = "groups:\n- name: dashboard\n  rules:\n"
        for (i, e) in exprs.enumerated() {
            let q = e.replacingOccurrences(of: "$__rate_interval", with: "5m").replacingOccurrences(of: "$database", with: ".*")
            yaml += "  - record: dashboard:expr\(i)\n    expr: '\(q.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        let file = "\(env.tmp)/dashboard-rules-\(getpid()).yml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let parsed = try promtool(["check", "rules", file])
        #expect(parsed.status == 0, "dashboard queries:\n\(parsed.stdout)\(parsed.stderr)")

        // Every pgstash_ name they use is one pgstash exposes (pools and errors appear once used).
        let db = try TestDatabase(env, prefix: "metrics_names")
        defer { db.drop() }
        let mport = freePort()
        // With the result cache on: its families are part of what the docs use.
        let proxy = try startPgStash(env, db, cacheOverrides(redisPort: env.redisPort,
                                                              extra: ["metrics.enabled=true", "metrics.port=\(mport)"]))
        defer { proxy.stop() }
        let c = try WireClient.connected(proxy, db)
        _ = c.query("SELECT * FROM missing_table")
        let exposed = try scrape(mport)
        let families = Set(exposed.text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let text = try String(contentsOfFile: rules, encoding: .utf8) + exprs.joined(separator: "\n")
        let used = Set(text.matches(of: /pgstash_[a-z_]+/).map { String($0.output) })
        for name in used {
            let family = ["_bucket", "_sum", "_count"].reduce(name) { n, s in n.hasSuffix(s) ? String(n.dropLast(s.count)) : n }
            #expect(families.contains(family), "\(name) is used in docs/ but pgstash does not expose \(family)")
        }
    }
}
