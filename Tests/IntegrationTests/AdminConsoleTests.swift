import Foundation
import Glibc
import PostgresWire
import Testing

/// Issue 11, item 2: the admin console (virtual database `pgstash`) against Debian's
/// PgBouncer 1.18, psql, the extended protocol, PAUSE/RESUME under traffic, and refusals.
@Suite(.serialized) struct AdminConsoleTests {
    /// users.txt (SCRAM logins) and a proxy.conf with one database `main` and admin `admin`.
    func writeConfig(_ env: TestEnvironment, dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "\"app\" \"app-secret\"\n\"admin\" \"admin-secret\"\n\"bob\" \"bob-secret\"\n"
            .write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
        let conf = """
            [listen]
            host = "127.0.0.1"
            [pool]
            mode = "transaction"
            max_upstream = 4
            [databases.main]
            host = "127.0.0.1"
            port = \(env.pgPort)
            dbname = "postgres"
            user = "postgres"
            password = "\(env.pgPassword)"
            [auth]
            type = "scram-sha-256"
            auth_file = "users.txt"
            [admin]
            users = ["admin"]
            [[cache.rules]]
            name = "orders"
            tier = "L1"
            tables = ["orders"]
            """
        let path = "\(dir)/proxy.conf"
        try conf.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func startProxy(_ name: String) throws -> (TestEnvironment, PgStashProcess) {
        let env = try TestEnvironment.require()
        let path = try writeConfig(env, dir: "\(env.tmp)/admin-\(name)-\(freePort())")
        return (env, try PgStashProcess(env, config: path))
    }

    func login(_ port: Int, user: String, db: String, timeout: Double = 10) throws -> WireClient {
        let c = try WireClient(port: port, timeout: timeout)
        guard case .ready = c.login(user: user, password: "\(user)-secret", database: db) else {
            throw TestFailure("\(user) could not log in to \(db)")
        }
        return c
    }

    func adminDSN(_ proxy: PgStashProcess) -> String {
        "host=127.0.0.1 port=\(proxy.port) user=admin password=admin-secret dbname=pgstash sslmode=disable"
    }

    /// Column names and type OIDs of a command's RowDescription.
    func header(_ messages: [BackendMessage]) -> [(String, Int32)] {
        for m in messages { if case .rowDescription(let f) = m { return f.map { ($0.name, $0.dataTypeOID) } } }
        return []
    }

    /// Messages up to ReadyForQuery, waiting through short socket timeouts for up to 10 s.
    func collect(_ c: WireClient) -> [BackendMessage] {
        var out: [BackendMessage] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let m = c.receive() else { continue }
            out.append(m)
            if case .readyForQuery = m { break }
        }
        return out
    }

    @Test func headersHoldEveryColumnPgBouncerSends() throws {
        let (env, proxy) = try startProxy("columns")
        defer { proxy.stop() }
        let bouncer = try PgBouncer(env)
        defer { bouncer.stop() }
        let theirs = try WireClient(port: bouncer.port)
        guard case .ready = theirs.login(user: "admin", password: "", database: "pgbouncer") else {
            throw TestFailure("cannot log in to PgBouncer's console: \(bouncer.log)")
        }
        let ours = try login(proxy.port, user: "admin", db: "pgstash")
        for command in ["SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW DATABASES", "SHOW VERSION", "SHOW LISTS", "SHOW CONFIG"] {
            let expected = header(theirs.query(command))
            let got = header(ours.query(command))
            #expect(!expected.isEmpty, "PgBouncer sent no RowDescription for \(command)")
            #expect(got.count >= expected.count, "\(command): \(got.map(\.0)) lacks PgBouncer's \(expected.map(\.0))")
            for (i, (name, type)) in expected.enumerated() where i < got.count {
                #expect(got[i].0 == name, "\(command) column \(i): \(got[i].0), PgBouncer: \(name)")
                #expect(got[i].1 == type, "\(command) column \(name): type \(got[i].1), PgBouncer: \(type)")
            }
        }
    }

    @Test func psqlRunsEveryCommand() throws {
        let (_, proxy) = try startProxy("psql")
        defer { proxy.stop() }
        let app = try login(proxy.port, user: "app", db: "main")
        #expect(app.query("SELECT 1").rows == [["1"]])
        let dsn = adminDSN(proxy)
        for command in ["SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW DATABASES", "SHOW CONFIG",
                        "SHOW VERSION", "SHOW LISTS", "SHOW RULES", "SHOW HELP", "RELOAD", "PAUSE", "RESUME",
                        "PAUSE main", "RESUME main", "show pools;"] {
            let r = try psql(dsn, command, args: ["-X", "-A", "-q", "-v", "ON_ERROR_STOP=1"])
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        let pools = try psql(dsn, "SHOW POOLS")
        #expect(pools.stdout.contains("main|postgres|1|0|"), "the app client is active in main/postgres: \(pools.stdout)")
        let stats = try psql(dsn, "SHOW STATS").stdout.split(separator: "\n").first { $0.hasPrefix("main|") }
        let counts = stats.map { $0.split(separator: "|").map(String.init) } ?? []
        #expect(counts.count == 15 && Int(counts[1]) ?? 0 >= 1 && Int(counts[2]) ?? 0 >= 1,
                "SHOW STATS counts the app's transaction and query: \(stats ?? "no row")")
        let rules = try psql(dsn, "SHOW RULES")
        #expect(rules.stdout.contains("orders|L1|300|orders"))
        let version = try psql(dsn, "SHOW VERSION")
        #expect(version.stdout.hasPrefix("pgstash "))

        // The cache is off in this configuration: its commands say so (CacheAdminTests runs them with it on).
        for command in ["SHOW CACHE", "SHOW CACHE STATUS", "EXPLAIN CACHE SELECT 1", "INVALIDATE orders"] {
            let r = try psql(dsn, command, args: ["-X", "-A", "-q", "-v", "VERBOSITY=verbose"])
            #expect(r.status != 0 && r.stderr.contains("55000") && r.stderr.contains("the result cache is off"), "\(command): \(r.stderr)")
        }
        let advice = try psql(dsn, "SHOW CACHE ADVICE", args: ["-X", "-A", "-q", "-v", "VERBOSITY=verbose"])
        #expect(advice.status != 0 && advice.stderr.contains("55000") && advice.stderr.contains("query_digests"), "\(advice.stderr)")
        let unknown = try psql(dsn, "SELECT 1", args: ["-X", "-A", "-q", "-v", "VERBOSITY=verbose"])
        #expect(unknown.stderr.contains("42601") && unknown.stderr.contains("SHOW POOLS"), "\(unknown.stderr)")
        let nosuch = try psql(dsn, "KILL nosuch", args: ["-X", "-A", "-q", "-v", "VERBOSITY=verbose"])
        #expect(nosuch.stderr.contains("3D000"), "\(nosuch.stderr)")

        // KILL drops the app client and holds the database until RESUME.
        let kill = try psql(dsn, "KILL main")
        #expect(kill.status == 0, "\(kill.stderr)")
        #expect(app.waitForClose())
        #expect(try psql(dsn, "SHOW DATABASES").stdout.contains("main|127.0.0.1|\(try TestEnvironment.require().pgPort)|postgres|postgres|4|0|0|transaction|0|0|1|0"))
        #expect(try psql(dsn, "RESUME").status == 0)
        #expect(try login(proxy.port, user: "app", db: "main").query("SELECT 2").rows == [["2"]])

        // SHUTDOWN answers, then the process exits once no transaction is open.
        let shutdown = try psql(dsn, "SHUTDOWN")
        #expect(shutdown.status == 0, "\(shutdown.stderr)")
        let deadline = Date().addingTimeInterval(5)
        while proxy.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!proxy.isRunning)
    }

    @Test func extendedProtocolRunsConsoleCommands() throws {
        let (_, proxy) = try startProxy("extended")
        defer { proxy.stop() }
        let admin = try login(proxy.port, user: "admin", db: "pgstash")
        var b = ByteBuffer()
        FrontendMessage.parse(name: "", query: "SHOW LISTS", parameterTypes: []).encode(into: &b)
        FrontendMessage.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])).encode(into: &b)
        FrontendMessage.describe(kind: UInt8(ascii: "P"), name: "").encode(into: &b)
        FrontendMessage.execute(portal: "", maxRows: 0).encode(into: &b)
        FrontendMessage.sync.encode(into: &b)
        admin.send(Array(b.readableView))
        var messages: [BackendMessage] = []
        while let m = admin.receive() {
            messages.append(m)
            if case .readyForQuery = m { break }
        }
        #expect(Array(messages.prefix(2)) == [.parseComplete, .bindComplete])
        #expect(header(messages).map(\.0) == ["list", "items"])
        #expect(messages.rows.contains { $0 == ["databases", "1"] })
        #expect(messages.contains(.commandComplete(tag: "SHOW")))
        #expect(messages.last == .readyForQuery(.idle))
        // A simple query still works on the same connection afterwards.
        #expect(admin.query("SHOW VERSION").rows.first?.first??.hasPrefix("pgstash") == true)
    }

    @Test func pauseHoldsNewTransactionsUntilResumeWithoutDroppingClients() throws {
        let (_, proxy) = try startProxy("pause")
        defer { proxy.stop() }
        let busy = try login(proxy.port, user: "app", db: "main")
        let later = try login(proxy.port, user: "app", db: "main", timeout: 0.7)
        let admin = try login(proxy.port, user: "admin", db: "pgstash", timeout: 0.7)
        #expect(busy.query("BEGIN").last == .readyForQuery(.inTransaction))
        #expect(busy.query("SELECT 1").rows == [["1"]])

        // PAUSE waits for the open transaction.
        admin.send(FrontendMessage.query("PAUSE").encoded)
        #expect(admin.receive() == nil, "PAUSE answered while a transaction was open")
        #expect(busy.query("COMMIT").contains(.commandComplete(tag: "COMMIT")))
        let pauseReply = collect(admin)
        #expect(pauseReply.contains(.commandComplete(tag: "PAUSE")), "PAUSE did not complete: \(pauseReply)")

        // New transactions wait: an existing client and a new one.
        later.send(FrontendMessage.query("SELECT 2").encoded)
        #expect(later.receive() == nil, "a transaction ran while paused")
        let fresh = try login(proxy.port, user: "app", db: "main", timeout: 5)
        fresh.send(FrontendMessage.query("SELECT 3").encoded)
        #expect(admin.query("SHOW DATABASES").rows.contains { $0.first == "main" && $0[11] == "1" })
        let waiting = admin.query("SHOW POOLS").rows.first { $0.first == "main" }
        #expect(waiting?[3] == "2", "two clients wait in SHOW POOLS: \(String(describing: waiting))")

        // RESUME releases them; nobody was dropped.
        #expect(admin.query("RESUME").contains(.commandComplete(tag: "RESUME")))
        #expect(collect(later).rows == [["2"]])
        #expect(collect(fresh).rows == [["3"]])
        #expect(busy.query("SELECT 4").rows == [["4"]])
    }

    @Test func nonAdminUsersAreRefused() throws {
        let (_, proxy) = try startProxy("refuse")
        defer { proxy.stop() }
        let c = try WireClient(port: proxy.port)
        guard case .error(let f) = c.login(user: "bob", password: "bob-secret", database: "pgstash") else {
            Issue.record("bob got the console"); return
        }
        #expect(f.sqlState == "28000")
        #expect(f.message?.contains("[admin]") == true)
        // bob's password is checked first: a wrong one is 28P01, not a hint that the console exists.
        let wrong = try WireClient(port: proxy.port)
        guard case .error(let g) = wrong.login(user: "bob", password: "nope", database: "pgstash") else {
            Issue.record("a wrong password got in"); return
        }
        #expect(g.sqlState == "28P01")
    }
}

/// Debian's PgBouncer 1.18 in front of the test PostgreSQL, trust authentication, admin
/// user `admin`. It refuses to run as root: then it runs as `nobody`.
final class PgBouncer {
    let port = freePort()
    let process: Process
    let dir: String

    init(_ env: TestEnvironment) throws {
        dir = "\(env.tmp)/pgbouncer-\(port)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        try "\"admin\" \"\"\n".write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
        try """
            [databases]
            main = host=127.0.0.1 port=\(env.pgPort) dbname=postgres user=postgres password=\(env.pgPassword)
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(dir)/users.txt
            admin_users = admin
            logfile = \(dir)/pgbouncer.log
            """.write(toFile: "\(dir)/pgbouncer.ini", atomically: true, encoding: .utf8)
        let argv = ["/usr/sbin/pgbouncer", "\(dir)/pgbouncer.ini"]
        process = childProcess(getuid() == 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv : argv)
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning { throw TestFailure("pgbouncer exited: \(log)") }
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        throw TestFailure("pgbouncer did not listen within 10 s: \(log)")
    }

    var log: String { (try? String(contentsOfFile: "\(dir)/pgbouncer.log", encoding: .utf8)) ?? "" }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
    }
}
