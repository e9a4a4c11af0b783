import Foundation
import Glibc
import PostgresWire
import Testing

/// PostgreSQL failing under pgstash (issue 12, part 5): restarted under load, unreachable at
/// start, one backend terminated, and its own timeouts. Only the clients whose transaction was
/// in flight see an error, each with a SQLSTATE a driver knows; the pool serves again at once.
@Suite(.serialized) struct UpstreamFaultTests {
    /// What a client may see when PostgreSQL goes away: its backend terminated (57P01),
    /// the connection lost or no server reachable (08006), PostgreSQL starting or stopping (57P03).
    static let upstreamGone: Set<String> = ["57P01", "08006", "57P03"]

    @Test func restartUnderLoadFailsOnlyInFlightTransactions() throws {
        let env = try TestEnvironment.require()
        let pg = try OwnPostgres(env)
        let init_ = try runCommand(["pgbench", "-i", "-s", "1", "-q", pg.directDSN], timeout: 120)
        #expect(init_.status == 0, "\(init_.stderr)")
        let proxy = try PgStashProcess(env, overrides: ["pool.max_upstream=10"], upstream: pg.upstreamURL)

        // A client idle between transactions, and one idle inside a transaction.
        guard let idle = login(port: proxy.port, password: pg.password),
              let inTx = login(port: proxy.port, password: pg.password) else {
            Issue.record("login failed\n\(logTail(proxy))"); return
        }
        #expect(idle.query("SELECT 1").rows == [["1"]])
        #expect(inTx.query("BEGIN").errors.isEmpty)
        #expect(inTx.query("SELECT 1").rows == [["1"]])

        // Load: pgbench's TPC-B transactions, and 4 clients whose errors are recorded exactly.
        let bench = childProcess(["pgbench", "-n", "-c", "8", "-j", "2", "-T", "6",
                                  proxy.dsn(password: pg.password)])
        let benchOut = Pipe()
        bench.standardOutput = benchOut
        bench.standardError = benchOut
        try bench.run()
        let errors = ErrorLog()
        let stop = StopFlag()
        let workers = Workers(4) { i in
            var c: WireClient?
            while !stop.isStopped {
                if c == nil { c = login(port: proxy.port, password: pg.password, errors: errors, worker: i) }
                guard let conn = c else { usleep(20_000); continue }
                let ok = runRecorded(conn, "BEGIN", errors: errors, worker: i)
                    && runRecorded(conn, "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1", errors: errors, worker: i)
                    && runRecorded(conn, "SELECT pg_sleep(0.01)", errors: errors, worker: i)
                    && runRecorded(conn, "COMMIT", errors: errors, worker: i)
                if ok { errors.ok() } else { c = nil }
            }
        }
        usleep(2_000_000)
        let restartStarted = Date()
        try pg.restart()
        let accepting = Date()

        // Time to the first SELECT 1 through pgstash once PostgreSQL accepts again.
        var firstSuccess: Date?
        while firstSuccess == nil, Date().timeIntervalSince(accepting) < 10 {
            if let c = login(port: proxy.port, password: pg.password), c.query("SELECT 1").rows == [["1"]] {
                firstSuccess = Date()
            } else {
                usleep(10_000)
            }
        }
        let recovery = firstSuccess.map { $0.timeIntervalSince(accepting) }
        print("restart: pg_ctl restart took \(String(format: "%.2f", accepting.timeIntervalSince(restartStarted))) s; first SELECT 1 through pgstash \(recovery.map { String(format: "%.3f", $0) } ?? "never") s after PostgreSQL accepted")
        #expect(recovery != nil && recovery! < 1.0, "pool served again after \(String(describing: recovery)) s\n\(logTail(proxy))")

        // The idle client never noticed; the one inside a transaction lost it, with a SQLSTATE.
        #expect(idle.query("SELECT 2").rows == [["2"]], "idle client disturbed")
        let lost = inTx.query("SELECT 3")
        #expect(lost.rows.isEmpty)
        let lostStates = lost.errors.map { $0.sqlState ?? "-" }
        #expect(!lostStates.isEmpty && lostStates.allSatisfy(Self.upstreamGone.contains), "in-transaction client saw \(lost.errorSummary)")

        usleep(1_500_000)
        stop.stop()
        #expect(workers.wait())
        bench.waitUntilExit()
        let report = String(decoding: benchOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

        // Every error has an upstream-gone SQLSTATE and falls in the restart window; work
        // resumed after it.
        let errs = errors.errors
        let states = Dictionary(grouping: errs, by: \.sqlState).mapValues(\.count)
        print("restart: worker transactions committed \(errors.successes), errors by SQLSTATE \(states)")
        for e in errs {
            #expect(Self.upstreamGone.contains(e.sqlState), "worker \(e.worker): \(e.sqlState) \(e.message)")
            #expect(e.at >= restartStarted && e.at.timeIntervalSince(accepting) < 1.0,
                    "error outside the restart window: \(e.sqlState) \(e.message)")
        }
        let byWorker = Dictionary(grouping: errs, by: \.worker)
        #expect(byWorker.values.allSatisfy { $0.count <= 20 }, "a worker failed repeatedly: \(states)")
        #expect(errors.successes > 20)
        #expect(proxy.isRunning)
        // pgbench does not reconnect: a client whose transaction was in flight aborts, and
        // says why (PostgreSQL's 57P01 message, relayed by pgstash); so does one that started
        // a transaction while PostgreSQL was going down (08006 naming PostgreSQL's 57P03).
        // pgbench says "perhaps the backend died" when the connection was already closed as
        // it sent its next command (the FATAL messages unread: a reset drops them). A server
        // pgstash opened as PostgreSQL went down can be reset during its login (08006, "closed
        // the connection during login"; seen once in a fresh-clone CI run).
        let lines = report.split(separator: "\n")
        let aborted = lines.filter { $0.contains("aborted in command") }
        let causes = Set(aborted.map { $0.split(separator: ":").suffix(2).joined(separator: ":").trimmingCharacters(in: .whitespaces) })
        print("restart: pgbench: \(aborted.count) of 8 clients aborted (\(causes.sorted().joined(separator: "; "))); "
              + lines.filter { $0.contains("processed") }.joined())
        #expect(aborted.allSatisfy { $0.contains("terminating connection due to administrator command") || $0.contains("connection was lost") || $0.contains("could not connect") || $0.contains("the database system is")
            || $0.contains("perhaps the backend died") || $0.contains("closed the connection during login") }, "\(aborted)")
        #expect(try psql(proxy.dsn(password: pg.password), "SELECT count(*) FROM pgbench_branches").stdout.hasPrefix("1"))
    }

    @Test func unreachableAtStartFailsFastAndRetriesCalmly() throws {
        let env = try TestEnvironment.require()
        let pg = try OwnPostgres(env, start: false)
        let proxy = try PgStashProcess(env, overrides: ["pool.connect_retry_interval=0.2"], upstream: pg.upstreamURL)

        // A client gets 08006 at once, not after connect_timeout (10 s).
        let t0 = Date()
        let c = try WireClient(port: proxy.port)
        guard case .error(let f) = c.login(user: "postgres", password: pg.password, database: "postgres") else {
            Issue.record("login to a stopped PostgreSQL succeeded"); return
        }
        let took = Date().timeIntervalSince(t0)
        print("unreachable: first client got \(f.sqlState ?? "-") after \(String(format: "%.3f", took)) s: \(f.message ?? "")")
        #expect(f.sqlState == "08006")
        #expect(f.message?.contains("\(pg.port)") == true)
        #expect(took < 1.0)

        // 10 clients retrying as fast as they can for 3 s: pgstash's connect attempts stay
        // bounded by connect_retry_interval, whatever the number of clients.
        let before = logLines(proxy, containing: "upstream connection failed").count
        let errors = ErrorLog()
        let stop = StopFlag()
        let storm = Workers(10) { i in
            while !stop.isStopped {
                _ = login(port: proxy.port, password: pg.password, errors: errors, worker: i)
            }
        }
        usleep(3_000_000)
        stop.stop()
        #expect(storm.wait())
        let attempts = logLines(proxy, containing: "upstream connection failed").count - before
        let refused = errors.errors.count
        print("unreachable: 10 clients were refused \(refused) times in 3 s; pgstash tried to connect \(attempts) times")
        #expect(refused > attempts, "clients \(refused), attempts \(attempts)")
        #expect(attempts >= 3 && attempts <= 20, "connect attempts in 3 s: \(attempts)")
        #expect(errors.errors.allSatisfy { $0.sqlState == "08006" })

        // PostgreSQL comes up: the next client is served.
        try pg.start()
        let up = Date()
        var served: Double?
        while served == nil, Date().timeIntervalSince(up) < 10 {
            if let c = login(port: proxy.port, password: pg.password), c.query("SELECT 1").rows == [["1"]] {
                served = Date().timeIntervalSince(up)
            } else {
                usleep(10_000)
            }
        }
        print("unreachable: served \(served.map { String(format: "%.3f", $0) } ?? "never") s after PostgreSQL accepted")
        #expect(served != nil && served! < 1.0, "\(logTail(proxy))")
    }

    @Test func terminatedBackendFailsOnlyItsClient() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "terminate")
        defer { db.drop() }
        try db.connect().query("CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t SELECT g, 0 FROM generate_series(1, 8) g")
        let proxy = try startPgStash(env, db, ["pool.max_upstream=6"])

        // The victim and a bystander both sit inside a transaction, each on its own server.
        let victim = try WireClient.connected(proxy, db)
        let bystander = try WireClient.connected(proxy, db)
        #expect(victim.query("BEGIN").errors.isEmpty)
        guard let pid = victim.backendPID() else { Issue.record("no backend pid"); return }
        #expect(bystander.query("BEGIN; UPDATE t SET n = n + 1 WHERE id = 8").errors.isEmpty)

        // 4 clients run short transactions throughout.
        let errors = ErrorLog()
        let stop = StopFlag()
        let workers = Workers(4) { i in
            guard let c = login(port: proxy.port, password: env.pgPassword, database: db.name, errors: errors, worker: i) else { return }
            while !stop.isStopped {
                guard runRecorded(c, "BEGIN", errors: errors, worker: i),
                      runRecorded(c, "UPDATE t SET n = n + 1 WHERE id = \(i + 1)", errors: errors, worker: i),
                      runRecorded(c, "COMMIT", errors: errors, worker: i) else { return }
                errors.ok()
            }
        }
        usleep(300_000)
        let direct = try db.connect()
        #expect(try direct.value("SELECT pg_terminate_backend(\(pid))") == "t")
        usleep(500_000)

        // The victim learns it on its next message, with 57P01 (or 08006), and is closed.
        let lost = victim.query("SELECT 1")
        let states = lost.errors.map { $0.sqlState ?? "-" }
        print("terminate: victim saw \(lost.errorSummary)")
        #expect(!states.isEmpty && states.allSatisfy(Self.upstreamGone.contains), "\(lost.errorSummary)")
        #expect(lost.rows.isEmpty)

        usleep(500_000)
        stop.stop()
        #expect(workers.wait())
        #expect(errors.errors.isEmpty, "bystanders saw \(errors.errors.map { "\($0.sqlState) \($0.message)" })")
        #expect(errors.successes > 10)
        #expect(bystander.query("COMMIT").errors.isEmpty)
        #expect(try direct.int("SELECT n FROM t WHERE id = 8") == 1)

        // The pool replaced the server: 6 clients in transactions at once all get one.
        let clients = try (0..<6).map { _ in try WireClient.connected(proxy, db) }
        for c in clients { #expect(c.query("BEGIN; SELECT 1").errors.isEmpty) }
        let pids = Set(clients.compactMap { $0.backendPID() })
        #expect(pids.count == 6 && !pids.contains(pid))
        for c in clients { #expect(c.query("COMMIT").errors.isEmpty) }
        #expect(proxy.isRunning)
    }

    @Test func postgresTimeoutsPassThrough() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "timeouts")
        defer { db.drop() }
        let proxy = try startPgStash(env, db, ["pool.max_upstream=2"])

        // statement_timeout: the statement is cancelled by PostgreSQL, the client stays.
        let a = try WireClient.connected(proxy, db)
        #expect(a.query("SET statement_timeout = '100ms'").errors.isEmpty)
        let slow = a.query("SELECT pg_sleep(2)")
        #expect(slow.errors.map(\.sqlState) == ["57014"], "\(slow.errorSummary)")
        #expect(a.query("SELECT 1").rows == [["1"]])
        // And it follows the client to another server (the other is held by b).
        let b = try WireClient.connected(proxy, db)
        #expect(b.query("BEGIN; SELECT 1").errors.isEmpty)
        #expect(a.query("BEGIN").errors.isEmpty)
        #expect(a.query("SELECT pg_sleep(2)").errors.map(\.sqlState) == ["57014"])
        #expect(a.query("ROLLBACK").errors.isEmpty)
        #expect(b.query("COMMIT").errors.isEmpty)

        // idle_in_transaction_session_timeout: PostgreSQL ends the session with 25P03; the
        // client hears it, other clients do not, and the pool opens a new server.
        let c = try WireClient.connected(proxy, db)
        #expect(c.query("SET idle_in_transaction_session_timeout = '200ms'").errors.isEmpty)
        #expect(c.query("BEGIN; SELECT 1").errors.isEmpty)
        usleep(600_000)
        let ended = c.query("SELECT 2")
        let states = ended.errors.map { $0.sqlState ?? "-" }
        print("idle in transaction: client saw \(ended.errorSummary)")
        #expect(states.first == "25P03", "\(ended.errorSummary)")
        #expect(c.waitForClose())
        let d = try WireClient.connected(proxy, db)
        #expect(d.query("BEGIN; SELECT 1").errors.isEmpty)
        #expect(a.query("BEGIN; SELECT 1").errors.isEmpty)
        #expect(d.query("COMMIT").errors.isEmpty)
        #expect(a.query("COMMIT").errors.isEmpty)
    }

    @Test func queryTimeoutCancelsTheRequest() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "qtimeout")
        defer { db.drop() }
        let proxy = try startPgStash(env, db, ["pool.max_upstream=2", "pool.query_timeout=0.3"])
        let a = try WireClient.connected(proxy, db)
        let t0 = Date()
        let slow = a.query("SELECT pg_sleep(5)")
        let took = Date().timeIntervalSince(t0)
        print("query_timeout: pg_sleep(5) ended after \(String(format: "%.2f", took)) s with \(slow.errorSummary)")
        #expect(slow.errors.map(\.sqlState) == ["57014"], "\(slow.errorSummary)")
        #expect(took < 1.5)
        // The client stays, inside a transaction too, and its next statements run.
        #expect(a.query("SELECT 1").rows == [["1"]])
        #expect(a.query("BEGIN").errors.isEmpty)
        #expect(a.query("SELECT pg_sleep(5)").errors.map(\.sqlState) == ["57014"])
        #expect(a.query("ROLLBACK").errors.isEmpty)
        // A fast statement is never touched, however long the client idles before it.
        usleep(500_000)
        #expect(a.query("SELECT pg_sleep(0.1)").errors.isEmpty)
        // The log line of the second timeout may land just after the client read its error.
        let deadline = Date().addingTimeInterval(2)
        while logLines(proxy, containing: "query_timeout").count < 2, Date() < deadline { usleep(20_000) }
        #expect(logLines(proxy, containing: "query_timeout").count == 2)
    }

    @Test func idleTransactionTimeoutDisconnects() throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "ittimeout")
        defer { db.drop() }
        let proxy = try startPgStash(env, db, ["pool.max_upstream=1", "pool.idle_transaction_timeout=0.3"])
        let a = try WireClient.connected(proxy, db)
        #expect(a.query("BEGIN; SELECT 1").errors.isEmpty)
        let pid = a.backendPID()
        // The error arrives unasked, then the connection closes.
        let t0 = Date()
        guard case .errorResponse(let f)? = a.receive() else { Issue.record("no error for the idle transaction"); return }
        let took = Date().timeIntervalSince(t0)
        print("idle_transaction_timeout: \(f.sqlState ?? "-") \(f.message ?? "") after \(String(format: "%.2f", took)) s")
        #expect(f.sqlState == "25P03")
        #expect(f.severity == "FATAL")
        #expect(took < 1.0)
        #expect(a.waitForClose())
        // Its server is closed (its transaction rolled back) and the pool (of one) serves.
        let b = try WireClient.connected(proxy, db)
        #expect(b.query("SELECT 1").rows == [["1"]])
        #expect(b.backendPID() != pid)
        // Time spent running a statement inside a transaction does not count.
        #expect(b.query("BEGIN").errors.isEmpty)
        #expect(b.query("SELECT pg_sleep(0.5)").errors.isEmpty)
        #expect(b.query("COMMIT").errors.isEmpty)
        // Nor does idling between transactions.
        usleep(500_000)
        #expect(b.query("SELECT 2").rows == [["2"]])
    }
}
