import EventLoop
import RedisStore
import Testing

extension RedisStoreTests {
    /// The cache scripts of cache.md §1.3 as `RedisStore` runs them.
    @Suite struct Scripts {
        /// Runs `body` once the store is ready, with a step function that chains callbacks.
        static func withStore(prefixes: [String] = [], _ body: @escaping (RedisStore, EventLoop) -> Void) throws -> RedisStore {
            let loop = try EventLoop()
            let store = RedisStore(settings: testSettings(port: try TestRedisEnvironment.port(), prefixes: prefixes), loop: loop)
            store.onReady = { _ in body(store, loop) }
            store.start()
            runLoop(loop)
            store.stop()
            return store
        }

        @Test func hitMissBumpAndStaleFill() throws {
            let keys = CacheKeys(prefix: uniquePrefix())
            let tags = ["1001|rows", "1001|c:status"]
            var trace: [String] = []
            _ = try Self.withStore { store, loop in
                func lookup(_ next: @escaping (LookupResult?) -> Void) {
                    store.lookup(keys, hash: "h1", tags: tags, token: "tok", leaseMs: 5000, versionTTLms: 60000) {
                        next(try? $0.get())
                    }
                }
                lookup { first in
                    guard case .miss(let captured, let lease)? = first else { trace.append("first: \(String(describing: first))"); loop.stop(); return }
                    trace.append("miss lease=\(lease)")
                    store.fill(keys, hash: "h1", tags: tags, capturedTags: captured, ttlMs: 60000, payload: [1, 2, 0, 3],
                               token: "tok", versionTTLms: 60000) { stored in
                        trace.append("fill \(String(describing: try? stored.get()))")
                        lookup { second in
                            trace.append(describe(second))
                            store.bump(keys, tags: ["1001|c:status"], epoch: false, versionTTLms: 60000) { _ in
                                lookup { third in
                                    guard case .miss(let captured2, let lease2)? = third else { trace.append("third: \(String(describing: third))"); loop.stop(); return }
                                    trace.append("miss after bump lease=\(lease2)")
                                    // A fill that captured its tags before the bump must not store.
                                    store.fill(keys, hash: "h1", tags: tags, capturedTags: captured, ttlMs: 60000, payload: [9],
                                               token: "other", versionTTLms: 60000) { stale in
                                        trace.append("stale fill \(String(describing: try? stale.get()))")
                                        store.bump(keys, tags: [], epoch: true, versionTTLms: 60000) { _ in
                                            store.fill(keys, hash: "h1", tags: tags, capturedTags: captured2, ttlMs: 60000, payload: [7],
                                                       token: "tok", versionTTLms: 60000) { afterEpoch in
                                                trace.append("fill after epoch bump \(String(describing: try? afterEpoch.get()))")
                                                loop.stop()
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(trace == [
                "miss lease=true", "fill Optional(true)", "hit [1, 2, 0, 3]",
                // The lease of the first miss was released by its fill, so this caller gets one.
                "miss after bump lease=true", "stale fill Optional(false)", "fill after epoch bump Optional(false)",
            ])
        }

        @Test func secondMissDoesNotGetTheLease() throws {
            let keys = CacheKeys(prefix: uniquePrefix())
            var leases: [Bool] = []
            _ = try Self.withStore { store, loop in
                for i in 0..<2 {
                    store.lookup(keys, hash: "h", tags: ["1|rows"], token: "t\(i)", leaseMs: 5000, versionTTLms: 60000) { r in
                        if case .miss(_, let lease)? = try? r.get() { leases.append(lease) }
                        if i == 1 { loop.stop() }
                    }
                }
            }
            #expect(leases == [true, false])
        }

        @Test func lapsedMemberMakesLookupsDegraded() throws {
            let keys = CacheKeys(prefix: uniquePrefix())
            var results: [LookupResult?] = []
            _ = try Self.withStore { store, loop in
                store.heartbeat(keys, instance: "gone", expiresAtMs: 1000) { _ in
                    store.lookup(keys, hash: "h", tags: ["1|rows"], token: "t", leaseMs: 5000, versionTTLms: 60000) { r in
                        results.append(try? r.get())
                        store.leave(keys, instance: "gone") { _ in
                            store.lookup(keys, hash: "h", tags: ["1|rows"], token: "t", leaseMs: 5000, versionTTLms: 60000) { r in
                                results.append(try? r.get())
                                loop.stop()
                            }
                        }
                    }
                }
            }
            #expect(results.count == 2)
            #expect(results.first == .degraded)
            if case .miss? = results.last {} else { Issue.record("expected a miss after leave, got \(String(describing: results.last))") }
        }

        @Test func scriptFlushFallsBackToEval() throws {
            let keys = CacheKeys(prefix: uniquePrefix())
            var result: LookupResult?
            let store = try Self.withStore { store, loop in
                store.command(["SCRIPT", "FLUSH"]) { _ in
                    store.lookup(keys, hash: "h", tags: [], token: "t", leaseMs: 5000, versionTTLms: 60000) { r in
                        result = try? r.get()
                        loop.stop()
                    }
                }
            }
            if case .miss? = result {} else { Issue.record("expected a miss, got \(String(describing: result))") }
            #expect(store.stats.scriptReloads == 1)
        }

        @Test func firstConnectRecordsTheRunIDAndBumpsTheEpoch() throws {
            let prefix = uniquePrefix()
            let keys = CacheKeys(prefix: prefix)
            var info: RedisStore.ReadyInfo?
            var stored: (RedisValue?, RedisValue?)
            let loop = try EventLoop()
            let store = RedisStore(settings: testSettings(port: try TestRedisEnvironment.port(), prefixes: [prefix]), loop: loop)
            store.onReady = { i in
                info = i
                store.command(["GET", keys.runID]) { r in
                    stored.0 = try? r.get()
                    store.command(["GET", keys.epoch]) { stored.1 = try? $0.get(); loop.stop() }
                }
            }
            store.start()
            runLoop(loop)
            store.stop()
            #expect(info?.epochBumped == [prefix])
            #expect(info?.previousRunID == nil && info?.runIDChanged == false)
            #expect(stored.0?.text == info?.runID)
            #expect((stored.1?.integer ?? 0) > 1_000_000_000_000_000 / 1000)
        }
    }
}

/// A lookup result in a trace.
func describe(_ r: LookupResult?) -> String {
    switch r {
    case nil: return "failed"
    case .degraded?: return "degraded"
    case .hit(let payload, let ttl)?: return "hit \(payload)" + (ttl > 0 ? "" : " ttl=\(ttl)")
    case .miss(_, let lease)?: return "miss lease=\(lease)"
    }
}
