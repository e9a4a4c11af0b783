import Metrics

/// Cost of the instruments the proxy updates per query (docs/metrics.md): a counter
/// increment, a histogram observation, and one scrape's text of a registry with a few pools.
/// `bench/metrics-compare` measures swift-prometheus doing the same, for the comparison.
func runMetricsBench() {
    let registry = MetricsRegistry()
    let queries = registry.counter("bench_queries_total", help: "Queries.", labels: ["database", "user"])
    let latency = registry.histogram("bench_query_duration_seconds", help: "Latency.", labels: ["database", "user"])
    let counter = queries.labels("app", "app")
    let histogram = latency.labels("app", "app")
    let n = 20_000_000
    var values: [Double] = []
    var seed: UInt64 = 42
    for _ in 0..<1024 {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        values.append(Double(seed >> 40) / Double(1 << 24) * 0.02)
    }
    print("metrics: \(n) updates per pass")
    report("counter increment", n) { for _ in 0..<n { counter.increment() } }
    report("histogram observe (14 bounds)", n) { for i in 0..<n { histogram.observe(values[i & 1023]) } }
    for p in 0..<20 { queries.labels("db\(p)", "user").increment(); latency.labels("db\(p)", "user").observe(0.001) }
    report("exposition, 21 counters + 21 histograms", 200) { for _ in 0..<200 { _ = registry.exposition() } }
    precondition(counter.value > 0 && histogram.count > 0)
}

func report(_ name: String, _ operations: Int, _ body: () -> Void) {
    let clock = ContinuousClock()
    var best = Duration.seconds(1_000)
    for _ in 0..<5 {
        let t0 = clock.now
        body()
        best = min(best, clock.now - t0)
    }
    let ns = (Double(best.components.seconds) * 1e9 + Double(best.components.attoseconds) / 1e9) / Double(operations)
    let whole = Int(ns * 100)
    print("  \(name + String(repeating: " ", count: max(0, 42 - name.count))) \(whole / 100).\(whole % 100 < 10 ? "0" : "")\(whole % 100) ns/op")
}
