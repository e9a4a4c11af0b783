import Metrics

/// The result cache's figures, computed at scrape time from its counters (docs/metrics.md,
/// "Cache metrics").
extension ProxyMetrics {
    func installCacheCollector(server: ProxyServer) {
        registry.collector(names: ["pgstash_cache_lookups_total", "pgstash_cache_bypasses_total",
                                   "pgstash_cache_fills_total", "pgstash_cache_stored_bytes_total",
                                   "pgstash_cache_publications_total", "pgstash_cache_epoch_bumps_total",
                                   "pgstash_cache_publications_owed_total", "pgstash_redis_up",
                                   "pgstash_redis_timeouts_total", "pgstash_redis_connects_total",
                                   "pgstash_cache_joined", "pgstash_cache_local_hits_total", "pgstash_cache_local_entries",
                                   "pgstash_cache_local_bytes", "pgstash_cache_local_solo"]) { [unowned server] w in
            guard let cache = server.cache else { return }
            let s = cache.stats
            let rules = s.rules.keys.sorted()
            w.counter("pgstash_cache_lookups_total", help: "Cache lookups by rule and result (hit or miss).",
                      labelNames: ["rule", "result"],
                      samples: rules.flatMap { r in [([r, "hit"], UInt64(s.rules[r]!.hits)), ([r, "miss"], UInt64(s.rules[r]!.misses))] })
            w.counter("pgstash_cache_bypasses_total", help: "Requests sent to PostgreSQL without a lookup, by reason.",
                      labelNames: ["reason"],
                      samples: CacheStats.Bypass.allCases.map { ([$0.rawValue], UInt64(s.bypasses[$0] ?? 0)) })
            w.counter("pgstash_cache_fills_total", help: "Results captured on a miss, by rule and result (stored, or refused: too large, a notice, a write raced it…).",
                      labelNames: ["rule", "result"],
                      samples: rules.flatMap { r in [([r, "stored"], UInt64(s.rules[r]!.fills)), ([r, "refused"], UInt64(s.rules[r]!.fillsRefused))] })
            w.counter("pgstash_cache_stored_bytes_total", help: "Bytes of results stored in Redis, by rule.",
                      labelNames: ["rule"], samples: rules.map { ([$0], UInt64(s.rules[$0]!.bytesStored)) })
            w.counter("pgstash_cache_publications_total", help: "Committed write sets published (tag versions bumped) before their acknowledgement.",
                      samples: [([], UInt64(s.publications))])
            w.counter("pgstash_cache_epoch_bumps_total", help: "Publications that invalidated every entry of a database (DDL, CALL, DO, unknown writes).",
                      samples: [([], UInt64(s.epochBumps))])
            w.counter("pgstash_cache_publications_owed_total", help: "Publications Redis could not take: the writer was acknowledged after this instance's lease lapsed, and the bump is owed.",
                      samples: [([], UInt64(s.publicationsOwed))])
            w.gauge("pgstash_redis_up", help: "1 while the Redis connection is ready.", samples: [([], cache.store.isReady ? 1 : 0)])
            w.gauge("pgstash_cache_joined", help: "1 while this instance serves from the cache (joined, no debt, lease renewed).",
                    samples: [([], cache.joined ? 1 : 0)])
            let l = cache.localTotals
            w.counter("pgstash_cache_local_hits_total", help: "Hits answered from this instance's local copy, with no Redis round trip (also counted as hits in pgstash_cache_lookups_total).",
                      samples: [([], UInt64(s.localHits))])
            w.gauge("pgstash_cache_local_entries", help: "Entries in this instance's local copy.", samples: [([], Double(l.entries))])
            w.gauge("pgstash_cache_local_bytes", help: "Bytes held by this instance's local copy ([cache] local_memory bounds it).", samples: [([], Double(l.bytes))])
            w.gauge("pgstash_cache_local_solo", help: "1 while this instance is the only one on the Redis, so its local copy may serve.",
                    samples: [([], l.solo ? 1 : 0)])
            w.counter("pgstash_redis_timeouts_total", help: "Redis commands that timed out.", samples: [([], UInt64(cache.store.stats.timeouts))])
            w.counter("pgstash_redis_connects_total", help: "Connections made to Redis.", samples: [([], UInt64(cache.store.stats.connects))])
        }
    }
}
