import EventLoop
import RedisStore
import Testing

extension RedisStoreTests {
    /// Commands and scripts against `make test`'s Redis.
    @Suite struct RoundTrip {
        @Test func commandsRoundTripBinarySafe() throws {
            let loop = try EventLoop()
            let store = RedisStore(settings: testSettings(port: try TestRedisEnvironment.port()), loop: loop)
            let key = uniquePrefix() + "k"
            let value: [UInt8] = Array("héllo".utf8) + [0, 255, 13, 10]
            var got: RedisValue?, missing: RedisValue?, error: RedisError?, ready = 0
            store.onReady = { _ in
                ready += 1
                store.command(bytes: [Array("SET".utf8), Array(key.utf8), value]) { _ in }
                store.command(["GET", key]) { got = try? $0.get() }
                store.command(["GET", key + "-absent"]) { missing = try? $0.get() }
                store.command(["HGET", key, "f"]) { error = $0.failure; loop.stop() }
            }
            store.start()
            runLoop(loop)
            store.stop()
            #expect(ready == 1)
            #expect(got == .string(value))
            #expect(missing == .null)
            guard case .reply(let message)? = error else { Issue.record("expected an error reply, got \(String(describing: error))"); return }
            #expect(message.hasPrefix("WRONGTYPE"))
            #expect(store.breaker.state == .closed(failures: 0))
        }

        @Test func commandsBeforeReadyFailAtOnceWithoutHanging() throws {
            let loop = try EventLoop()
            let store = RedisStore(settings: testSettings(port: try TestRedisEnvironment.port()), loop: loop)
            var early: RedisError?
            store.start()
            store.command(["PING"]) { early = $0.failure; loop.stop() }
            runLoop(loop)
            store.stop()
            #expect(early == .notConnected)
        }

        @Test func selectsTheDatabase() throws {
            let loop = try EventLoop()
            let port = try TestRedisEnvironment.port()
            var s3 = testSettings(port: port)
            s3.database = 3
            let db3 = RedisStore(settings: s3, loop: loop)
            let db0 = RedisStore(settings: testSettings(port: port), loop: loop)
            let key = uniquePrefix() + "db"
            var in3: RedisValue?, in0: RedisValue?
            db3.onReady = { _ in
                db3.command(["SET", key, "x"]) { _ in
                    db3.command(["GET", key]) { r in
                        in3 = try? r.get()
                        db0.onReady = { _ in db0.command(["GET", key]) { in0 = try? $0.get(); loop.stop() } }
                        db0.start()
                    }
                }
            }
            db3.start()
            runLoop(loop)
            db3.stop()
            db0.stop()
            #expect(in3 == .string(Array("x".utf8)))
            #expect(in0 == .null)
        }

        @Test func connectionRefusedRetriesAndNeverReady() throws {
            let loop = try EventLoop()
            let redis = try OwnRedis()
            defer { redis.stop() }  // the store's closures keep `redis` alive past the test
            let port = redis.port
            redis.stop()
            let store = RedisStore(settings: testSettings(port: port), loop: loop)
            var ready = false
            store.onReady = { _ in ready = true }
            store.start()
            func poll() {
                if store.stats.connectFailures >= 3 { loop.stop() } else { loop.schedule(after: 0.01, poll) }
            }
            poll()
            runLoop(loop)
            var refused: RedisError?
            store.command(["PING"]) { refused = $0.failure; loop.stop() }
            runLoop(loop)
            store.stop()
            #expect(!ready)
            #expect(refused == .notConnected)
            #expect(store.stats.connectFailures >= 3)
        }
    }
}
