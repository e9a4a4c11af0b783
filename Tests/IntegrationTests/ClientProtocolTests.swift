import CHiredis
import CLibPQ
import Foundation
import Testing

/// Real clients through pgstash: pgbench in every protocol mode, libpq cancellation, and the
/// C libraries the project links.
@Suite(.serialized) struct ClientProtocolTests {
    @Test func libraryLinkage() throws {
        let env = try TestEnvironment.require()
        #expect(PQlibVersion() >= 150000)
        let conn = PQconnectdb(env.directDSN())
        defer { PQfinish(conn) }
        #expect(PQstatus(conn) == CONNECTION_OK)
        guard let redis = redisConnect("127.0.0.1", Int32(env.redisPort)) else { Issue.record("redisConnect returned nil"); return }
        defer { redisFree(redis) }
        #expect(redis.pointee.err == 0)
        var argv: [UnsafePointer<CChar>?] = [("PING" as NSString).utf8String]
        var lens = [4]
        let reply = redisCommandArgv(redis, 1, &argv, &lens)?.assumingMemoryBound(to: redisReply.self)
        #expect(reply.map { String(cString: $0.pointee.str) } == "PONG")
        if let reply { freeReplyObject(reply) }
    }

    /// pgbench, 16 clients, 10 s in each protocol mode: zero failed transactions.
    @Test(arguments: ["simple", "extended", "prepared"])
    func pgbenchModes(mode: String) throws {
        let env = try TestEnvironment.require()
        let db = "bench_\(mode)"
        _ = try psql(env.directDSN(), "DROP DATABASE IF EXISTS \(db)")
        _ = try psql(env.directDSN(), "CREATE DATABASE \(db)")
        let initR = try runCommand(["pgbench", "-i", "-s", "2", "-q", env.directDSN(db: db)], timeout: 120)
        #expect(initR.status == 0, "\(initR.stderr)")
        let proxy = try PgStashProcess(env, upstream: "postgresql://postgres:\(env.pgPassword)@127.0.0.1:\(env.pgPort)/\(db)")
        let r = try runCommand(["pgbench", "-n", "-M", mode, "-c", "16", "-j", "2", "-T", "10", proxy.dsn(db: db)], timeout: 60)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("number of failed transactions: 0 (0.000%)"), "\(r.stdout)\(r.stderr)")
        #expect(!r.stderr.contains("aborted"), "\(r.stderr)")
        let tx = r.stdout.split(separator: "\n").first { $0.contains("number of transactions actually processed") }
        #expect(tx != nil)
        _ = try psql(env.directDSN(), "DROP DATABASE IF EXISTS \(db) WITH (FORCE)")
    }

    /// A CancelRequest sent with pgstash's key ends the running query with 57014 within a second.
    @Test(arguments: ["session", "transaction"])
    func cancelLongQuery(mode: String) throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["pool.mode=\(mode)"])
        let conn = PQconnectdb(proxy.dsn())
        defer { PQfinish(conn) }
        #expect(PQstatus(conn) == CONNECTION_OK, "\(String(cString: PQerrorMessage(conn)))")
        #expect(PQsendQuery(conn, "SELECT pg_sleep(30)") == 1)
        usleep(300_000)
        let started = Date()
        let cancel = PQgetCancel(conn)
        var errbuf = [CChar](repeating: 0, count: 256)
        #expect(PQcancel(cancel, &errbuf, 256) == 1)
        PQfreeCancel(cancel)
        var state = ""
        while let res = PQgetResult(conn) {
            if let s = PQresultErrorField(res, Int32(UInt8(ascii: "C"))) { state = String(cString: s) }
            PQclear(res)
        }
        #expect(state == "57014")
        #expect(Date().timeIntervalSince(started) < 1.0)
        // The connection is still usable.
        let res = PQexec(conn, "SELECT 1")
        #expect(PQresultStatus(res) == PGRES_TUPLES_OK)
        PQclear(res)
    }

    /// Startup settings follow the client to every server it is given; a list setting from
    /// `options` stays a list (two schemas, not one named "s1,public").
    @Test func startupOptionsFollowTheClient() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["pool.mode=transaction", "pool.max_upstream=2"])
        let holder = PQconnectdb(proxy.dsn())
        defer { PQfinish(holder) }
        let conn = PQconnectdb(proxy.dsn(extra: "options='-c search_path=s1,public -c statement_timeout=1234'"))
        defer { PQfinish(conn) }
        #expect(PQstatus(conn) == CONNECTION_OK, "\(String(cString: PQerrorMessage(conn)))")
        func value(_ c: OpaquePointer?, _ sql: String) -> String {
            let r = PQexec(c, sql)
            defer { PQclear(r) }
            return PQntuples(r) == 1 ? String(cString: PQgetvalue(r, 0, 0)) : String(cString: PQresultErrorMessage(r))
        }
        let direct = PQconnectdb(env.directDSN() + " options='-c search_path=s1,public -c statement_timeout=1234'")
        defer { PQfinish(direct) }
        let expectedPath = value(direct, "SHOW search_path")
        // current_schemas lists the existing schemas of the path: it names public only if
        // the value was read as a list.
        let expectedSchemas = value(direct, "SELECT current_schemas(false)::text")
        #expect(expectedSchemas.contains("public"))
        var pids = Set<String>()
        for round in 0..<4 {
            // Every other round another client holds a server inside a transaction, so the
            // client's queries land on both servers.
            if round % 2 == 1 { _ = value(holder, "BEGIN; SELECT 1") }
            #expect(value(conn, "SHOW search_path") == expectedPath)
            #expect(value(conn, "SELECT current_schemas(false)::text") == expectedSchemas)
            #expect(value(conn, "SHOW statement_timeout") == "1234ms")
            pids.insert(value(conn, "SELECT pg_backend_pid()"))
            if round % 2 == 1 { _ = value(holder, "COMMIT") }
        }
        #expect(pids.count == 2)
        #expect(value(holder, "SHOW search_path") == "\"$user\", public")
    }
}
