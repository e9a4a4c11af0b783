import Foundation
import Glibc
import PostgresWire
import Testing

/// LISTEN/NOTIFY relayed under transaction pooling: a client's committed LISTEN registers it
/// with the pool's listener connection, which LISTENs upstream and hands each notification to
/// every registered client, between its transactions. Each scenario runs first against
/// PostgreSQL directly (the expected behaviour), then through pgstash.
extension PoolingTests {
    @Suite struct ListenNotifyTests {
        /// Where a raw-protocol client connects.
        enum Target: CustomStringConvertible {
            case direct
            case proxy(PgStashProcess)

            var description: String {
                switch self {
                case .direct: "PostgreSQL directly"
                case .proxy: "through pgstash"
                }
            }

            func client(_ db: TestDatabase) throws -> WireClient {
                switch self {
                case .direct:
                    let c = try WireClient(port: db.env.pgPort)
                    guard case .ready = c.login(user: "postgres", password: db.env.pgPassword, database: db.name) else {
                        throw TestFailure("direct login failed")
                    }
                    return c
                case .proxy(let p): return try WireClient.connected(p, db)
                }
            }

            var log: String {
                if case .proxy(let p) = self { return "\npgstash log:\n" + logTail(p, lines: 15) }
                return ""
            }
        }

        static let proxyOverrides = ["pool.mode=transaction", "pool.max_upstream=2", "pool.acquire_timeout=5"]

        /// Runs `body` against PostgreSQL directly, then through a fresh pgstash.
        static func directThenProxy(_ prefix: String, _ overrides: [String] = proxyOverrides,
                                    _ body: (TestDatabase, Target) throws -> Void) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: prefix)
            defer { db.drop() }
            try body(db, .direct)
            let proxy = try startPgStash(env, db, overrides)
            defer { proxy.stop() }
            try body(db, .proxy(proxy))
        }

        // MARK: 1. psycopg under load

        @Test("psycopg: 50 listeners, 200 notifications on 5 channels, 100 busy clients, max_upstream 5: each listener gets its channels' notifications exactly once, in commit order")
        func psycopgUnderLoad() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "listen_load")
            defer { db.drop() }
            // The checker itself, against PostgreSQL directly (smaller: it is the reference).
            let direct = try lastJSON(try runPython("listen_load.py", [env.directDSN(db: db.name), "10", "40", "5", "10"], timeout: 55))
            #expect(direct["listener_problems"] as? Int == 0 && direct["errors"] as? Int == 0,
                    "PostgreSQL directly: \(direct)")
            #expect(direct["listeners_complete"] as? Int == 10, "PostgreSQL directly: \(direct)")

            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=5", "auth.type=trust",
                                                   "listen.startup_timeout=40", "pool.acquire_timeout=20"])
            defer { proxy.stop() }
            let watcher = try BackendWatcher(env, database: db.name)
            let r = try runPython("listen_load.py", [scriptDSN(proxy, db), "50", "200", "5", "100"], timeout: 60)
            let watched = watcher.stop()
            let s = try lastJSON(r)
            #expect(s["errors"] as? Int == 0, "client errors: \(s["first_errors"] ?? "")\n\(logTail(proxy))")
            #expect(s["sent"] as? Int == 200, "\(s)")
            #expect(s["listener_problems"] as? Int == 0, "listeners that did not get exactly their notifications in order: \(s["first_problems"] ?? "")\n\(logTail(proxy))")
            #expect(s["listeners_complete"] as? Int == 50, "\(s)")
            #expect((s["busy_transactions"] as? Int ?? 0) > 100, "the pool was not busy: \(s)")
            #expect((s["listener_transactions"] as? Int ?? 0) > 0, "no listener ran a transaction meanwhile: \(s)")
            // max_upstream servers plus the one listener connection.
            #expect(watched.max <= 6, "PostgreSQL saw \(watched.max) backends of pgstash (max_upstream 5 + 1 listener)")
        }

        // MARK: 2. asyncpg

        @Test("asyncpg add_listener / remove_listener in transaction mode")
        func asyncpgListener() throws {
            try Self.directThenProxy("listen_asyncpg") { db, target in
                let port = switch target { case .direct: db.env.pgPort; case .proxy(let p): p.port }
                let tag = if case .direct = target { "direct" } else { "proxy" }
                let (checks, r) = try DriverTests.runClient(["/usr/bin/python3", "\(clientsDirectory)/listen_asyncpg.py", "127.0.0.1",
                                                             "\(port)", db.env.pgPassword, db.name, tag], timeout: 60)
                #expect(checks.count >= 10, "\(target): only \(checks.count) checks ran\n\(r.stderr.suffix(1500))")
                for c in checks where !c.ok { Issue.record("\(target): \(c.name) — \(c.detail)\(target.log)") }
            }
        }

        // MARK: 3. LISTEN is transactional

        @Test("LISTEN in a rolled-back transaction registers nothing; in a committed one, only later notifications arrive; UNLISTEN rolled back keeps listening")
        func transactionalListen() throws {
            try Self.directThenProxy("listen_tx") { db, target in
                let a = try target.client(db), b = try target.client(db), bystander = try target.client(db)
                #expect(bystander.query("LISTEN tx_other").errors.isEmpty)

                #expect(a.query("BEGIN; LISTEN tx_rolled; ROLLBACK").errors.isEmpty)
                #expect(b.query("NOTIFY tx_rolled, 'nobody'").errors.isEmpty)
                #expect(a.notifications(within: 1).isEmpty, "\(target): a rolled-back LISTEN registered the client")

                #expect(a.query("BEGIN; LISTEN tx_ch; SELECT 1").errors.isEmpty)
                #expect(b.query("NOTIFY tx_ch, 'before commit'").errors.isEmpty)
                let atCommit = a.query("COMMIT").notifications
                #expect(b.query("NOTIFY tx_ch, 'after commit'").errors.isEmpty)
                let got = (atCommit + a.notifications(within: 3, until: 1)).map(\.payload)
                #expect(got == ["after commit"], "\(target): \(got)\(target.log)")

                // UNLISTEN that rolls back: still listening.
                #expect(a.query("BEGIN; UNLISTEN tx_ch; ROLLBACK").errors.isEmpty)
                #expect(b.query("NOTIFY tx_ch, 'still'").errors.isEmpty)
                #expect(a.notifications(within: 3, until: 1).map(\.payload) == ["still"], "\(target): a rolled-back UNLISTEN unregistered")

                // LISTEN twice: one delivery. A failed transaction registers nothing either.
                #expect(a.query("LISTEN tx_ch").errors.isEmpty)
                #expect(a.query("BEGIN; LISTEN tx_failed; SELECT 1/0").errors.count == 1)
                #expect(a.query("COMMIT").errors.isEmpty)
                #expect(b.query("NOTIFY tx_ch, 'once'; NOTIFY tx_failed, 'nobody'").errors.isEmpty)
                let once = a.notifications(within: 1.5)
                #expect(once.map(\.payload) == ["once"], "\(target): \(once)")

                // UNLISTEN commits: nothing more.
                #expect(a.query("UNLISTEN tx_ch").errors.isEmpty)
                #expect(b.query("NOTIFY tx_ch, 'gone'").errors.isEmpty)
                #expect(a.notifications(within: 1).isEmpty, "\(target): delivered after UNLISTEN")
                #expect(bystander.notifications(within: 0.2).isEmpty, "\(target): a client listening elsewhere got something")
            }
        }

        @Test("the client's own NOTIFY in the transaction of its LISTEN is delivered at COMMIT")
        func listenAndNotifyInOneTransaction() throws {
            try Self.directThenProxy("listen_same_tx") { db, target in
                let a = try target.client(db)
                let r = a.query("BEGIN; LISTEN same_tx; NOTIFY same_tx, 'mine'; COMMIT")
                #expect(r.errors.isEmpty)
                let got = (r.notifications + a.notifications(within: 3, until: 1)).map(\.payload)
                if case .direct = target {
                    #expect(got == ["mine"], "\(target): \(got)")
                } else {
                    // Known limit (docs/pooling.md): the relay registers a LISTEN when it
                    // commits, and the listener connection LISTENs upstream only then, so a
                    // NOTIFY committed by the same transaction is not seen by it.
                    withKnownIssue("a NOTIFY in the transaction of the client's first LISTEN is missed by the relay") {
                        #expect(got == ["mine"], "\(target): \(got)\(target.log)")
                    }
                }
            }
        }

        @Test("a notification committed right after the pool's first LISTEN returned is delivered")
        func notifyRightAfterFirstListen() throws {
            try Self.directThenProxy("listen_first") { db, target in
                let a = try target.client(db), b = try target.client(db)
                #expect(a.query("LISTEN first_ch").errors.isEmpty)
                #expect(b.query("NOTIFY first_ch, 'right after'").errors.isEmpty)
                let got = a.notifications(within: 3, until: 1).map(\.payload)
                #expect(got == ["right after"], "\(target): \(got)\(target.log)")
            }
        }

        @Test("a notification names its sender by the process id the sender's BackendKeyData gave it, so a listener can tell its own")
        func notificationSenderProcessID() throws {
            try Self.directThenProxy("listen_pid") { db, target in
                let a = try target.client(db), b = try target.client(db)
                let aPID = try #require(a.keyProcessID), bPID = try #require(b.keyProcessID)
                #expect(a.query("LISTEN pid_ch").errors.isEmpty)
                usleep(300_000)
                // Under transaction pooling both may run on the same server, one after the other.
                #expect(b.query("NOTIFY pid_ch, 'from b'").errors.isEmpty)
                usleep(300_000)
                let answer = a.query("NOTIFY pid_ch, 'from a'")    // b's may come with it
                #expect(answer.errors.isEmpty)
                var senders: [String: Int32] = [:]
                for m in answer + a.messages(within: 3, done: { ($0 + answer).notifications.count >= 2 }) {
                    if case let .notificationResponse(pid, _, payload) = m { senders[payload] = pid }
                }
                #expect(senders == ["from b": bPID, "from a": aPID], "\(target): \(senders), a \(aPID), b \(bPID)\(target.log)")
            }
        }

        @Test("channel names keep PostgreSQL's case rules: LISTEN MiXed is mixed, LISTEN \"MiXed\" is MiXed")
        func channelNameCase() throws {
            try Self.directThenProxy("listen_case") { db, target in
                let a = try target.client(db), b = try target.client(db)
                #expect(a.query("LISTEN Folded_Name; LISTEN \"Quoted Name\"").errors.isEmpty)
                usleep(300_000)
                #expect(b.query("NOTIFY folded_name, 'f'; NOTIFY \"Quoted Name\", 'q'; NOTIFY \"Folded_Name\", 'no'").errors.isEmpty)
                let got = a.notifications(within: 3, until: 2)
                #expect(got.map { "\($0.channel)=\($0.payload)" } == ["folded_name=f", "Quoted Name=q"], "\(target): \(got)\(target.log)")
            }
        }

        // MARK: Held notifications

        @Test("notifications are held while the listener is in a transaction; more than max_pending_notifications end it with 54000")
        func heldAndPendingLimit() throws {
            let over = ["pool.max_pending_notifications=10"] + Self.proxyOverrides
            try Self.directThenProxy("listen_pending", over) { db, target in
                let a = try target.client(db), idle = try target.client(db), b = try target.client(db)
                #expect(a.query("LISTEN held_ch").errors.isEmpty)
                #expect(idle.query("LISTEN held_ch").errors.isEmpty)
                usleep(300_000)
                #expect(a.query("BEGIN; SELECT 1").errors.isEmpty)
                for k in 0..<5 { _ = b.query("NOTIFY held_ch, 'h\(k)'") }
                let inside = a.query("SELECT 2").notifications
                #expect(inside.isEmpty, "\(target): delivered inside the listener's transaction: \(inside)")
                let afterCommit = (a.query("COMMIT").notifications + a.notifications(within: 3, until: 5)).map(\.payload)
                #expect(afterCommit == (0..<5).map { "h\($0)" }, "\(target): \(afterCommit)\(target.log)")

                guard case .proxy = target else { return }
                // pgstash only: a listener that holds more than 10 is disconnected with 54000.
                #expect(a.query("BEGIN; SELECT 1").errors.isEmpty)
                for k in 0..<15 { _ = b.query("NOTIFY held_ch, 'p\(k)'") }
                var fatal: ErrorFields?
                _ = waitUntil(seconds: 5) {
                    guard let m = a.receiveWithin(0.2) else { return false }
                    if case .errorResponse(let f) = m { fatal = f; return true }
                    return false
                }
                #expect(fatal?.sqlState == "54000", "the overflowing listener got \(fatal.map { "\($0.sqlState ?? "") \($0.message ?? "")" } ?? "no error")\(target.log)")
                #expect(a.waitForClose(), "the overflowing listener was not disconnected")
                let idleGot = idle.notifications(within: 5, until: 20).map(\.payload)
                #expect(idleGot == (0..<5).map { "h\($0)" } + (0..<15).map { "p\($0)" }, "the idle listener: \(idleGot)")
            }
        }

        // MARK: 4. Listener connection lost

        @Test("the listener connection killed with pg_terminate_backend: a WARNING to listeners, then delivery resumes")
        func listenerReconnects() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "listen_kill")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1", "pool.acquire_timeout=5"])
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db), b = try WireClient.connected(proxy, db), sender = try WireClient.connected(proxy, db)
            #expect(a.query("LISTEN kill_ch").errors.isEmpty)
            #expect(b.query("BEGIN; LISTEN kill_ch; LISTEN kill_other; COMMIT").errors.isEmpty)
            usleep(300_000)
            #expect(sender.query("NOTIFY kill_ch, 'before'").errors.isEmpty)
            #expect(a.notifications(within: 3, until: 1).map(\.payload) == ["before"])
            #expect(b.notifications(within: 3, until: 1).map(\.payload) == ["before"])

            // The pool's one server is the pooled one; the listener is the other backend of
            // this database that is idle after a LISTEN of pgstash's (channels quoted).
            let pooled = try #require(sender.backendPID())
            let direct = try db.connect()
            let find = """
                SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'
                  AND pid <> pg_backend_pid() AND pid <> \(pooled) AND state = 'idle' AND query LIKE 'LISTEN "%'
                """
            let before = try direct.query(find).compactMap { $0.first ?? nil }
            let activity = try direct.query("SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()")
            try #require(before.count == 1, "expected one listener backend, found \(before): \(activity)")
            #expect(try direct.value("SELECT pg_terminate_backend(\(before[0]))") == "t")

            var after: [String] = []
            let back = waitUntil(seconds: 15) {
                after = ((try? direct.query(find)) ?? []).compactMap { $0.first ?? nil }.filter { $0 != before[0] }
                return after.count == 1
            }
            try #require(back, "no new listener backend within 15 s\n\(logTail(proxy))")
            usleep(200_000)
            #expect(sender.query("NOTIFY kill_ch, 'after'; NOTIFY kill_other, 'other'").errors.isEmpty)
            for (name, c, want) in [("a", a, ["after"]), ("b", b, ["after", "other"])] {
                let msgs = c.messages(within: 5) { $0.notifications.count >= want.count }
                let warning = msgs.compactMap { m -> ErrorFields? in if case .noticeResponse(let f) = m { return f }; return nil }.first
                #expect(warning?.severity == "WARNING" && warning?.message?.contains("missed") == true,
                        "client \(name): no WARNING about missed notifications: \(msgs)")
                #expect(msgs.notifications.map(\.payload) == want, "client \(name) after the reconnect: \(msgs.notifications)\n\(logTail(proxy))")
            }
            #expect(a.query("SELECT 1").rows == [["1"]], "the listener client is not usable after the reconnect")
        }

        @Test("a disconnected listener is unregistered: the listener connection UNLISTENs its channel")
        func disconnectUnregisters() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "listen_gone")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, Self.proxyOverrides)
            defer { proxy.stop() }
            var a: WireClient? = try WireClient.connected(proxy, db)
            let b = try WireClient.connected(proxy, db)
            #expect(b.query("LISTEN kept_ch").errors.isEmpty)
            usleep(300_000)
            #expect(a!.query("LISTEN gone_ch").errors.isEmpty)
            let direct = try db.connect()
            let listenerQuery = "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%LISTEN \"gone_ch\"%'"
            #expect(waitUntil(seconds: 5) { ((try? direct.query(listenerQuery)) ?? []).contains { $0.first??.hasPrefix("LISTEN") == true } })
            a = nil
            let unlistened = waitUntil(seconds: 5) {
                ((try? direct.query(listenerQuery)) ?? []).contains { $0.first??.hasPrefix("UNLISTEN") == true }
            }
            #expect(unlistened, "the listener connection still LISTENs on the channel of a client that left: \((try? direct.query(listenerQuery)) ?? [])\n\(logTail(proxy))")
            #expect(b.query("NOTIFY gone_ch, 'x'; NOTIFY kept_ch, 'y'").errors.isEmpty)
            #expect(b.notifications(within: 3, until: 1).map(\.payload) == ["y"])
        }
    }
}

extension WireClient {
    /// One message, waiting at most `seconds`; nil when none came.
    func receiveWithin(_ seconds: Double) -> BackendMessage? {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var back = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &back, socklen_t(MemoryLayout<timeval>.size))
        }
        return receive()
    }

    /// Messages that arrive unasked within `seconds`, or until `done` says enough.
    func messages(within seconds: Double, done: ([BackendMessage]) -> Bool = { _ in false }) -> [BackendMessage] {
        var got: [BackendMessage] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, !done(got) {
            if let m = receiveWithin(0.1) { got.append(m) }
        }
        return got
    }

    /// Notifications that arrive within `seconds` (stops early once `until` have come).
    func notifications(within seconds: Double, until: Int = .max) -> [(channel: String, payload: String)] {
        messages(within: seconds) { $0.notifications.count >= until }.notifications
    }
}
