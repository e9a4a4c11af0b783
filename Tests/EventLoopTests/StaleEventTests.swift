import CLinux
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct StaleEvents {
        /// Two readable eventfds come back in one epoll_wait batch. Whichever handler runs first
        /// unregisters the other, puts a new, idle descriptor on the other's fd number (dup2, so
        /// the number is the same on purpose) and registers a fresh handler for it. The batch
        /// still holds the old registration's event for that number: it must be dropped, not
        /// delivered to the new handler.
        @Test func reusedFdGetsNoEventOfTheOldRegistration() throws {
            let loop = try EventLoop()
            let fds = [eventfd(1, 0), eventfd(1, 0)]     // counter 1: readable at once
            try #require(fds.allSatisfy { $0 >= 0 })
            var registrations: [Registration] = []
            var newcomer: Probe?
            var newcomerRegistration: Registration?
            var reusedFd: Int32 = -1

            func makeProbe(_ index: Int) -> Probe {
                Probe { _ in
                    let mine = registrations[index], other = registrations[1 - index]
                    loop.unregister(mine)
                    loop.unregister(other)
                    let fresh = eventfd(0, 0)           // counter 0: never readable
                    precondition(fresh >= 0)
                    reusedFd = dup2(fresh, other.fd)
                    Glibc.close(fresh)
                    let probe = Probe()
                    newcomer = probe
                    newcomerRegistration = try! loop.register(fd: other.fd, interest: .readable, handler: probe)
                    loop.schedule(after: 0.05) { loop.stop() }
                }
            }
            let probes = [makeProbe(0), makeProbe(1)]
            for i in 0..<2 {
                registrations.append(try loop.register(fd: fds[i], interest: .readable, handler: probes[i]))
            }
            runLoop(loop, timeout: 10)

            #expect(probes[0].events + probes[1].events == 1)
            #expect(reusedFd == fds[0] || reusedFd == fds[1])
            #expect(newcomerRegistration?.fd == reusedFd)
            #expect(newcomerRegistration?.id != registrations[0].id && newcomerRegistration?.id != registrations[1].id)
            #expect(newcomer?.events == 0, "the new handler received the old registration's event")
            #expect(loop.staleEventsDropped == 1)
            if let newcomerRegistration { loop.unregister(newcomerRegistration) }
            for fd in fds { Glibc.close(fd) }
            #expect(loop.registrationCount == 0)
        }

        @Test func unregisterInsideTheBatchDropsTheRestOfItsEvents() throws {
            let loop = try EventLoop()
            let fds = [eventfd(1, 0), eventfd(1, 0), eventfd(1, 0)]
            var registrations: [Registration] = []
            var probes: [Probe] = []
            for i in 0..<3 {
                probes.append(Probe { _ in
                    for r in registrations { loop.unregister(r) }
                    loop.schedule(after: 0.02) { loop.stop() }
                })
                registrations.append(try loop.register(fd: fds[i], interest: .readable, handler: probes[i]))
            }
            runLoop(loop, timeout: 10)
            #expect(probes.map(\.events).reduce(0, +) == 1)
            #expect(loop.staleEventsDropped == 2)
            #expect(loop.registrationCount == 0)
            for fd in fds { Glibc.close(fd) }
        }

        @Test func setInterestAndUnregisterIgnoreAnOldRegistration() throws {
            let loop = try EventLoop()
            let fd = eventfd(1, 0)
            let first = try loop.register(fd: fd, interest: .readable, handler: Probe())
            loop.unregister(first)
            let probe = Probe { _ in loop.stop() }
            let second = try loop.register(fd: fd, interest: .readable, handler: probe)
            loop.setInterest(first, .none)
            loop.unregister(first)
            #expect(loop.interest(of: first) == nil)
            #expect(loop.interest(of: second) == .readable)
            runLoop(loop, timeout: 10)
            #expect(probe.events == 1)
            loop.unregister(second)
            Glibc.close(fd)
        }
    }
}
