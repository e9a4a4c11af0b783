import Testing
@testable import Proxy

/// The idle auth_query connections: taken and put back per key, capped, expired.
@Suite struct IdleConnectionsTests {
    @Test func aConnectionPutBackIsTakenAgain() {
        let idle = IdleConnections<Int, String>(maxPerKey: 2, idleTimeout: 60)
        #expect(idle.take("db1", now: 0).connection == nil)
        #expect(idle.put(1, for: "db1", now: 0))
        #expect(idle.take("db2", now: 1).connection == nil)
        #expect(idle.take("db1", now: 1).connection == 1)
        #expect(idle.take("db1", now: 1).connection == nil)
    }

    @Test func atMostMaxPerKeyWait() {
        let idle = IdleConnections<Int, String>(maxPerKey: 2, idleTimeout: 60)
        #expect(idle.put(1, for: "db1", now: 0))
        #expect(idle.put(2, for: "db1", now: 0))
        #expect(!idle.put(3, for: "db1", now: 0))
        #expect(idle.put(4, for: "db2", now: 0))
        #expect(idle.count == 3)
    }

    @Test func connectionsIdleTooLongAreHandedBackForClosing() {
        let idle = IdleConnections<Int, String>(maxPerKey: 4, idleTimeout: 60)
        _ = idle.put(1, for: "db1", now: 0)
        _ = idle.put(2, for: "db2", now: 30)
        let (connection, expired) = idle.take("db1", now: 60)
        #expect(connection == nil)
        #expect(expired == [1])
        #expect(idle.take("db2", now: 60) == (2, []))
    }

    @Test func theJanitorTakesExpiredOnesOnly() {
        let idle = IdleConnections<Int, String>(maxPerKey: 4, idleTimeout: 60)
        _ = idle.put(1, for: "db1", now: 0)
        _ = idle.put(2, for: "db1", now: 10)
        #expect(idle.takeExpired(now: 59) == [])
        #expect(idle.takeExpired(now: 65) == [1])
        #expect(idle.count == 1)
    }
}
