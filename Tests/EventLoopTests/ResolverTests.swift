import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    /// Name resolution off the loop thread, answers delivered on it.
    @Suite struct Resolver {
        @Test func numericLiteralsAreParsedWithoutALookup() throws {
            let v4 = try #require(SocketAddress(numericHost: "10.1.2.3", port: 5432))
            #expect(v4.family == AF_INET)
            #expect(v4.description == "10.1.2.3:5432")
            let v6 = try #require(SocketAddress(numericHost: "::1", port: 6432))
            #expect(v6.family == AF_INET6)
            #expect(v6.description == "[::1]:6432")
            #expect(SocketAddress(numericHost: "[fe80::1]", port: 1)?.host == "fe80::1")
            #expect(SocketAddress(numericHost: "localhost", port: 1) == nil)
            #expect(SocketAddress(numericHost: "10.1.2", port: 1) == nil)
            #expect(SocketAddress(numericHost: "", port: 1) == nil)
        }

        @Test func aLiteralIsAnsweredAtOnceWithoutAThread() throws {
            let loop = try EventLoop()
            let resolver = AsyncResolver(loop: loop)
            #expect(resolver.immediateAddresses(host: "127.0.0.1", port: 80) == [SocketAddress(numericHost: "127.0.0.1", port: 80)!])
            var got: [SocketAddress] = []
            var calledInside = false
            var inside = true
            resolver.resolve(host: "::1", port: 5432) { result in
                calledInside = inside
                got = (try? result.get()) ?? []
                loop.stop()
            }
            inside = false
            runLoop(loop, timeout: 5)
            #expect(!calledInside, "the completion never runs inside resolve()")
            #expect(got.map(\.description) == ["[::1]:5432"])
            #expect(resolver.lookupsStarted == 0)
        }

        @Test func aNameIsResolvedOffTheLoopAndDeliveredOnItThenCached() throws {
            let loop = try EventLoop()
            let resolver = AsyncResolver(loop: loop)
            let loopThread = pthread_self()
            var answers: [Result<[SocketAddress], ResolveError>] = []
            var onLoopThread: [Bool] = []
            #expect(resolver.immediateAddresses(host: "localhost", port: 5432) == nil)
            for _ in 0..<2 {
                resolver.resolve(host: "localhost", port: 5432) { result in
                    answers.append(result)
                    onLoopThread.append(pthread_equal(pthread_self(), loopThread) != 0)
                    if answers.count == 2 { loop.stop() }
                }
            }
            #expect(resolver.lookupsRunning == 1, "two requests for one name share a lookup")
            runLoop(loop, timeout: 30)
            #expect(onLoopThread == [true, true])
            let addresses = try answers.map { try $0.get() }
            #expect(addresses.count == 2 && addresses[0] == addresses[1])
            #expect(addresses[0].contains { $0.host == "127.0.0.1" || $0.host == "::1" })
            #expect(addresses[0].allSatisfy { $0.port == 5432 })
            #expect(resolver.lookupsStarted == 1)
            #expect(resolver.lookupsRunning == 0)

            #expect(resolver.immediateAddresses(host: "localhost", port: 5432) == addresses[0])
            var cached: [SocketAddress] = []
            resolver.resolve(host: "localhost", port: 5432) { result in
                cached = (try? result.get()) ?? []
                loop.stop()
            }
            runLoop(loop, timeout: 5)
            #expect(cached == addresses[0])
            #expect(resolver.lookupsStarted == 1, "answered from the cache")
        }

        @Test func anExpiredAnswerIsLookedUpAgain() throws {
            let loop = try EventLoop()
            let resolver = AsyncResolver(loop: loop, cacheTTL: 0.05)
            var answers = 0
            resolver.resolve(host: "localhost", port: 1) { _ in answers += 1; loop.stop() }
            runLoop(loop, timeout: 30)
            loop.schedule(after: 0.1) { loop.stop() }
            runLoop(loop, timeout: 5)
            #expect(resolver.immediateAddresses(host: "localhost", port: 1) == nil)
            resolver.resolve(host: "localhost", port: 1) { _ in answers += 1; loop.stop() }
            runLoop(loop, timeout: 30)
            #expect(answers == 2)
            #expect(resolver.lookupsStarted == 2)
        }

        @Test func anUnknownNameDeliversAnError() throws {
            let loop = try EventLoop()
            let resolver = AsyncResolver(loop: loop)
            var answer: Result<[SocketAddress], ResolveError>?
            resolver.resolve(host: "no-such-host.invalid", port: 5432) { result in
                answer = result
                loop.stop()
            }
            runLoop(loop, timeout: 30)
            let error = #expect(throws: ResolveError.self) { try answer?.get() }
            #expect(error?.host == "no-such-host.invalid")
            #expect(resolver.immediateAddresses(host: "no-such-host.invalid", port: 5432) == nil, "failures are not cached")
        }

        @Test func lookupsBeyondTheLimitWaitForAFreeSlot() throws {
            let loop = try EventLoop()
            let resolver = AsyncResolver(loop: loop, maxConcurrentLookups: 1)
            var done = 0
            for port in 1...3 {
                resolver.resolve(host: "localhost", port: port) { _ in
                    done += 1
                    if done == 3 { loop.stop() }
                }
            }
            #expect(resolver.lookupsRunning == 1)
            runLoop(loop, timeout: 30)
            #expect(done == 3)
            #expect(resolver.lookupsStarted == 3)
        }

        @Test func connectToAResolvedAddress() throws {
            let loop = try EventLoop()
            var accepted: Int32 = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in accepted = fd }
            let delegate = Callbacks()
            delegate.onConnect = { c in c.close() }
            delegate.onClose = { _, _ in loop.stop() }
            let address = try #require(SocketAddress(numericHost: "127.0.0.1", port: listener.port))
            let c = try Connection.connect(loop: loop, address: address)
            c.delegate = delegate
            runLoop(loop, timeout: 10)
            #expect(delegate.connects == 1)
            #expect(delegate.closeError == nil)
            let refused = try #require(SocketAddress(numericHost: "127.0.0.1", port: try closedPort()))
            let failing = try Connection.connect(loop: loop, address: refused)
            let failure = Callbacks()
            failure.onClose = { _, _ in loop.stop() }
            failing.delegate = failure
            runLoop(loop, timeout: 10)
            #expect(failure.closeError?.errno == ECONNREFUSED)
            if accepted >= 0 { Socket.close(accepted) }
            listener.close()
        }
    }
}
