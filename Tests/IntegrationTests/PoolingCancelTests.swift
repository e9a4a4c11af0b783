import Foundation
import Testing

extension PoolingTests {
    /// Cancel requests reach the server running that client's query, never another
    /// client's (libpq's PQcancel, through psycopg's `conn.cancel()`).
    @Suite struct CancelRouting {
        @Test("cancelling one of two sleeping clients stops that one only",
              arguments: [("transaction", "a"), ("transaction", "b"), ("session", "b")])
        func cancelReachesItsOwnServer(mode: String, target: String) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "cancel")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=\(mode)", "pool.max_upstream=4"])
            defer { proxy.stop() }
            let sleep = 3.0
            let r = try runPython("cancel_two.py", [scriptDSN(proxy, db), target, "\(sleep)"], timeout: 40)
            let summary = try lastJSON(r)
            let other = target == "a" ? "b" : "a"
            let cancelled = summary[target] as? [String: Any] ?? [:]
            let spared = summary[other] as? [String: Any] ?? [:]

            #expect(cancelled["sqlstate"] as? String == "57014", "the cancelled client got \(cancelled)\n\(logTail(proxy))")
            #expect((cancelled["seconds"] as? Double ?? 99) < sleep - 0.5, "the cancel did not stop the query early: \(cancelled)")
            #expect(spared["outcome"] as? String == "completed", "the other client was hit: \(spared)")
            #expect(spared["value"] as? String == other)
            #expect((spared["seconds"] as? Double ?? 0) >= sleep - 0.1, "the other client's sleep ended early: \(spared)")
            let after = summary["after"] as? [String: Any] ?? [:]
            for n in ["a", "b", "c"] {
                #expect(after[n] as? Int == 42, "client \(n) is unusable after the cancel: \(after[n] ?? "nil")")
            }
        }
    }
}
