import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct Signals {
        /// The signal is raised on the loop thread (thread-directed, so no other thread of the
        /// test process can take it), while the source has it blocked.
        @Test func signalsArriveAsCallbacksOnTheLoop() throws {
            // Worker threads of the test runner may already block these; start from unblocked
            // so that the test can see the source block and then unblock them.
            var both = sigset_t(), previous = sigset_t()
            sigemptyset(&both)
            sigaddset(&both, SIGUSR1)
            sigaddset(&both, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &both, &previous)
            defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

            let loop = try EventLoop()
            var received: [Int32] = []
            let source = try SignalSource(loop: loop, signals: [SIGUSR1, SIGUSR2]) { signo in
                received.append(signo)
                if received.count == 2 { loop.stop() }
            }
            var blockedWhileActive = sigset_t()
            pthread_sigmask(SIG_BLOCK, nil, &blockedWhileActive)
            #expect(sigismember(&blockedWhileActive, SIGUSR1) == 1)
            loop.schedule(after: 0.01) {
                raise(SIGUSR2)
                raise(SIGUSR1)
            }
            runLoop(loop, timeout: 10)
            source.cancel()
            #expect(received.sorted() == [SIGUSR1, SIGUSR2].sorted())
            #expect(loop.registrationCount == 0)

            var mask = sigset_t()
            pthread_sigmask(SIG_BLOCK, nil, &mask)
            #expect(sigismember(&mask, SIGUSR1) == 0, "cancel() unblocks the signals it blocked")
            #expect(sigismember(&mask, SIGUSR2) == 0)
        }
    }
}
