import ProxyConfig
import ProxyCore
import Testing

private let S0 = ServerID(0), S1 = ServerID(1)
private let C1 = ClientID(1), C2 = ClientID(2)

/// Traces of the admin console's PAUSE and RESUME on one pool.
@Suite("Pool pause")
struct PoolPauseTests {
    @Test func pauseClosesIdleServersAndIsCompleteAtOnce() {
        var p = PoolTests.pool(max: 2)
        PoolTests.leased(&p, S0, to: C1)
        #expect(p.serverReleased(S0, reusable: true, now: 1) == [])
        #expect(p.pauseRequested(now: 2) == [.close(S0)])
        #expect(p.serverClosed(S0, now: 2) == [])
        #expect(p.isPauseComplete)
    }

    @Test func pauseWaitsForTheLeasedServerThenClosesIt() {
        var p = PoolTests.pool(max: 2)
        PoolTests.leased(&p, S0, to: C1)
        #expect(p.pauseRequested(now: 1) == [])
        #expect(!p.isPauseComplete)
        #expect(p.serverReleased(S0, reusable: true, now: 2) == [.close(S0)])
        #expect(p.serverClosed(S0, now: 2) == [])
        #expect(p.isPauseComplete)
    }

    @Test func newClientsQueueWithoutTimeoutUntilResume() {
        var p = PoolTests.pool(max: 2, acquireTimeout: 5)
        _ = p.pauseRequested(now: 0)
        #expect(p.acquireRequested(by: C1, now: 1) == [])
        #expect(p.acquireRequested(by: C2, now: 1) == [])
        #expect(p.tick(now: 100) == [])
        #expect(p.waitingCount == 2)
        #expect(p.resumeRequested(now: 100) == [.connect(S0), .connect(S1)])
        #expect(p.serverConnected(S0, now: 101) == [.assign(S0, to: C1)])
        // The wait restarted at the resume: 104 is within acquire_timeout of 100.
        #expect(p.tick(now: 104) == [])
        #expect(p.tick(now: 105) == [.fail(C2, .acquireTimeout(waited: 5))])
    }

    @Test func aServerConnectingWhenPausedClosesOnceConnected() {
        var p = PoolTests.pool(max: 2)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        #expect(p.pauseRequested(now: 0) == [])
        #expect(p.serverConnected(S0, now: 1) == [.close(S0)])
        #expect(p.serverClosed(S0, now: 1) == [])
        #expect(p.isPauseComplete)
        #expect(p.isWaiting(C1))
    }

    @Test func connectFailureWhilePausedKeepsTheWaiters() {
        var p = PoolTests.pool(max: 1)
        #expect(p.acquireRequested(by: C1, now: 0) == [.connect(S0)])
        _ = p.pauseRequested(now: 0)
        #expect(p.serverConnectFailed(S0, error: "down", now: 1) == [])
        #expect(p.isWaiting(C1))
    }

    @Test func resumeOfAPoolThatIsNotPausedDoesNothing() {
        var p = PoolTests.pool(max: 1)
        #expect(p.resumeRequested(now: 0) == [])
        #expect(!p.isPaused)
    }
}
