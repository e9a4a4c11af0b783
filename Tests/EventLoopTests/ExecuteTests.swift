import EventLoop
import Foundation
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct CrossThread {
        @Test func executeFromAnotherThreadWakesTheSleepingLoop() throws {
            let loop = try EventLoop()
            let handle = loop.handle
            let ranOnLoopThread = LoopConfined<Bool?>(nil)
            let loopThread = pthread_self()
            // Nothing else is scheduled but the 10 s watchdog: only the eventfd can wake the loop.
            Thread.detachNewThread {
                usleep(50_000)
                handle.execute {
                    ranOnLoopThread.value = pthread_equal(pthread_self(), loopThread) != 0
                    handle.stop()
                }
            }
            let start = Date()
            runLoop(loop, timeout: 10)
            #expect(ranOnLoopThread.value == true)
            #expect(Date().timeIntervalSince(start) < 5)
        }

        @Test func manyThreadsExecuteAndEveryClosureRunsOnce() throws {
            let loop = try EventLoop()
            let handle = loop.handle
            let count = LoopConfined(0)
            let threads = 4, perThread = 1_000
            for _ in 0..<threads {
                Thread.detachNewThread {
                    for _ in 0..<perThread {
                        handle.execute {
                            count.value += 1
                            if count.value == threads * perThread { handle.stop() }
                        }
                    }
                }
            }
            runLoop(loop, timeout: 20)
            #expect(count.value == threads * perThread)
        }

        @Test func stopFromAnotherThread() throws {
            let loop = try EventLoop()
            let handle = loop.handle
            Thread.detachNewThread {
                usleep(20_000)
                handle.stop()
            }
            #expect(runLoop(loop, timeout: 10))
        }

        @Test func deferredWorkRunsBeforeTheLoopSleeps() throws {
            let loop = try EventLoop()
            var order: [String] = []
            loop.runBeforeNextWait {
                order.append("first")
                loop.runBeforeNextWait { order.append("nested") }
            }
            loop.schedule(after: 0.01) {
                order.append("timer")
                loop.runBeforeNextWait {
                    order.append("after timer")
                    loop.stop()
                }
            }
            runLoop(loop, timeout: 10)
            #expect(order == ["first", "nested", "timer", "after timer"])
        }
    }
}
