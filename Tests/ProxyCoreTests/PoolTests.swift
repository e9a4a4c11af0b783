import ProxyConfig
import ProxyCore
import Testing

private let S0 = ServerID(0), S1 = ServerID(1), S2 = ServerID(2), S3 = ServerID(3)
private let C0 = ClientID(0), C1 = ClientID(1), C2 = ClientID(2), C3 = ClientID(3)

/// Traces of one pool: events in (with the time), actions out.
@Suite("Pool")
struct PoolTests {
    static func pool(max: Int = 2, minIdle: Int = 0, acquireTimeout: Double = 5, idleTimeout: Double = 10,
                     lifetime: Double = 0, retry: Double = 1) -> Pool {
        var c = PoolConfig()
        c.maxUpstream = max
        c.minIdle = minIdle
        c.acquireTimeout = acquireTimeout
        c.idleTimeout = idleTimeout
        c.serverLifetime = lifetime
        c.connectRetryInterval = retry
        return Pool(config: c)
    }

    /// A pool with `s` leased to `c` (connected at `now`).
    static func leased(_ p: inout Pool, _ s: ServerID, to c: ClientID, now: Double = 0) {
        #expect(p.acquireRequested(by: c, now: now) == [.connect(s)])
        #expect(p.serverConnected(s, now: now) == [.assign(s, to: c)])
    }

    // MARK: Cap and order

    @Test(arguments: [1, 3, 20])
    func capIsNeverExceeded(max: Int) {
        var p = Self.pool(max: max)
        var actions: [PoolAction] = []
        for c in 0..<100 { actions += p.acquireRequested(by: ClientID(c), now: 0) }
        #expect(actions == (0..<max).map { .connect(ServerID($0)) })
        #expect(p.serverCount == max)
        #expect(p.waitingCount == 100)
        #expect(p.tick(now: 1) == [])
    }

    @Test func waitersAreServedFirstComeFirstServed() {
        var p = Self.pool(max: 1)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.acquireRequested(by: C2, now: 0.1) == [])
        #expect(p.acquireRequested(by: C3, now: 0.2) == [])
        #expect(p.serverConnected(S0, now: 0.3) == [.assign(S0, to: C1)])
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [.assign(S0, to: C2)])
        #expect(p.serverReleased(S0, reusable: true, now: 2) == [.assign(S0, to: C3)])
        #expect(p.serverReleased(S0, reusable: true, now: 3) == [])
        #expect(p.state(of: S0) == .idle(since: 3))
    }

    /// The driver's per-transaction calls (`acquireIdle`, `release`) say what
    /// `acquireRequested` and `serverReleased` would, without an action array.
    @Test func fastPathsAgreeWithTheActionAPI() {
        var p = Self.pool(max: 1)
        #expect(p.acquireIdle(by: C1) == nil)                       // nothing idle: nothing changes
        #expect(p.waitingCount == 0 && p.serverCount == 0)
        Self.leased(&p, S0, to: C1)
        #expect(p.acquireIdle(by: C2) == nil)
        #expect(p.acquireRequested(by: C2, now: 1) == [])           // waits
        #expect(p.release(S0, reusable: true, now: 2) == .assigned(S0, to: C2))
        #expect(p.state(of: S0) == .active(C2))
        #expect(p.release(S0, reusable: true, now: 3) == .idled)
        #expect(p.state(of: S0) == .idle(since: 3))
        #expect(p.release(S0, reusable: true, now: 4) == .idled)     // a second release changes nothing
        #expect(p.state(of: S0) == .idle(since: 3))
        #expect(p.acquireIdle(by: C3) == S0)
        #expect(p.state(of: S0) == .active(C3))
        #expect(p.release(S0, reusable: false, now: 5) == .other([.close(S0)]))
        #expect(p.state(of: S0) == .closing)
    }

    @Test func acquireIdleWaitsWhilePaused() {
        var p = Self.pool(max: 1)
        Self.leased(&p, S0, to: C1)
        #expect(p.release(S0, reusable: true, now: 1) == .idled)
        #expect(p.pauseRequested(now: 1) == [.close(S0)])            // idle servers close at PAUSE
        #expect(p.acquireIdle(by: C2) == nil)
        #expect(p.waitingCount == 0)
    }

    @Test func firstConnectedServerGoesToTheFirstWaiter() {
        var p = Self.pool(max: 3)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.acquireRequested(by: C2, now: 0) == [.connect(S1)])
        #expect(p.acquireRequested(by: C3, now: 0) == [.connect(S2)])
        #expect(p.serverConnected(S2, now: 1) == [.assign(S2, to: C1)])
        #expect(p.serverConnected(S0, now: 1) == [.assign(S0, to: C2)])
        #expect(p.serverConnected(S1, now: 1) == [.assign(S1, to: C3)])
    }

    @Test func idleServerIsReusedLastInFirstOut() {
        var p = Self.pool(max: 2)
        Self.leased(&p, S0, to: C0)
        Self.leased(&p, S1, to: C1)
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.serverReleased(S1, reusable: true, now: 2) == [])
        #expect(p.acquireRequested(by: C2, now: 3) == [.assign(S1, to: C2)])   // warmest first
        #expect(p.acquireRequested(by: C3, now: 3) == [.assign(S0, to: C3)])
        #expect(p.idleCount == 0)
        #expect(p.activeCount == 2)
    }

    // MARK: Timeouts

    @Test func acquireTimeoutFailsTheWaiterOnTick() {
        var p = Self.pool(max: 1, acquireTimeout: 5)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 10) == [])
        #expect(p.acquireRequested(by: C2, now: 12) == [])
        #expect(p.tick(now: 14.9) == [])
        #expect(p.tick(now: 15) == [.fail(C1, .acquireTimeout(waited: 5))])
        #expect(p.isWaiting(C2))
        #expect(p.tick(now: 17.5) == [.fail(C2, .acquireTimeout(waited: 5.5))])
        #expect(p.waitingCount == 0)
        #expect(p.serverReleased(S0, reusable: true, now: 18) == [])   // nobody left to hand it to
    }

    @Test func connectCompletingAfterTheWaiterTimedOutLeavesAnIdleServer() {
        var p = Self.pool(max: 1, acquireTimeout: 5)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.tick(now: 5) == [.fail(C1, .acquireTimeout(waited: 5))])
        #expect(p.serverConnected(S0, now: 6) == [])
        #expect(p.state(of: S0) == .idle(since: 6))
        #expect(p.acquireRequested(by: C2, now: 7) == [.assign(S0, to: C2)])
    }

    @Test func idleServersAreReapedDownToMinIdle() {
        var p = Self.pool(max: 3, minIdle: 1, idleTimeout: 10)
        #expect(p.acquireRequested(by: C0, now: 0) == [.connect(S0)])
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S1)])
        #expect(p.acquireRequested(by: C2, now: 0) == [.connect(S2)])
        for (s, c) in [(S0, C0), (S1, C1), (S2, C2)] { #expect(p.serverConnected(s, now: 0) == [.assign(s, to: c)]) }
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.serverReleased(S1, reusable: true, now: 2) == [])
        #expect(p.serverReleased(S2, reusable: true, now: 3) == [])
        #expect(p.tick(now: 10.9) == [])
        #expect(p.tick(now: 12.5) == [.close(S0), .close(S1)])    // S2 stays: min_idle = 1
        #expect(p.idleCount == 1)
        #expect(p.serverClosed(S0, now: 12.6) == [])
        #expect(p.serverClosed(S1, now: 12.6) == [])
        #expect(p.tick(now: 100) == [])
        #expect(p.acquireRequested(by: C3, now: 101) == [.assign(S2, to: C3)])
    }

    @Test func minIdleIsFilledByTheJanitor() {
        var p = Self.pool(max: 5, minIdle: 2)
        #expect(p.tick(now: 0) == [.connect(S0), .connect(S1)])
        #expect(p.tick(now: 1) == [])                          // connects in flight count
        #expect(p.serverConnected(S0, now: 1) == [])
        #expect(p.serverConnected(S1, now: 1) == [])
        #expect(p.idleCount == 2)
        #expect(p.tick(now: 2) == [])
    }

    @Test func serverPastItsLifetimeIsClosedOnRelease() {
        var p = Self.pool(max: 1, lifetime: 100)
        Self.leased(&p, S0, to: C0, now: 0)
        #expect(p.serverReleased(S0, reusable: true, now: 99) == [])
        #expect(p.acquireRequested(by: C1, now: 99.5) == [.assign(S0, to: C1)])
        #expect(p.acquireRequested(by: C2, now: 99.5) == [])
        #expect(p.serverReleased(S0, reusable: true, now: 100) == [.close(S0)])
        #expect(p.state(of: S0) == .closing)
        #expect(p.serverClosed(S0, now: 100.1) == [.connect(S1)])     // the slot goes to C2
        #expect(p.serverConnected(S1, now: 100.2) == [.assign(S1, to: C2)])
    }

    @Test func nonReusableReleaseIsClosed() {
        var p = Self.pool(max: 2)
        Self.leased(&p, S0, to: C0)
        #expect(p.serverReleased(S0, reusable: false, now: 1) == [.close(S0)])
        #expect(p.idleCount == 0)
        #expect(p.acquireRequested(by: C1, now: 2) == [.connect(S1)])  // never handed out again
        #expect(p.serverClosed(S0, now: 2) == [])
        #expect(p.serverCount == 1)
    }

    @Test func nonReusableReleaseWithAWaiterAtTheCapReconnectsAfterClose() {
        var p = Self.pool(max: 1)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 1) == [])
        #expect(p.serverReleased(S0, reusable: false, now: 2) == [.close(S0)])
        #expect(p.serverClosed(S0, now: 2) == [.connect(S1)])
        #expect(p.serverConnected(S1, now: 3) == [.assign(S1, to: C1)])
    }

    // MARK: Connect failures

    @Test func connectFailureFailsAllWaitersWhenNothingElseIsLive() {
        var p = Self.pool(max: 1)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.acquireRequested(by: C2, now: 0) == [])
        #expect(p.serverConnectFailed(S0, error: "connection refused", now: 1) == [
            .fail(C1, .connectFailed(sqlState: "08006", message: "connection refused")),
            .fail(C2, .connectFailed(sqlState: "08006", message: "connection refused")),
        ])
        #expect(p.serverCount == 0)
        #expect(p.lastError == "connection refused")
    }

    @Test func connectFailureWaitsForAnotherConnectInFlight() {
        var p = Self.pool(max: 2)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.acquireRequested(by: C2, now: 0) == [.connect(S1)])
        #expect(p.serverConnectFailed(S0, sqlState: "28P01", error: "bad password", now: 1) == [])
        // The upstream answers again: C2's connect starts at once (not at the next tick).
        #expect(p.serverConnected(S1, now: 1) == [.assign(S1, to: C1), .connect(S2)])
        #expect(p.isWaiting(C2))
    }

    @Test func connectFailureKeepsWaitersWhenAServerIsActive() {
        var p = Self.pool(max: 2)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 1) == [.connect(S1)])
        #expect(p.serverConnectFailed(S1, error: "timeout", now: 1) == [])
        #expect(p.serverReleased(S0, reusable: true, now: 1.5) == [.assign(S0, to: C1)])
    }

    @Test func noConnectBeforeTheRetryIntervalElapses() {
        var p = Self.pool(max: 2, retry: 1)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 1) == [.connect(S1)])
        #expect(p.serverConnectFailed(S1, error: "refused", now: 1) == [])
        #expect(p.acquireRequested(by: C2, now: 1.5) == [])
        #expect(p.tick(now: 1.99) == [])
        #expect(p.tick(now: 2) == [.connect(S2)])        // one slot left under the cap
        #expect(p.serverConnected(S2, now: 2.1) == [.assign(S2, to: C1)])
        #expect(p.serverReleased(S0, reusable: true, now: 3) == [.assign(S0, to: C2)])
    }

    @Test func clientArrivingWhileUpstreamIsDownWaitsForTheRetry() {
        var p = Self.pool(max: 1, retry: 1)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.serverConnectFailed(S0, error: "refused", now: 0.5) == [.fail(C1, .connectFailed(sqlState: "08006", message: "refused"))])
        #expect(p.acquireRequested(by: C2, now: 0.6) == [])
        #expect(p.tick(now: 1.5) == [.connect(S1)])
        #expect(p.serverConnected(S1, now: 1.6) == [.assign(S1, to: C2)])
        #expect(p.lastError == nil)
    }

    @Test func aFailingUpstreamIsProbedByOneConnectAtATime() {
        var p = Self.pool(max: 3, retry: 1)
        #expect(p.acquireRequested(by: C0, now: 0) == [.connect(S0)])
        #expect(p.serverConnectFailed(S0, error: "refused", now: 0) == [.fail(C0, .connectFailed(sqlState: "08006", message: "refused"))])
        // Three clients come back at once: one probe, not three connects.
        for c in [C1, C2, C3] { #expect(p.acquireRequested(by: c, now: 0.1) == []) }
        #expect(p.tick(now: 1) == [.connect(S1)])
        #expect(p.tick(now: 1.1) == [])
        #expect(p.serverConnectFailed(S1, error: "refused", now: 1.2).count == 3)
        for c in [C1, C2, C3] { #expect(p.acquireRequested(by: c, now: 1.3) == []) }
        #expect(p.tick(now: 2.2) == [.connect(S2)])
        // The probe gets through: it serves the first waiter and the others' connects start.
        #expect(p.serverConnected(S2, now: 2.3) == [.assign(S2, to: C1), .connect(ServerID(3)), .connect(ServerID(4))])
    }

    // MARK: Clients and servers going away

    @Test func clientGaveUpLeavesTheQueue() {
        var p = Self.pool(max: 1)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 1) == [])
        #expect(p.acquireRequested(by: C2, now: 1) == [])
        p.clientGaveUp(C1)
        #expect(!p.isWaiting(C1))
        #expect(p.waitingCount == 1)
        #expect(p.serverReleased(S0, reusable: true, now: 2) == [.assign(S0, to: C2)])
        #expect(p.tick(now: 100) == [])                  // and C1 never times out either
    }

    @Test func serverClosedFreesASlotForAWaiter() {
        var p = Self.pool(max: 1)
        Self.leased(&p, S0, to: C0)
        #expect(p.acquireRequested(by: C1, now: 1) == [])
        #expect(p.serverClosed(S0, now: 2) == [.connect(S1)])
        #expect(p.state(of: S0) == nil)
        #expect(p.serverConnected(S1, now: 3) == [.assign(S1, to: C1)])
    }

    @Test func idleServerClosedByThePeerIsNotHandedOut() {
        var p = Self.pool(max: 2)
        Self.leased(&p, S0, to: C0)
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.serverClosed(S0, now: 2) == [])
        #expect(p.acquireRequested(by: C1, now: 3) == [.connect(S1)])
    }

    /// One server, one client: a release of a server that is not leased (a driver reporting
    /// twice) must not put it in the idle list twice.
    @Test func doubleReleaseDoesNotLeaseOneServerTwice() {
        var p = Self.pool(max: 2)
        Self.leased(&p, S0, to: C0)
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.idleCount == 1)
        #expect(p.acquireRequested(by: C1, now: 2) == [.assign(S0, to: C1)])
        #expect(p.acquireRequested(by: C2, now: 2) == [.connect(S1)])
    }

    @Test func eventsForUnknownServersAreIgnored() {
        var p = Self.pool()
        #expect(p.serverReleased(S3, reusable: true, now: 0) == [])
        #expect(p.serverConnected(S3, now: 0) == [])
        #expect(p.serverClosed(S3, now: 0) == [])
    }

    @Test func serverIDsFollowBaseAndStride() {
        var c = PoolConfig()
        c.maxUpstream = 3
        var p = Pool(config: c, idBase: 1, idStride: 4)
        var actions: [PoolAction] = []
        for i in 0..<3 { actions += p.acquireRequested(by: ClientID(i), now: 0) }
        #expect(actions == [.connect(ServerID(1)), .connect(ServerID(5)), .connect(ServerID(9))])
    }
}
