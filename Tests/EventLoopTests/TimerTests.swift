@testable import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct Timers {
        @Test func timersFireInDeadlineOrder() throws {
            let loop = try EventLoop()
            var fired: [Int] = []
            for tag in 10..<15 { loop.schedule(after: 0) { fired.append(tag) } }
            for (delay, tag) in [(0.09, 3), (0.03, 1), (0.15, 5), (0.06, 2), (0.12, 4)] {
                loop.schedule(after: delay) { fired.append(tag) }
            }
            let start = loop.now
            loop.schedule(after: 0.18) { loop.stop() }
            runLoop(loop, timeout: 10)
            #expect(fired == [10, 11, 12, 13, 14, 1, 2, 3, 4, 5])
            #expect(loop.now - start >= 0.18)
            #expect(loop.timerCount == 0)
        }

        @Test func cancelledTimersDoNotFire() throws {
            let loop = try EventLoop()
            var fired: [String] = []
            let a = loop.schedule(after: 0.01) { fired.append("a") }
            loop.schedule(after: 0.02) { fired.append("b") }
            loop.cancel(a)
            // c and d expire in the same pass; c, running first, cancels d.
            var d: TimerID?
            loop.schedule(after: 0.03) {
                fired.append("c")
                if let d { loop.cancel(d) }
            }
            d = loop.schedule(after: 0.031) { fired.append("d") }
            loop.runBeforeNextWait { usleep(50_000) }
            loop.schedule(after: 0.06) { loop.stop() }
            runLoop(loop, timeout: 10)
            #expect(fired == ["b", "c"])
            loop.cancel(a)      // cancelling again, or after firing, is harmless
            loop.cancel(d!)
            #expect(loop.timerCount == 0)
        }

        @Test func timersScheduledFromTimersRunOnALaterIteration() throws {
            let loop = try EventLoop()
            var log: [String] = []
            var depth = 0
            func chain() {
                depth += 1
                log.append("timer \(depth)")
                loop.runBeforeNextWait { log.append("iteration") }
                if depth < 3 {
                    loop.schedule(after: 0) { chain() }
                } else {
                    loop.schedule(after: 0.01) { loop.stop() }
                }
            }
            loop.schedule(after: 0.001) { chain() }
            runLoop(loop, timeout: 10)
            #expect(log == ["timer 1", "iteration", "timer 2", "iteration", "timer 3", "iteration"])
        }

        @Test func tenThousandTimersWithHalfCancelled() throws {
            let loop = try EventLoop()
            var generator = SystemRandomNumberGenerator()
            var ids: [TimerID] = []
            var fired: [Int] = []
            // Each true deadline lies between the clock read just before and just after scheduling.
            var bounds: [(lower: UInt64, upper: UInt64)] = []
            var early = 0
            for i in 0..<10_000 {
                let delay = Double.random(in: 0...0.05, using: &generator)
                let delayNs = UInt64(delay * 1e9)
                let lower = Clock.nanoseconds() + delayNs
                ids.append(loop.schedule(after: delay) {
                    if Clock.nanoseconds() < lower { early += 1 }
                    fired.append(i)
                })
                bounds.append((lower, Clock.nanoseconds() + delayNs))
            }
            for i in stride(from: 1, to: 10_000, by: 2) { loop.cancel(ids[i]) }
            #expect(loop.timerCount == 5_000)
            loop.schedule(after: 0.1) { loop.stop() }
            runLoop(loop, timeout: 20)
            #expect(fired.count == 5_000)
            #expect(fired.allSatisfy { $0 % 2 == 0 })
            #expect(early == 0)
            // a fired before b is only wrong if a's deadline was certainly later than b's.
            #expect(zip(fired, fired.dropFirst()).allSatisfy { a, b in bounds[a].lower <= bounds[b].upper })
        }

        @Test func heapPopsInOrderAfterRandomRemovals() {
            var heap = TimerHeap()
            var generator = SystemRandomNumberGenerator()
            var live: [UInt64: UInt64] = [:]
            for id in UInt64(1)...20_000 {
                let deadline = UInt64.random(in: 0..<1_000, using: &generator)
                heap.insert(.init(deadline: deadline, id: id, body: {}))
                live[id] = deadline
            }
            for id in live.keys.shuffled().prefix(7_000) {
                let removed = heap.remove(id: id)
                #expect(removed)
                live[id] = nil
            }
            let removedUnknown = heap.remove(id: 999_999)
            #expect(!removedUnknown)
            #expect(heap.count == live.count)
            var previous: (UInt64, UInt64) = (0, 0)
            var popped = 0
            while let entry = heap.popFirst() {
                #expect(live[entry.id] == entry.deadline)
                #expect((entry.deadline, entry.id) > previous)
                previous = (entry.deadline, entry.id)
                popped += 1
            }
            #expect(popped == live.count)
        }
    }
}
