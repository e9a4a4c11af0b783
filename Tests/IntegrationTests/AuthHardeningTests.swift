import Foundation
import Glibc
import PostgresWire
import ProxyCore
import Testing

/// What an unauthenticated client can learn or cost (unknown user names, databases, pools),
/// and pools whose settings come from `[pool.users.NAME]` (repros unauth_scram_cpu.py and
/// pool_user_override.py).
@Suite(.serialized) struct AuthHardeningTests {
    /// A config dir with `proxy.conf` and `users.txt`; `upstreamUser` nil leaves
    /// `[databases.app] user` unset (pgstash logs in as the client's own user).
    static func writeConfig(_ env: TestEnvironment, upstreamUser: String?, users: [String: String],
                            extra: String = "") throws -> String {
        let dir = "\(env.tmp)/auth-\(freePort())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lines = users.sorted { $0.key < $1.key }.map { "\"\($0.key)\" \"\($0.value)\"\n" }.joined()
        try lines.write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
        let login = upstreamUser.map { "user = \"\($0)\"\npassword = \"\(env.pgPassword)\"" } ?? ""
        let conf = """
            [pool]
            mode = "transaction"
            max_upstream = 4
            # Temporary tables are refused in transaction mode here, so that creating one
            # tells a session-mode client from a transaction-mode one.
            pin_on_session_state = false
            [databases.app]
            host = "127.0.0.1"
            port = \(env.pgPort)
            dbname = "postgres"
            \(login)
            [auth]
            type = "scram-sha-256"
            auth_file = "users.txt"
            \(extra)
            """
        try conf.write(toFile: "\(dir)/proxy.conf", atomically: true, encoding: .utf8)
        return "\(dir)/proxy.conf"
    }

    /// Sends a StartupMessage for `user` and returns pgstash's first reply, then hangs up.
    static func firstReply(_ port: Int, user: String, database: String = "app") throws -> BackendMessage? {
        let c = try WireClient(port: port)
        var b = ByteBuffer()
        StartupPacket.startup(protocolVersion: StartupCode.protocol3,
                              parameters: [("user", user), ("database", database)]).encode(into: &b)
        c.send(Array(b.readableView))
        return c.receive()
    }

    /// The salt of the server-first message pgstash sends `user` (nil if the exchange went otherwise).
    static func scramSalt(_ port: Int, user: String) throws -> String? {
        let c = try WireClient(port: port)
        var login = ServerLogin(user: user, password: "guess", database: "app", clientNonce: "clientnonce")
        c.send(login.startupPacket)
        guard let sasl = c.receive(), case .send(let initial) = login.messageReceived(sasl) else { return nil }
        c.send(initial)
        guard case .authentication(.saslContinue(let first))? = c.receive() else { return nil }
        return ScramTestText.attribute("s", in: first)
    }

    /// CPU seconds (user + system) the process has used so far, from /proc/PID/stat.
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name (which is in parentheses and may hold spaces).
        guard let close = stat.lastIndex(of: ")") else { throw TestFailure("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            throw TestFailure("unreadable /proc/\(pid)/stat")
        }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    // MARK: Unknown users

    /// Known and unknown users see the same exchange: the same first message, a salt of the
    /// same form that stays the same for one name, and the same refusal.
    @Test func unknownUsersLookLikeKnownOnes() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, config: try Self.writeConfig(
            env, upstreamUser: "postgres", users: ["alice": "alice-secret"]))
        defer { proxy.stop() }

        let known = try Self.firstReply(proxy.port, user: "alice")
        #expect(known == .authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        #expect(try Self.firstReply(proxy.port, user: "nobody") == known)

        let aliceSalt = try #require(try Self.scramSalt(proxy.port, user: "alice"))
        let nobodySalt = try #require(try Self.scramSalt(proxy.port, user: "nobody"))
        #expect(try Self.scramSalt(proxy.port, user: "alice") == aliceSalt)
        #expect(try Self.scramSalt(proxy.port, user: "nobody") == nobodySalt)
        #expect(try Self.scramSalt(proxy.port, user: "somebody") != nobodySalt)
        #expect(nobodySalt.count == aliceSalt.count)

        func refusal(_ user: String, database: String = "app") throws -> ErrorFields? {
            guard case .error(let f) = try WireClient(port: proxy.port).login(user: user, password: "wrong", database: database) else {
                return nil
            }
            return f
        }
        let wrongPassword = try #require(try refusal("alice"))
        let unknownUser = try #require(try refusal("nobody"))
        #expect(wrongPassword.sqlState == "28P01")
        #expect(unknownUser.sqlState == "28P01")
        #expect(unknownUser.message == wrongPassword.message?.replacingOccurrences(of: "alice", with: "nobody"))
        #expect(unknownUser["H"] == wrongPassword["H"])
        // The database is checked after authentication: no oracle of database names either.
        #expect(try refusal("nobody", database: "no_such_db")?.sqlState == "28P01")
    }

    /// The fault: 4096 PBKDF2 rounds per StartupMessage of an unknown name, on the event
    /// loop. Measured as pgstash's own CPU time (not wall-clock latency, which a busy machine
    /// distorts): startups of unknown names must cost about what those of a known one do.
    @Test func unknownUserStartupsCostNoKeyDerivation() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, config: try Self.writeConfig(
            env, upstreamUser: "postgres", users: ["alice": "alice-secret"]))
        defer { proxy.stop() }
        let pid = proxy.process.processIdentifier
        let n = 300

        _ = try Self.firstReply(proxy.port, user: "alice")          // warm up
        var before = try Self.cpuSeconds(pid)
        for _ in 0..<n { _ = try Self.firstReply(proxy.port, user: "alice") }
        let knownCPU = try Self.cpuSeconds(pid) - before
        before = try Self.cpuSeconds(pid)
        for i in 0..<n { _ = try Self.firstReply(proxy.port, user: "nobody_\(i)") }
        let unknownCPU = try Self.cpuSeconds(pid) - before
        // 300 PBKDF2-4096 derivations take well over 0.3 s of CPU; 300 startups without take
        // a few hundredths. The slack absorbs the clock tick (10 ms) and noise.
        #expect(unknownCPU < 2 * knownCPU + 0.1,
                "unknown-user startups used \(unknownCPU) s of CPU, known-user ones \(knownCPU) s")
    }

    /// With `[databases.app] user` unset each client user has its own pool, so before the fix
    /// every distinct name a client made up left a pool behind. Pools are now created only
    /// after authentication succeeded; pgstash logs each creation.
    @Test func failedLoginsCreateNoPools() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, config: try Self.writeConfig(
            env, upstreamUser: nil, users: ["postgres": env.pgPassword]))
        defer { proxy.stop() }

        for i in 0..<40 {
            guard case .error(let f) = try WireClient(port: proxy.port).login(user: "ghost_\(i)", password: "x", database: "app") else {
                Issue.record("ghost_\(i) was let in"); return
            }
            #expect(f.sqlState == "28P01")
        }
        guard case .error = try WireClient(port: proxy.port).login(user: "postgres", password: "wrong", database: "app") else {
            Issue.record("a wrong password was accepted"); return
        }
        let c = try WireClient(port: proxy.port)
        guard case .ready = c.login(user: "postgres", password: env.pgPassword, database: "app") else {
            Issue.record("postgres could not log in\n\(logTail(proxy))"); return
        }
        #expect(c.query("SELECT 1").rows == [["1"]])
        let created = proxy.log.split(separator: "\n").filter { $0.contains(" created (mode ") }
        #expect(created.count == 1, "\(created)")
        #expect(created.first?.contains("pool app/postgres created") == true, "\(created)")
    }

    // MARK: Pools keyed by what decides their settings

    /// `[pool.users.reporting] mode = "session"` while every client logs in upstream as
    /// `postgres`: reporting gets session pooling, the others transaction pooling, whichever
    /// connected first, and still after a reload.
    @Test(arguments: [false, true])
    func perUserModeHoldsWhateverTheOrder(reportingFirst: Bool) throws {
        let env = try TestEnvironment.require()
        let path = try Self.writeConfig(
            env, upstreamUser: "postgres", users: ["app": "app-secret", "reporting": "reporting-secret"],
            extra: "[pool.users.reporting]\nmode = \"session\"\n")
        let proxy = try PgStashProcess(env, config: path)
        defer { proxy.stop() }

        /// Whether `user` may create a temporary table: only a session-mode client may.
        func mayCreateTempTable(_ user: String) throws -> Bool {
            let c = try WireClient(port: proxy.port)
            guard case .ready = c.login(user: user, password: "\(user)-secret", database: "app") else {
                throw TestFailure("\(user) could not log in\n\(logTail(proxy))")
            }
            return c.query("CREATE TEMP TABLE auth_mode_probe (x int)").errors.isEmpty
        }
        let order = reportingFirst ? ["reporting", "app"] : ["app", "reporting"]
        for user in order {
            #expect(try mayCreateTempTable(user) == (user == "reporting"), "\(user), order \(order)")
        }
        proxy.signal(SIGHUP)
        #expect(waitUntil(seconds: 5) { proxy.log.contains("configuration reloaded") })
        for user in order {
            #expect(try mayCreateTempTable(user) == (user == "reporting"), "\(user) after reload")
        }
    }
}

/// Reads one attribute of a SCRAM message (`s=…`), for the salt checks above.
enum ScramTestText {
    static func attribute(_ name: Character, in message: [UInt8]) -> String? {
        String(decoding: message, as: UTF8.self).split(separator: ",")
            .first { $0.first == name && $0.dropFirst().first == "=" }.map { String($0.dropFirst(2)) }
    }
}
