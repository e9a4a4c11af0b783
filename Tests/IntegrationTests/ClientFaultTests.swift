import Foundation
import Glibc
import PostgresWire
import Testing

/// Bad input ends only the offending client's connection, with an ErrorResponse where the
/// protocol allows one; healthy clients running at the same moment see no error.
@Suite(.serialized) struct ClientFaultTests {
    func expectErrorThenClose(_ c: WireClient, state: Set<String>, _ what: String) {
        var gotError: ErrorFields?
        while let m = c.receive() {
            if case .errorResponse(let f) = m { gotError = f; break }
        }
        #expect(gotError != nil, "\(what): no ErrorResponse")
        if let f = gotError { #expect(state.contains(f.sqlState ?? ""), "\(what): got \(f.sqlState ?? "-") \(f.message ?? "")") }
        #expect(c.waitForClose(), "\(what): connection not closed")
    }

    @Test func hostileClientsDoNotDisturbHealthyOnes() throws {
        let env = try TestEnvironment.require()
        _ = try psql(env.directDSN(), "DROP DATABASE IF EXISTS faults")
        _ = try psql(env.directDSN(), "CREATE DATABASE faults")
        let proxyFaults = try PgStashProcess(env, overrides: ["listen.startup_timeout=1", "pool.max_upstream=10"],
                                             upstream: "postgresql://postgres:\(env.pgPassword)@127.0.0.1:\(env.pgPort)/faults")
        let initR = try runCommand(["pgbench", "-i", "-s", "1", "-q", env.directDSN(db: "faults")], timeout: 120)
        #expect(initR.status == 0, "\(initR.stderr)")

        // 50 healthy clients for 6 s while the hostile ones come and go.
        let healthy = childProcess(["pgbench", "-n", "-S", "-c", "50", "-j", "2", "-T", "6", proxyFaults.dsn(db: "faults")])
        let out = Pipe()
        healthy.standardOutput = out
        healthy.standardError = out
        try healthy.run()
        usleep(500_000)

        // Garbage before startup (an HTTP request).
        let g = try WireClient(port: proxyFaults.port)
        g.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        expectErrorThenClose(g, state: ["08P01"], "garbage")

        // A startup packet announcing 2 GB.
        let big = try WireClient(port: proxyFaults.port)
        big.send([0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0])
        expectErrorThenClose(big, state: ["08P01"], "2 GB startup")

        // A logged-in client announcing a 2 GB message.
        let big2 = try WireClient(port: proxyFaults.port)
        guard case .ready = big2.login(user: "postgres", password: env.pgPassword, database: "faults") else {
            Issue.record("login failed"); return
        }
        big2.send([UInt8(ascii: "Q"), 0x7f, 0xff, 0xff, 0xff] + Array("SELECT".utf8))
        expectErrorThenClose(big2, state: ["54000", "08P01"], "2 GB message")

        // An unknown message type after login.
        let odd = try WireClient(port: proxyFaults.port)
        guard case .ready = odd.login(user: "postgres", password: env.pgPassword, database: "faults") else {
            Issue.record("login failed"); return
        }
        odd.send([UInt8(ascii: "z"), 0, 0, 0, 4])
        expectErrorThenClose(odd, state: ["08P01"], "unknown message type")

        // A truncated length word below 4.
        let short = try WireClient(port: proxyFaults.port)
        guard case .ready = short.login(user: "postgres", password: env.pgPassword, database: "faults") else {
            Issue.record("login failed"); return
        }
        short.send([UInt8(ascii: "Q"), 0, 0, 0, 2])
        expectErrorThenClose(short, state: ["08P01"], "length below 4")

        // A client that stalls during startup is dropped after listen.startup_timeout.
        let stall = try WireClient(port: proxyFaults.port)
        let t0 = Date()
        stall.send([0, 0, 0, 40])    // half a length word's promise, then silence
        expectErrorThenClose(stall, state: ["08006"], "stalled startup")
        #expect(Date().timeIntervalSince(t0) < 5)

        healthy.waitUntilExit()
        let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(healthy.terminationStatus == 0, "\(report)")
        #expect(report.contains("number of failed transactions: 0 (0.000%)"), "\(report)")
        #expect(!report.contains("aborted"), "\(report)")
        #expect(proxyFaults.isRunning)
        // And the proxy still serves.
        let after = try psql(proxyFaults.dsn(db: "faults"), "SELECT 40 + 2")
        #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "42")
    }

    @Test func loginErrorsCarryRealSQLStates() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["listen.max_clients=2"])

        let wrong = try WireClient(port: proxy.port)
        guard case .error(let f) = wrong.login(user: "postgres", password: "not-it", database: "postgres") else {
            Issue.record("wrong password was accepted"); return
        }
        #expect(f.sqlState == "28P01")
        #expect(f["H"]?.contains("auth") == true)

        let unknownUser = try WireClient(port: proxy.port)
        guard case .error(let f2) = unknownUser.login(user: "nobody", password: "x", database: "postgres") else {
            Issue.record("unknown user was accepted"); return
        }
        #expect(f2.sqlState == "28P01")

        let nodb = try WireClient(port: proxy.port)
        guard case .error(let f3) = nodb.login(user: "postgres", password: env.pgPassword, database: "nodb") else {
            Issue.record("unknown database was accepted"); return
        }
        #expect(f3.sqlState == "3D000")
        #expect(f3.message?.contains("nodb") == true)
        #expect(f3["H"]?.contains("postgres") == true)

        // max_clients = 2: a third concurrent client is refused with 53300.
        let a = try WireClient(port: proxy.port), b = try WireClient(port: proxy.port)
        guard case .ready = a.login(user: "postgres", password: env.pgPassword, database: "postgres"),
              case .ready = b.login(user: "postgres", password: env.pgPassword, database: "postgres") else {
            Issue.record("two clients could not log in"); return
        }
        let c = try WireClient(port: proxy.port)
        guard case .error(let f4) = c.login(user: "postgres", password: env.pgPassword, database: "postgres") else {
            Issue.record("third client was accepted"); return
        }
        #expect(f4.sqlState == "53300")
        #expect(f4["H"]?.contains("max_clients") == true)
    }

    @Test func unreachableUpstreamIsConnectionFailure() throws {
        let env = try TestEnvironment.require()
        let dead = freePort()
        let proxy = try PgStashProcess(env, upstream: "postgresql://postgres:\(env.pgPassword)@127.0.0.1:\(dead)/postgres")
        let c = try WireClient(port: proxy.port)
        guard case .error(let f) = c.login(user: "postgres", password: env.pgPassword, database: "postgres") else {
            Issue.record("login to a dead upstream succeeded"); return
        }
        #expect(f.sqlState?.hasPrefix("08") == true, "\(f.sqlState ?? "") \(f.message ?? "")")
        #expect(f.message?.contains("\(dead)") == true)
        #expect(proxy.isRunning)
    }

    /// An upstream backend that dies under pgstash: the client holding it gets an error and
    /// is disconnected; idle pooled servers that die are replaced; nothing else is disturbed.
    @Test func upstreamBackendsDying() throws {
        let env = try TestEnvironment.require()
        _ = try psql(env.directDSN(), "DROP DATABASE IF EXISTS deadup WITH (FORCE)")
        _ = try psql(env.directDSN(), "CREATE DATABASE deadup")
        let upstream = "postgresql://postgres:\(env.pgPassword)@127.0.0.1:\(env.pgPort)/deadup"

        // Session mode: the client's own server is terminated.
        let session = try PgStashProcess(env, overrides: ["pool.mode=session"], upstream: upstream)
        let a = try WireClient(port: session.port)
        guard case .ready = a.login(user: "postgres", password: env.pgPassword, database: "deadup") else {
            Issue.record("login failed"); return
        }
        guard let pid = a.query("SELECT pg_backend_pid()").rows.first?.first ?? nil else {
            Issue.record("no backend pid"); return
        }
        _ = try psql(env.directDSN(), "SELECT pg_terminate_backend(\(pid))")
        var states: [String] = []
        while let m = a.receive() { if case .errorResponse(let f) = m { states.append(f.sqlState ?? "") } }
        #expect(!states.isEmpty && states.allSatisfy { $0 == "57P01" || $0.hasPrefix("08") }, "\(states)")
        #expect(session.isRunning)
        let b = try WireClient(port: session.port)
        guard case .ready = b.login(user: "postgres", password: env.pgPassword, database: "deadup") else {
            Issue.record("login after a dead backend failed"); return
        }
        #expect(b.query("SELECT 1").rows == [["1"]])

        // Transaction mode: every idle pooled server is terminated between transactions.
        let pooled = try PgStashProcess(env, overrides: ["pool.mode=transaction", "pool.max_upstream=2"], upstream: upstream)
        let c = try WireClient(port: pooled.port)
        guard case .ready = c.login(user: "postgres", password: env.pgPassword, database: "deadup") else {
            Issue.record("login failed"); return
        }
        #expect(c.query("SELECT 1").rows == [["1"]])
        _ = try psql(env.directDSN(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'deadup' AND pid <> pg_backend_pid()")
        usleep(300_000)
        #expect(c.query("SELECT 2").rows == [["2"]])
        #expect(pooled.isRunning)
        _ = try psql(env.directDSN(), "DROP DATABASE IF EXISTS deadup WITH (FORCE)")
    }
}
