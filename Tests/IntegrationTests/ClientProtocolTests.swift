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
}
