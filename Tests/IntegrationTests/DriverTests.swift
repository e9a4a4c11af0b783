import CLibPQ
import Foundation
import Testing

/// Real drivers in their everyday modes, each first against PostgreSQL directly (the expected
/// answers: every check must pass there) and then through pgstash in transaction mode with a
/// small cap (`pool.max_upstream = 3`) so that clients share servers. Every driver checks
/// isolation between two clients A and B: B must observe nothing of A (rows, statements,
/// settings, roles, notices, notifications, errors, transaction state).
///
/// The Python, Java and JavaScript clients live in `clients/` and print one JSON line
/// `{"checks": [{"name", "ok", "detail"}]}`; libpq's pipeline mode is driven from Swift.
@Suite(.serialized) struct DriverTests {
    static let proxyOverrides = ["pool.mode=transaction", "pool.max_upstream=3", "pool.acquire_timeout=10"]

    struct Check {
        let name: String
        let ok: Bool
        let detail: String
    }

    /// Where a run went: PostgreSQL directly, or pgstash (whose log is added to failures).
    enum Target {
        case direct
        case proxy(PgStashProcess)
        /// Through pgstash with the result cache on, every table cached.
        case cachingProxy(PgStashProcess)

        var label: String {
            switch self {
            case .direct: "PostgreSQL directly"
            case .proxy: "through pgstash (transaction mode, max_upstream 3)"
            case .cachingProxy: "through pgstash with the result cache on (every table cached)"
            }
        }

        var port: Int {
            switch self {
            case .direct: TestEnvironment.shared!.pgPort
            case .proxy(let p), .cachingProxy(let p): p.port
            }
        }

        var context: String {
            switch self {
            case .direct: ""
            case .proxy(let p), .cachingProxy(let p): "\npgstash log:\n" + pgstashLogTail(p)
            }
        }
    }

    /// Runs a client program and returns its checks (a missing summary is one failed check).
    static func runClient(_ argv: [String], env: [String: String] = [:], timeout: Double = 60) throws -> ([Check], ProcessResult) {
        let r = try runCommand(argv, env: env, timeout: timeout)
        guard let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let list = obj["checks"] as? [[String: Any]] else {
            return ([Check(name: "the client printed its summary", ok: false,
                           detail: "exit \(r.status)\nstdout: \(r.stdout.suffix(2000))\nstderr: \(r.stderr.suffix(3000))")], r)
        }
        let checks = list.map { Check(name: $0["name"] as? String ?? "?", ok: $0["ok"] as? Bool ?? false,
                                      detail: $0["detail"] as? String ?? "") }
        return (checks, r)
    }

    static func expectAll(_ checks: [Check], _ target: Target, minimum: Int, stderr: String = "",
                          sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(checks.count >= minimum, "\(target.label): only \(checks.count) checks ran (expected \(minimum))\n\(stderr.suffix(2000))",
                sourceLocation: sourceLocation)
        for c in checks where !c.ok {
            Issue.record("\(target.label): \(c.name) — \(c.detail)\(target.context)", sourceLocation: sourceLocation)
        }
    }

    /// Runs `body` against PostgreSQL directly, then through a pgstash of its own, then
    /// through one with the result cache on (the drivers' answers must not change).
    static func directThenProxy(prefix: String, _ body: (TestEnvironment, TestDatabase, Target, String) throws -> Void) throws {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: prefix)
        defer { db.drop() }
        try body(env, db, .direct, "direct")
        let proxy = try startPgStash(env, db, proxyOverrides)
        try body(env, db, .proxy(proxy), "proxy")
        proxy.stop()
        let caching = try startCachingPgStash(env, db, redisPort: env.redisPort, extra: proxyOverrides)
        defer { caching.stop() }
        try body(env, db, .cachingProxy(caching), "cached")
    }

    // MARK: - libpq pipeline mode

    @Test("libpq pipeline mode with PQsendFlushRequest: B sees nothing of A's open implicit transaction")
    func libpqPipelineFlush() throws {
        try Self.directThenProxy(prefix: "drv_libpq") { env, db, target, _ in
            let checks = try Self.libpqPipeline(port: target.port, env: env, db: db.name)
            Self.expectAll(checks, target, minimum: 7)
        }
    }

    static func libpqPipeline(port: Int, env: TestEnvironment, db: String) throws -> [Check] {
        var checks: [Check] = []
        func check(_ name: String, _ ok: Bool, _ detail: String = "") { checks.append(Check(name: name, ok: ok, detail: detail)) }
        let dsn = "host=127.0.0.1 port=\(port) user=postgres password=\(env.pgPassword) dbname=\(db) sslmode=disable connect_timeout=10"
        let a = try LibPQConnection(dsn), b = try LibPQConnection(dsn)
        _ = try b.exec("DROP TABLE IF EXISTS drv_libpq; CREATE TABLE drv_libpq (v int)")

        try #require(PQenterPipelineMode(a.conn) == 1, "PQenterPipelineMode: \(a.error)")
        // Round 1: an INSERT read with a flush request (no Sync): the implicit transaction stays open.
        try a.sendQueryParams("INSERT INTO drv_libpq VALUES ($1::int) RETURNING pg_backend_pid()", ["11"])
        try a.flushRequest()
        let inserted = a.pipelineResult()
        check("A's INSERT answers before any Sync", inserted.status == PGRES_TUPLES_OK, inserted.detail)
        let aPID = inserted.rows.first?.first ?? nil
        let seen = try b.exec("SELECT pg_backend_pid()::text, (SELECT count(*) FROM drv_libpq WHERE v = 11)::text")
        check("B runs on another backend and sees 0 of A's uncommitted rows",
              seen.first?[0] != aPID && seen.first?[1] == "0",
              "A backend \(aPID ?? "nil"), B backend \(seen.first?[0] ?? "nil"), B saw \(seen.first?[1] ?? "nil") row(s)")
        try a.sendQueryParams("SELECT count(*)::text, pg_backend_pid()::text FROM drv_libpq WHERE v = $1::int", ["11"])
        try a.flushRequest()
        let own = a.pipelineResult()
        check("A sees its own row on the same backend", own.rows.first?[0] == "1" && own.rows.first?[1] == aPID, own.detail)

        // Round 2: B's error while A's transaction is open does not abort A's work.
        try a.sendQueryParams("INSERT INTO drv_libpq VALUES ($1::int)", ["12"])
        try a.flushRequest()
        let second = a.pipelineResult()
        check("A's second INSERT completes", second.status == PGRES_COMMAND_OK, second.detail)
        let bError = b.execStatus("SELECT 1/0")
        check("B gets its own division by zero", bError.sqlState == "22012", bError.detail)

        // A's Sync commits both rows.
        try #require(PQpipelineSync(a.conn) == 1, "PQpipelineSync: \(a.error)")
        let sync = a.pipelineResult()
        check("A's PQpipelineSync answers PGRES_PIPELINE_SYNC", sync.status == PGRES_PIPELINE_SYNC, sync.detail)
        check("A is idle after its Sync", PQtransactionStatus(a.conn) == PQTRANS_IDLE, "\(PQtransactionStatus(a.conn))")
        _ = PQexitPipelineMode(a.conn)
        let committed = try b.exec("SELECT count(*)::text FROM drv_libpq WHERE v IN (11, 12)")
        check("A's Sync committed both rows", committed.first?[0] == "2", "\(committed)")
        let bTx = try b.exec("SELECT txid_current_if_assigned()::text")
        check("B has no transaction of its own", bTx.first?[0] == nil, "\(bTx)")
        return checks
    }

    // MARK: - Python drivers

    @Test("psycopg 3: pipeline fetchone (prepare_threshold 0/5/None), named cursor, settings, roles")
    func psycopg() throws {
        try Self.directThenProxy(prefix: "drv_psycopg") { env, db, target, tag in
            let dsn = "host=127.0.0.1 port=\(target.port) user=postgres password=\(env.pgPassword) dbname=\(db.name) sslmode=disable"
            let (checks, r) = try Self.runClient(["/usr/bin/python3", "\(clientsDirectory)/driver_psycopg.py", dsn, tag], timeout: 90)
            Self.expectAll(checks, target, minimum: 40, stderr: r.stderr)
        }
    }

    @Test("asyncpg: pool, statement_cache_size 0 and default, parameter counts, transactions, copy_records_to_table")
    func asyncpg() throws {
        try Self.directThenProxy(prefix: "drv_asyncpg") { env, db, target, tag in
            let (checks, r) = try Self.runClient(["/usr/bin/python3", "\(clientsDirectory)/driver_asyncpg.py", "127.0.0.1",
                                                  "\(target.port)", env.pgPassword, db.name, tag], timeout: 120)
            Self.expectAll(checks, target, minimum: 12, stderr: r.stderr)
        }
    }

    // MARK: - pgjdbc

    @Test("pgjdbc: setTransactionIsolation (prepareThreshold 0/1/5), fetch-size cursor, batch, roles")
    func jdbc() throws {
        let env = try TestEnvironment.require()
        let jar = "/usr/share/java/postgresql.jar"
        try #require(FileManager.default.fileExists(atPath: jar), "\(jar) is missing: run scripts/deps.sh")
        let classes = "\(env.tmp)/jdbc-classes-\(freePort())"
        try FileManager.default.createDirectory(atPath: classes, withIntermediateDirectories: true)
        let javac = try runCommand(["javac", "-d", classes, "-cp", jar, "\(clientsDirectory)/DriverJdbc.java"], timeout: 120)
        try #require(javac.status == 0, "javac failed: \(javac.stderr.suffix(3000))")
        try Self.directThenProxy(prefix: "drv_jdbc") { env, db, target, tag in
            let (checks, r) = try Self.runClient(["java", "-cp", "\(classes):\(jar)", "DriverJdbc", "127.0.0.1", "\(target.port)",
                                                  db.name, env.pgPassword, tag], timeout: 120)
            Self.expectAll(checks, target, minimum: 26, stderr: r.stderr)
        }
    }

    // MARK: - node-postgres

    @Test("node-postgres: pool with named statements, pg-cursor batches (Flush, not Sync), settings, notices, cancel")
    func nodePostgres() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let setup = try runCommand(["\(root.path)/scripts/node-pg.sh"], timeout: 180)
        let nodePath = setup.stdout.split(separator: "\n").last.map(String.init) ?? ""
        try #require(setup.status == 0 && !nodePath.isEmpty, "scripts/node-pg.sh failed: \(setup.stderr.suffix(2000))")
        try Self.directThenProxy(prefix: "drv_node") { env, db, target, tag in
            let (checks, r) = try Self.runClient(["node", "\(clientsDirectory)/driver_node.js", "127.0.0.1", "\(target.port)",
                                                  db.name, env.pgPassword, tag],
                                                 env: ["NODE_PATH": nodePath], timeout: 70)
            Self.expectAll(checks, target, minimum: 14, stderr: r.stderr)
        }
    }
}

private func pgstashLogTail(_ p: PgStashProcess) -> String { logTail(p, lines: 20) }

/// A blocking libpq connection for the pipeline-mode test.
final class LibPQConnection {
    let conn: OpaquePointer

    init(_ dsn: String) throws {
        guard let c = PQconnectdb(dsn) else { throw TestFailure("PQconnectdb returned nil") }
        guard PQstatus(c) == CONNECTION_OK else {
            let m = String(cString: PQerrorMessage(c))
            PQfinish(c)
            throw TestFailure("connection failed: \(m)")
        }
        conn = c
    }

    deinit { PQfinish(conn) }

    var error: String { String(cString: PQerrorMessage(conn)) }

    struct Result {
        var status: ExecStatusType
        var rows: [[String?]]
        var sqlState: String?
        var detail: String
    }

    static func read(_ r: OpaquePointer) -> Result {
        let status = PQresultStatus(r)
        var rows: [[String?]] = []
        for i in 0..<PQntuples(r) {
            rows.append((0..<PQnfields(r)).map { j in PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j)) })
        }
        let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let message = String(cString: PQresultErrorMessage(r))
        return Result(status: status, rows: rows, sqlState: state,
                      detail: "\(String(cString: PQresStatus(status))) rows \(rows) \(message)")
    }

    /// PQexec (not in pipeline mode): rows, or throws on an error.
    func exec(_ sql: String) throws -> [[String?]] {
        let r = execStatus(sql)
        guard r.status == PGRES_TUPLES_OK || r.status == PGRES_COMMAND_OK else { throw TestFailure("\(sql): \(r.detail)") }
        return r.rows
    }

    func execStatus(_ sql: String) -> Result {
        guard let r = PQexec(conn, sql) else { return Result(status: PGRES_FATAL_ERROR, rows: [], sqlState: nil, detail: error) }
        defer { PQclear(r) }
        return Self.read(r)
    }

    func sendQueryParams(_ sql: String, _ params: [String]) throws {
        let cParams = params.map { strdup($0) }
        defer { cParams.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cParams.map { UnsafePointer($0) }
        let ok = pointers.withUnsafeBufferPointer {
            PQsendQueryParams(conn, sql, Int32(params.count), nil, $0.baseAddress, nil, nil, 0)
        }
        guard ok == 1 else { throw TestFailure("PQsendQueryParams: \(error)") }
    }

    func flushRequest() throws {
        guard PQsendFlushRequest(conn) == 1 else { throw TestFailure("PQsendFlushRequest: \(error)") }
        guard PQflush(conn) == 0 else { throw TestFailure("PQflush: \(error)") }
    }

    /// The next result of the pipeline (blocking), then the NULL that ends a query's results
    /// (a PGRES_PIPELINE_SYNC result is not followed by one).
    func pipelineResult(timeout: Double = 15) -> Result {
        // Wait with a bound for the socket: PQgetResult blocks without one.
        let deadline = Date().addingTimeInterval(timeout)
        while PQisBusy(conn) == 1 {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return Result(status: PGRES_FATAL_ERROR, rows: [], sqlState: nil, detail: "timed out after \(timeout) s") }
            var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(min(left, 1) * 1000) + 1)
            if PQconsumeInput(conn) == 0 { return Result(status: PGRES_FATAL_ERROR, rows: [], sqlState: nil, detail: error) }
        }
        guard let r = PQgetResult(conn) else { return Result(status: PGRES_FATAL_ERROR, rows: [], sqlState: nil, detail: "no result") }
        let result = Self.read(r)
        PQclear(r)
        if result.status != PGRES_PIPELINE_SYNC, let end = PQgetResult(conn) {
            PQclear(end)   // not the NULL expected after one query's results
        }
        return result
    }
}
