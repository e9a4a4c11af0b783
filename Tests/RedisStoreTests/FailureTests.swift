import EventLoop
import RedisStore
import Testing

extension RedisStoreTests {
    /// Redis dies, stalls or restarts: completions fail (never hang), the store reconnects,
    /// sees the new run id, and the breaker opens and closes.
    @Suite struct Failures {
        @Test func killedAndRestartedRedis() throws {
            let redis = try OwnRedis()
            defer { redis.stop() }  // the store's closures keep `redis` alive past the test
            let prefix = uniquePrefix()
            let loop = try EventLoop()
            let store = RedisStore(settings: testSettings(port: redis.port, prefixes: [prefix]), loop: loop)
            var infos: [RedisStore.ReadyInfo] = []
            var lost: [String] = []
            var inFlight: RedisError?, whileDown: RedisError?, afterRestart: RedisValue?
            store.onConnectionLost = { reason in
                lost.append(reason)
                store.command(["PING"]) { r in
                    whileDown = r.failure
                    do { try redis.start() } catch { Issue.record("restart: \(error)"); loop.stop() }
                }
            }
            store.onReady = { info in
                infos.append(info)
                if infos.count == 1 {
                    // A command outstanding when Redis dies: queued, and Redis is gone before
                    // the loop writes it.
                    store.command(["PING"]) { inFlight = $0.failure }
                    redis.stop()
                } else {
                    store.command(["PING"]) { afterRestart = try? $0.get(); loop.stop() }
                }
            }
            store.start()
            runLoop(loop)
            store.stop()
            #expect(infos.count == 2)
            #expect(lost.count == 1)
            if case .connectionLost? = inFlight {} else { Issue.record("in-flight command got \(String(describing: inFlight))") }
            #expect(whileDown == .notConnected)
            #expect(afterRestart == .status("PONG"))
            #expect(infos.last?.runIDChanged == true)
            #expect(infos.last?.previousRunID == infos.first?.runID)
            #expect(infos.last?.epochBumped == [prefix])
        }

        @Test func commandTimeoutFires() throws {
            let redis = try OwnRedis()
            defer { redis.stop() }  // the store's closures keep `redis` alive past the test
            let loop = try EventLoop()
            var settings = testSettings(port: redis.port)
            settings.commandTimeout = 0.1
            settings.breakerThreshold = 10
            let store = RedisStore(settings: settings, loop: loop)
            var stalled: RedisError?, resumed: RedisValue?
            store.onReady = { _ in
                redis.pause()
                store.command(["PING"]) { r in
                    stalled = r.failure
                    redis.resume()
                    store.command(["PING"]) { resumed = try? $0.get(); loop.stop() }
                }
            }
            store.start()
            runLoop(loop)
            store.stop()
            #expect(stalled == .timeout)
            #expect(resumed == .status("PONG"))
            #expect(store.stats.timeouts == 1)
            #expect(store.breaker.state == .closed(failures: 0))
        }

        @Test func breakerOpensFailsFastAndCloses() throws {
            let redis = try OwnRedis()
            defer { redis.stop() }  // the store's closures keep `redis` alive past the test
            let loop = try EventLoop()
            var settings = testSettings(port: redis.port)
            settings.commandTimeout = 0.1
            settings.connectTimeout = 0.3
            settings.breakerThreshold = 2
            settings.breakerCooldown = 0.2
            let store = RedisStore(settings: settings, loop: loop)
            var failures: [RedisError?] = []
            var readyCount = 0
            var recovered: RedisValue?
            store.onReady = { _ in
                readyCount += 1
                if readyCount == 1 {
                    redis.pause()
                    store.command(["PING"]) { failures.append($0.failure) }
                    store.command(["PING"]) { r in
                        failures.append(r.failure)
                        // Open now: refused without touching Redis.
                        store.command(["PING"]) { r in
                            failures.append(r.failure)
                            redis.resume()
                        }
                    }
                } else {
                    // Reconnected; retry until the cool-down has passed and the probe succeeds.
                    func probe() {
                        store.command(["PING"]) { r in
                            if case .success(let v) = r { recovered = v; loop.stop() } else { loop.schedule(after: 0.05, probe) }
                        }
                    }
                    probe()
                }
            }
            store.start()
            runLoop(loop)
            store.stop()
            #expect(failures == [.timeout, .timeout, .breakerOpen])
            #expect(recovered == .status("PONG"))
            #expect(store.breaker.openings >= 1)
            #expect(store.breaker.state == .closed(failures: 0))
            #expect(store.stats.refusedByBreaker >= 1)
        }

        @Test func passwordIsSentOnConnect() throws {
            let redis = try OwnRedis(extraArguments: ["--requirepass", "s3cret"])
            defer { redis.stop() }  // the store's closures keep `redis` alive past the test
            let loop = try EventLoop()
            var good = testSettings(port: redis.port)
            good.password = "s3cret"
            var bad = testSettings(port: redis.port)
            bad.password = "wrong"
            let withPassword = RedisStore(settings: good, loop: loop)
            let wrongPassword = RedisStore(settings: bad, loop: loop)
            var pong: RedisValue?
            withPassword.onReady = { _ in withPassword.command(["PING"]) { pong = try? $0.get(); loop.stop() } }
            var wrongReady = false
            wrongPassword.onReady = { _ in wrongReady = true }
            wrongPassword.start()
            withPassword.start()
            runLoop(loop)
            func poll() { if wrongPassword.stats.connectFailures >= 2 { loop.stop() } else { loop.schedule(after: 0.01, poll) } }
            poll()
            runLoop(loop)
            withPassword.stop()
            wrongPassword.stop()
            #expect(pong == .status("PONG"))
            #expect(!wrongReady)
        }
    }
}
