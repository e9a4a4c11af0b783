import Foundation
import Glibc
import PostgresWire
import Testing

/// Issue 11, items 3 and 4: `SHOW QUERIES` after real traffic (simple protocol from psql,
/// named and unnamed extended-protocol statements from pgbench), and JSON log lines read
/// back from pgstash's standard error. (Their pgstash processes serve no metrics: one listener
/// fewer on a port another suite may have picked.)
@Suite(.serialized) struct AdminOperationsTests {
    /// `SHOW QUERIES` rows by normalized text: the columns of docs/admin.md.
    struct QueryRow {
        var fields: [String]
        var calls: Int { Int(fields[2]) ?? -1 }
        var totalTime: Int { Int(fields[3]) ?? -1 }
        var p50: Int { Int(fields[5]) ?? -1 }
        var p99: Int { Int(fields[6]) ?? -1 }
        var rows: Int { Int(fields[8]) ?? -1 }
        var errors: Int { Int(fields[9]) ?? -1 }
        var query: String { fields[12] }
    }

    func showQueries(_ proxy: PgStashProcess) throws -> [QueryRow] {
        let r = try psql(proxy.dsn(db: "pgstash"), "SHOW QUERIES", args: ["-X", "-A", "-t", "-q", "-F", "\t"])
        #expect(r.status == 0, "SHOW QUERIES: \(r.stderr)")
        return r.stdout.split(separator: "\n").map { QueryRow(fields: $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)) }
            .filter { $0.fields.count == 13 }
    }

    @Test func showQueriesListsStatementsWithCountsSortedByTotalTime() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["metrics.enabled=false", "admin.users=[\"postgres\"]", "admin.query_digests=1000"])
        defer { proxy.stop() }
        // Simple protocol: one digest for three literals; a slow one; a failing one.
        let simple = try runCommand(["psql", "-d", proxy.dsn(), "-X", "-A", "-t", "-q", "-c", "SELECT 1", "-c", "SELECT 2",
                                     "-c", "SELECT   3 -- comment", "-c", "SELECT pg_sleep(0.2)",
                                     "-c", "SELECT 1/0", "-c", "SELECT generate_series(1, 10)"], timeout: 60)
        #expect(simple.stderr.contains("division by zero"))
        // Extended protocol: named (prepared) and unnamed (extended) statements.
        let script = "\(env.tmp)/digests-\(proxy.port).sql"
        try "\\set v random(1, 100)\nSELECT abs(:v) AS prepared_digest;\n".write(toFile: script, atomically: true, encoding: .utf8)
        let script2 = "\(env.tmp)/digests2-\(proxy.port).sql"
        try "\\set v random(1, 100)\nSELECT :v + 1 AS extended_digest;\n".write(toFile: script2, atomically: true, encoding: .utf8)
        for (mode, file) in [("prepared", script), ("extended", script2)] {
            let bench = try runCommand(["pgbench", "-n", "-M", mode, "-c", "2", "-t", "20", "-f", file, proxy.dsn()], timeout: 120)
            #expect(bench.status == 0, "pgbench -M \(mode): \(bench.stderr.suffix(2000))")
        }

        let rows = try showQueries(proxy)
        func row(_ text: String) -> QueryRow? { rows.first { $0.query == text } }
        let select = try #require(row("SELECT $1"), "no SELECT $1 digest in \(rows.map(\.query))")
        #expect(select.calls == 3 && select.rows == 3 && select.errors == 0, "\(rows.map(\.fields))")
        let sleep = try #require(row("SELECT pg_sleep($1)"))
        #expect(sleep.calls == 1 && sleep.totalTime >= 200_000 && sleep.p50 >= 180_000 && sleep.p99 >= 180_000,
                "pg_sleep(0.2) timed at \(sleep.fields)")
        #expect(rows.first?.query == "SELECT pg_sleep($1)", "sorted by total time: \(rows.map(\.query))")
        #expect(row("SELECT $1/$2")?.errors == 1 && row("SELECT $1/$2")?.calls == 1)
        #expect(row("SELECT generate_series($1, $2)")?.rows == 10)
        let prepared = try #require(rows.first { $0.query.contains("prepared_digest") }, "\(rows.map(\.query))")
        #expect(prepared.calls == 40 && prepared.rows == 40, "pgbench -M prepared: \(prepared.fields)")
        let extended = try #require(rows.first { $0.query.contains("extended_digest") }, "\(rows.map(\.query))")
        #expect(extended.calls == 40 && extended.rows == 40, "pgbench -M extended: \(extended.fields)")
        #expect(rows.allSatisfy { $0.fields[0] == "postgres" && $0.fields[1].count == 16 }, "fingerprints: \(rows.map(\.fields))")

        // Off (the default): 55000, naming the setting.
        let off = try PgStashProcess(env, overrides: ["metrics.enabled=false", "admin.users=[\"postgres\"]"])
        defer { off.stop() }
        _ = try psql(off.dsn(), "SELECT 1")
        let refused = try psql(off.dsn(db: "pgstash"), "SHOW QUERIES", args: ["-X", "-A", "-q", "-v", "VERBOSITY=verbose"])
        #expect(refused.status != 0 && refused.stderr.contains("55000") && refused.stderr.contains("query_digests"), "\(refused.stderr)")
    }

    @Test func jsonLogsHaveOneObjectPerLineWithConnectionsAndLoginFailures() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["metrics.enabled=false", "log.format=json"])
        defer { proxy.stop() }
        let ok = try psql(proxy.dsn(extra: "application_name=logtest"), "SELECT 1")
        #expect(ok.status == 0, "\(ok.stderr)")
        let bad = try psql(proxy.dsn(password: "wrong"), "SELECT 1")
        #expect(bad.status != 0)

        var objects: [[String: String]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            objects = []
            for line in proxy.log.split(separator: "\n") where !line.isEmpty {
                let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                let object = try #require(parsed, "not a JSON object: \(line)")
                objects.append(object)
            }
            if objects.contains(where: { $0["msg"] == "client disconnected" }) && objects.contains(where: { $0["msg"] == "login failed" }) { break }
            usleep(50_000)
        }
        #expect(objects.allSatisfy { $0["time"]?.hasSuffix("Z") == true && $0["level"] != nil && $0["msg"] != nil })
        let connected = try #require(objects.first { $0["msg"] == "client connected" }, "\(proxy.log)")
        #expect(connected["level"] == "info")
        #expect(connected["user"] == "postgres" && connected["database"] == "postgres")
        #expect(connected["application_name"] == "logtest")
        #expect(connected["addr"]?.hasPrefix("127.0.0.1:") == true, "\(connected)")
        let closed = try #require(objects.first { $0["msg"] == "client disconnected" }, "\(proxy.log)")
        #expect(closed["client"] == connected["client"] && Double(closed["duration"] ?? "") != nil)
        let failed = try #require(objects.first { $0["msg"] == "login failed" }, "\(proxy.log)")
        #expect(failed["level"] == "warning" && failed["sqlstate"] == "28P01" && failed["user"] == "postgres", "\(failed)")
    }

    /// logfmt `key=value` pairs of one line (values bare or double-quoted with escapes).
    static func logfmt(_ line: Substring) -> [String: String] {
        var out: [String: String] = [:]
        var i = line.startIndex
        while i < line.endIndex {
            while i < line.endIndex, line[i] == " " { i = line.index(after: i) }
            guard let eq = line[i...].firstIndex(of: "=") else { break }
            let key = String(line[i..<eq])
            var j = line.index(after: eq)
            var value = ""
            if j < line.endIndex, line[j] == "\"" {
                j = line.index(after: j)
                while j < line.endIndex, line[j] != "\"" {
                    if line[j] == "\\" { j = line.index(after: j) }
                    value.append(line[j])
                    j = line.index(after: j)
                }
                j = line.index(after: j)
            } else {
                while j < line.endIndex, line[j] != " " { value.append(line[j]); j = line.index(after: j) }
            }
            out[key] = value
            i = j
        }
        return out
    }

    @Test func logfmtLogsPoolSaturationAndSlowAcquires() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["metrics.enabled=false", "log.format=logfmt", "pool.max_upstream=1", "log.acquire_wait_threshold=0.05"])
        defer { proxy.stop() }
        let holder = try WireClient(port: proxy.port, timeout: 10)
        let waiter = try WireClient(port: proxy.port, timeout: 10)
        for c in [holder, waiter] {
            guard case .ready = c.login(user: "postgres", password: env.pgPassword, database: "postgres") else {
                throw TestFailure("login failed: \(proxy.log)")
            }
        }
        #expect(holder.query("BEGIN; SELECT 1").errors.isEmpty)
        waiter.send(FrontendMessage.query("SELECT 'served'").encoded)
        usleep(300_000)
        #expect(holder.query("COMMIT").errors.isEmpty)
        var got: [BackendMessage] = []
        while let m = waiter.receive() {
            got.append(m)
            if case .readyForQuery = m { break }
        }
        #expect(got.rows == [["served"]])

        var lines: [[String: String]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            lines = proxy.log.split(separator: "\n").map(Self.logfmt)
            if lines.contains(where: { $0["msg"] == "slow server acquire: a client waited for a server" }) { break }
            usleep(50_000)
        }
        #expect(lines.allSatisfy { $0["time"] != nil && $0["level"] != nil && $0["msg"] != nil }, "\(proxy.log)")
        let saturated = try #require(lines.first { $0["msg"] == "pool saturated: clients wait for a server" }, "\(proxy.log)")
        #expect(saturated["level"] == "warning" && saturated["max_upstream"] == "1" && saturated["waiting"] == "1")
        let slow = try #require(lines.first { $0["msg"] == "slow server acquire: a client waited for a server" }, "\(proxy.log)")
        #expect((Double(slow["wait"] ?? "") ?? 0) >= 0.25, "\(slow)")
    }

    @Test func reloadSwitchesTheLogFormatAndLogsItsResult() throws {
        let env = try TestEnvironment.require()
        let dir = "\(env.tmp)/logreload-\(freePort())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func conf(_ format: String, extra: String = "") -> String {
            """
            [auth]
            type = "trust"
            [databases.main]
            port = \(env.pgPort)
            dbname = "postgres"
            user = "postgres"
            password = "\(env.pgPassword)"
            [metrics]
            enabled = false
            [log]
            format = "\(format)"
            \(extra)
            """
        }
        let path = "\(dir)/proxy.conf"
        try conf("text").write(toFile: path, atomically: true, encoding: .utf8)
        let proxy = try PgStashProcess(env, config: path)
        defer { proxy.stop() }
        let dsn = "host=127.0.0.1 port=\(proxy.port) user=postgres dbname=main sslmode=disable"
        #expect(try psql(dsn, "SELECT 1").status == 0)
        try conf("json").write(toFile: path, atomically: true, encoding: .utf8)
        proxy.signal(SIGHUP)
        try conf("json", extra: "levle = \"debug\"").write(toFile: path, atomically: true, encoding: .utf8)
        usleep(300_000)
        proxy.signal(SIGHUP)
        usleep(300_000)
        #expect(try psql(dsn, "SELECT 2").status == 0)

        var text: [Substring] = [], json: [[String: String]] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let lines = proxy.log.split(separator: "\n")
            text = lines.filter { $0.hasPrefix("pgstash ") }
            json = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
            if json.filter({ $0["msg"] == "client disconnected" }).count == 1 { break }
            usleep(50_000)
        }
        #expect(text.contains { $0.hasPrefix("pgstash info: client connected") }, "before the reload: text\n\(proxy.log)")
        #expect(json.first?["msg"] == "configuration reloaded" && json.first?["summary"]?.contains("1 database") == true,
                "the reload's own line is in the new format\n\(proxy.log)")
        let rejected = try #require(json.first { $0["msg"]?.hasPrefix("configuration reload rejected") == true }, "\(proxy.log)")
        #expect(rejected["level"] == "error" && rejected["source"] == "SIGHUP" && rejected["error"]?.contains("levle") == true, "\(rejected)")
        #expect(json.contains { $0["msg"] == "client connected" && $0["database"] == "main" }, "after the reload: JSON\n\(proxy.log)")
    }
}
