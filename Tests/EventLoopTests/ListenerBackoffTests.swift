import Buffers
@testable import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    /// Accept failures (out of descriptors) pause accepting instead of spinning on the
    /// level-triggered readiness of the listening socket.
    @Suite struct ListenerBackoff {
        @Test func pausesDoubleWhileFailuresGoOnAndStartOverAfterASuccess() {
            var b = AcceptBackoff(initialDelay: 0.1, maximumDelay: 1)
            #expect(b.acceptFailed() == 0.1)
            #expect(b.acceptFailed() == 0.2)
            #expect(b.acceptFailed() == 0.4)
            #expect(b.acceptFailed() == 0.8)
            #expect(b.acceptFailed() == 1)
            #expect(b.acceptFailed() == 1)
            #expect(b.consecutiveFailures == 6)
            for _ in 0..<100 { _ = b.acceptFailed() }
            #expect(b.acceptFailed() == 1, "no overflow after many failures")
            b.acceptSucceeded()
            #expect(b.consecutiveFailures == 0)
            #expect(b.acceptFailed() == 0.1)
        }

        /// accept fails with EMFILE three times while a client waits in the backlog. The listener
        /// calls accept once per pause (not thousands of times), reports each failure once with
        /// its pause, stops watching the socket meanwhile, and then accepts the client.
        @Test func emfileStopsWatchingTheSocketForAPauseThenAccepts() throws {
            let loop = try EventLoop()
            var accepted: [Int32] = []
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                accepted.append(fd)
                loop.stop()
            }
            listener.backoff = AcceptBackoff(initialDelay: 0.02, maximumDelay: 0.05)
            var calls = 0, failuresLeft = 3
            var interestWhilePaused: [Interest?] = []
            listener.acceptCall = { fd in
                calls += 1
                if failuresLeft > 0 {
                    failuresLeft -= 1
                    throw IOError(errno: EMFILE, operation: "accept")
                }
                return try Socket.accept(fd)
            }
            var reported: [(errno: Int32, pause: Double)] = []
            listener.onError = { error, pause in
                reported.append((error.errno, pause))
                loop.runBeforeNextWait { interestWhilePaused.append(loop.interest(of: listener.registration)) }
            }
            let (client, _) = try Socket.connectTCP(host: "127.0.0.1", port: listener.port)
            defer { Socket.close(client) }
            let started = loop.now
            runLoop(loop, timeout: 10)
            let elapsed = loop.now - started

            #expect(accepted.count == 1)
            #expect(calls == 5, "one accept per pause, the one that succeeds, one that finds the backlog empty")
            #expect(reported.map(\.errno) == [EMFILE, EMFILE, EMFILE])
            #expect(reported.map(\.pause) == [0.02, 0.04, 0.05])
            #expect(interestWhilePaused == Array(repeating: Optional(Interest.none), count: 3))
            #expect(elapsed >= 0.1, "the three pauses add up to 0.11 s")
            #expect(!listener.isPaused)
            #expect(listener.backoff.consecutiveFailures == 0)
            #expect(loop.interest(of: listener.registration) == .readable)
            for fd in accepted { Socket.close(fd) }
            listener.close()
            #expect(loop.registrationCount == 0)
            #expect(loop.timerCount == 0)
        }

        @Test func closingWhilePausedCancelsTheRetry() throws {
            let loop = try EventLoop()
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { Socket.close($0) }
            listener.acceptCall = { _ in throw IOError(errno: ENFILE, operation: "accept") }
            listener.onError = { _, _ in loop.stop() }
            let (client, _) = try Socket.connectTCP(host: "127.0.0.1", port: listener.port)
            defer { Socket.close(client) }
            runLoop(loop, timeout: 10)
            #expect(listener.isPaused)
            #expect(loop.timerCount == 1)
            listener.close()
            #expect(loop.timerCount == 0)
            #expect(!listener.isPaused)
            #expect(loop.registrationCount == 0)
        }
    }
}
