import Foundation
import PostgresWire
import Testing

extension PoolingTests {
    /// A client that cannot get a server within pool.acquire_timeout gets SQLSTATE 53300
    /// naming the saturated pool — never a silent hang; waiting clients are served in turn.
    @Suite struct AcquireTimeout {
        @Test("max_upstream = 1, acquire_timeout = 1: a second client gets 53300 after about a second")
        func saturatedPool() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "acquire")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1", "pool.acquire_timeout=1"])
            defer { proxy.stop() }
            let holder = try WireClient.connected(proxy, db)
            let waiter = try WireClient.connected(proxy, db)
            try #require(holder.query("BEGIN; SELECT 1").errors.isEmpty)

            let start = Date()
            let r = waiter.query("SELECT 1")
            let waited = Date().timeIntervalSince(start)
            let e = r.errors.first
            #expect(e?.sqlState == "53300", "got \(r.errorSummary.isEmpty ? "no error" : r.errorSummary) after \(waited) s")
            #expect(e?.message?.contains("saturated") == true, "message: \(e?.message ?? "none")")
            #expect(e?.message?.contains(db.name) == true, "the message must name the pool (\(db.name)/postgres): \(e?.message ?? "none")")
            #expect(waited >= 0.9 && waited < 2.5, "the error came after \(waited) s (acquire_timeout = 1)")
            #expect(r.rows.isEmpty)

            // The holder is unaffected; once it commits, the pool serves others again.
            #expect(holder.query("SELECT 2; COMMIT").rows == [["2"]])
            let next = try WireClient.connected(proxy, db)
            #expect(next.query("SELECT 3").rows == [["3"]], "the pool is unusable after a timeout\n\(logTail(proxy))")
        }

        @Test("a client waiting less than acquire_timeout is served when the server frees up")
        func waiterServedInTime() throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "acquire_wait")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1", "pool.acquire_timeout=5"])
            defer { proxy.stop() }
            let holder = try WireClient.connected(proxy, db)
            let waiter = try WireClient.connected(proxy, db)
            try #require(holder.query("BEGIN; SELECT 1").errors.isEmpty)

            waiter.send(FrontendMessage.query("SELECT 'served'").encoded)
            usleep(700_000)
            #expect(holder.query("COMMIT").errors.isEmpty)
            var got: [BackendMessage] = []
            while let m = waiter.receive() {
                got.append(m)
                if case .readyForQuery = m { break }
            }
            #expect(got.errors.isEmpty, "\(got.errorSummary)")
            #expect(got.rows == [["served"]])
        }
    }
}
