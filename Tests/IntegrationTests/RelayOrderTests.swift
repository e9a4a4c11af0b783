import Foundation
import PostgresWire
import Testing

extension PoolingTests {
    /// The server's relay sends the rows of a read from the read itself, and streams a row too
    /// big to buffer (over 256 KiB) in pieces as it arrives: what comes before such a row must
    /// reach the client before it, and what follows after it, byte for byte.
    @Suite struct RelayOrder {
        @Test("a row streamed through between small ones arrives whole and in its place",
              arguments: ["simple", "extended"])
        func streamedRowKeepsItsPlace(protocolMode: String) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "relayorder")
            defer { db.drop() }
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=1"])
            defer { proxy.stop() }
            let c = try WireClient.connected(proxy, db)
            let sql = "SELECT g, CASE WHEN g = 2 THEN repeat('y', 400000) ELSE 'small' || g END AS v FROM generate_series(1, 3) g"
            for _ in 0..<2 {
                let messages = protocolMode == "simple" ? c.query(sql) : c.extendedQuery(sql)
                #expect(messages.kinds == (protocolMode == "simple" ? "TDDDCZ" : "12TDDDCZ"))
                let rows = messages.rows
                #expect(rows.count == 3)
                if rows.count == 3 {
                    #expect(rows[0] == ["1", "small1"])
                    #expect(rows[1][0] == "2" && rows[1][1] == String(repeating: "y", count: 400_000))
                    #expect(rows[2] == ["3", "small3"])
                }
            }
        }
    }
}
