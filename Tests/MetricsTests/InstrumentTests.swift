import Testing
@testable import Metrics

@Suite struct InstrumentTests {
    @Test func counterCounts() {
        let c = Counter()
        c.increment()
        c.increment(by: 41)
        c.increment(by: -3)      // a negative Int adds nothing: counters never go down
        #expect(c.value == 42)
    }

    @Test func histogramBucketIncludesItsUpperBound() {
        let h = Histogram(bounds: [0.1, 1, 10])
        for v in [0.05, 0.1, 0.5, 1, 5, 100] { h.observe(v) }
        #expect(h.counts == [2, 2, 1, 1])
        #expect(h.cumulativeCounts == [2, 4, 5, 6])
        #expect(h.count == 6)
        #expect(h.sum == 106.65)
    }

    @Test func familyKeepsOneChildPerLabelSet() {
        let r = MetricsRegistry()
        let f = r.counter("x_total", help: "x", labels: ["a"])
        let one = f.labels("1")
        one.increment()
        #expect(f.labels("1") === one)
        f.labels("2").increment(by: 5)
        #expect(f.children.map(\.labels) == [["1"], ["2"]])
        f.remove { $0 == ["1"] }
        #expect(f.children.map(\.labels) == [["2"]])
        #expect(f.labels("2").value == 5)
    }
}
