import Foundation
import Glibc
import PostgresWire
import Testing

/// SIGHUP reloads proxy.conf (an invalid file is rejected whole); SIGTERM stops accepting,
/// lets open transactions finish, then exits.
@Suite(.serialized) struct SignalTests {
    func writeConfig(_ env: TestEnvironment, dir: String, extra: String) throws -> String {
        try "\"app\" \"app-secret\"\n".write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
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
            \(extra)
            """
        let path = "\(dir)/proxy.conf"
        try conf.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func login(_ port: Int, db: String) throws -> (WireClient, WireClient.LoginResult) {
        let c = try WireClient(port: port)
        return (c, c.login(user: "app", password: "app-secret", database: db))
    }

    @Test func sighupReloadsAndRejectsInvalidFiles() throws {
        let env = try TestEnvironment.require()
        let dir = "\(env.tmp)/sighup-\(freePort())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = try writeConfig(env, dir: dir, extra: "")
        let proxy = try PgStashProcess(env, config: path)

        guard case .error(let before) = try login(proxy.port, db: "second").1 else {
            Issue.record("database 'second' exists before reload"); return
        }
        #expect(before.sqlState == "3D000")

        // An invalid file is rejected whole: the running configuration stays.
        try "[pool]\nmax_upstream = \"many\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        proxy.signal(SIGHUP)
        usleep(500_000)
        #expect(proxy.isRunning)
        guard case .ready = try login(proxy.port, db: "main").1 else { Issue.record("login failed after bad reload"); return }
        #expect(proxy.log.contains("reload rejected"))

        // A valid file with a new database takes effect.
        _ = try writeConfig(env, dir: dir, extra: """
            [databases.second]
            host = "127.0.0.1"
            port = \(env.pgPort)
            dbname = "postgres"
            user = "postgres"
            password = "\(env.pgPassword)"
            """)
        proxy.signal(SIGHUP)
        usleep(500_000)
        let (c, result) = try login(proxy.port, db: "second")
        guard case .ready = result else { Issue.record("new database not routable after reload: \(result)"); return }
        #expect(c.query("SELECT 7").rows == [["7"]])
    }

    @Test func sigtermDrainsOpenTransactions() throws {
        let env = try TestEnvironment.require()
        let dir = "\(env.tmp)/sigterm-\(freePort())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let proxy = try PgStashProcess(env, config: try writeConfig(env, dir: dir, extra: ""))
        let (busy, r1) = try login(proxy.port, db: "main")
        let (idle, r2) = try login(proxy.port, db: "main")
        guard case .ready = r1, case .ready = r2 else { Issue.record("login failed"); return }
        _ = busy.query("BEGIN")
        proxy.signal(SIGTERM)
        usleep(300_000)
        // No new clients; the idle one is told why it is disconnected.
        #expect(!canConnect(port: proxy.port))
        var idleError: ErrorFields?
        while let m = idle.receive() { if case .errorResponse(let f) = m { idleError = f; break } }
        #expect(idleError?.sqlState == "57P01")
        // The open transaction still completes, then the process exits.
        #expect(proxy.isRunning)
        #expect(busy.query("SELECT 1").rows == [["1"]])
        let commit = busy.query("COMMIT")
        #expect(commit.contains { if case .commandComplete("COMMIT") = $0 { return true }; return false })
        let deadline = Date().addingTimeInterval(5)
        while proxy.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!proxy.isRunning)
    }
}
