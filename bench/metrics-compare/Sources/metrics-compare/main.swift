// Compares swift-metrics + swift-prometheus with what pgstash's own Metrics module does per
// update (a stored add on a final class). Run: cd bench/metrics-compare && swift run -c release.
// Figures and the decision: docs/metrics.md.
import Foundation
import Metrics
import Prometheus

/// What our own registry does: a plain counter on a final class (one loop thread).
final class PlainCounter { var value: UInt64 = 0; @inline(never) func increment() { value &+= 1 } }
final class PlainHistogram {
    let bounds: [Double]; var counts: [UInt64]; var sum = 0.0
    init(_ b: [Double]) { bounds = b; counts = Array(repeating: 0, count: b.count + 1) }
    @inline(never) func observe(_ v: Double) {
        var i = 0
        while i < bounds.count && v > bounds[i] { i += 1 }
        counts[i] &+= 1; sum += v
    }
}

func measure(_ name: String, _ n: Int, _ body: () -> Void) {
    body() // warm
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0))
    }
    let ns = best / Double(n)
    print(String(format: "%@ %7.2f ns/op  %8.1f M ops/s", name as NSString, ns, 1000 / ns))
}

let n = 20_000_000
let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

let plain = PlainCounter()
measure("own: counter increment", n) { for _ in 0..<n { plain.increment() } }
let pc = registry.makeCounter(name: "direct_total", labels: [("database", "app"), ("user", "app")])
measure("swift-prometheus: Counter.increment()", n) { for _ in 0..<n { pc.increment() } }
let mc = Metrics.Counter(label: "metrics_total", dimensions: [("database", "app"), ("user", "app")])
measure("swift-metrics API -> prometheus: increment()", n) { for _ in 0..<n { mc.increment() } }
measure("swift-metrics: Counter(label:) per event", n / 20) {
    for _ in 0..<(n / 20) { Metrics.Counter(label: "metrics_total", dimensions: [("database", "app"), ("user", "app")]).increment() }
}

let ph = PlainHistogram(buckets)
let vals = (0..<1024).map { _ in Double.random(in: 0...0.02) }
measure("own: histogram observe", n) { for i in 0..<n { ph.observe(vals[i & 1023]) } }
let dh = registry.makeValueHistogram(name: "h_seconds", labels: [("database", "app")], buckets: buckets)
measure("swift-prometheus: ValueHistogram.record", n) { for i in 0..<n { dh.record(vals[i & 1023]) } }
let mt = Metrics.Recorder(label: "r_seconds", dimensions: [("database", "app")], aggregate: true)
measure("swift-metrics Recorder -> prometheus", n) { for i in 0..<n { mt.record(vals[i & 1023]) } }
print(plain.value, ph.sum > 0)
