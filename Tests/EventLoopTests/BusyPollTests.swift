import EventLoop
import Foundation
import Glibc
import Testing

/// Busy polling before the loop sleeps: the adaptive window (BusyPoll), and a loop that polls
/// still delivers every event and timer and stops when asked.
extension EventLoopTests {
    @Suite struct BusyPolling {
        @Test func windowGrowsOnShortSleepsAndShrinksOnLongOnes() {
            var p = BusyPoll(limitNanoseconds: 100_000)
            #expect(p.window == 0 && p.start == 25_000)
            p.slept(nanoseconds: 40_000)                 // the event came 40 µs after sleeping
            #expect(p.window == 25_000)
            p.slept(nanoseconds: 90_000)
            #expect(p.window == 50_000)
            p.slept(nanoseconds: 1)
            #expect(p.window == 100_000)
            p.slept(nanoseconds: 100_000)
            #expect(p.window == 100_000)                 // never past the limit
            p.slept(nanoseconds: 5_000_000)              // a long gap: polling would have wasted it
            #expect(p.window == 50_000)
            p.slept(nanoseconds: 5_000_000)
            #expect(p.window == 25_000)
            p.slept(nanoseconds: 5_000_000)
            #expect(p.window == 0)                       // below the start: off again
            p.slept(nanoseconds: 5_000_000)
            #expect(p.window == 0)
        }

        @Test func offStaysOff() {
            var p = BusyPoll(limitNanoseconds: 0)
            for d: UInt64 in [1, 1_000, 10_000_000] { p.slept(nanoseconds: d) }
            #expect(p.window == 0)
        }

        @Test func smallLimitStartsAtTheLimit() {
            var p = BusyPoll(limitNanoseconds: 5_000)
            p.slept(nanoseconds: 1_000)
            #expect(p.window == 5_000)
        }

        /// A client writes, waits for the echo, and writes again after a short pause (shorter
        /// than the limit), so the loop's window opens and polls find the next message.
        @Test func pollingLoopEchoesEveryMessageAndFiresTimers() throws {
            let loop = try EventLoop()
            loop.setBusyPoll(limitNanoseconds: 1_000_000)
            let delegate = Callbacks()
            delegate.onRead = { c in
                c.send(c.inbound)
                c.inbound.clear()
            }
            var server: Connection?
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                let c = try! Connection(loop: loop, fd: fd)
                c.delegate = delegate
                server = c
            }
            let rounds = 200
            let client = PingClient(port: listener.port, rounds: rounds, pauseMicroseconds: 50)
            var timerFired = 0
            func tick() { _ = loop.schedule(after: 0.002) { timerFired += 1; tick() } }
            tick()
            _ = loop.schedule(after: 0.001) { [loop] in
                func check() {
                    if client.finished { loop.stop() } else { _ = loop.schedule(after: 0.01, check) }
                }
                check()
            }
            #expect(runLoop(loop, timeout: 20))
            #expect(client.echoed == rounds, "every message came back")
            #expect(timerFired > 0, "timers fire while the loop polls")
            #expect(loop.busyPollStats.hits > 0, "polls found the next message: \(loop.busyPollStats)")
            _ = server
        }
    }
}

/// A blocking client on its own thread: `rounds` times, writes 8 bytes, reads them back, and
/// pauses.
final class PingClient: @unchecked Sendable {
    private let lock = NSLock()
    private var _echoed = 0, _finished = false
    var echoed: Int { lock.withLock { _echoed } }
    var finished: Bool { lock.withLock { _finished } }

    init(port: Int, rounds: Int, pauseMicroseconds: UInt32) {
        let thread = Thread { [self] in
            defer { lock.withLock { _finished = true } }
            guard let fd = try? Socket.connectTCP(host: "127.0.0.1", port: port).fd else { return }
            defer { close(fd) }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            var message: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
            var answer = [UInt8](repeating: 0, count: 8)
            for i in 0..<rounds {
                message[0] = UInt8(truncatingIfNeeded: i)
                guard write(fd, message, 8) == 8 else { return }
                var got = 0
                while got < 8 {
                    let n = answer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, 8 - got) }
                    if n <= 0 { return }
                    got += n
                }
                guard answer == message else { return }
                lock.withLock { _echoed += 1 }
                usleep(pauseMicroseconds)
            }
        }
        thread.start()
    }
}
