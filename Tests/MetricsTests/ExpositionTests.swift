import Testing
@testable import Metrics

@Suite struct ExpositionTests {
    @Test func countersGaugesAndHistogramsInRegistrationOrder() {
        let r = MetricsRegistry()
        let q = r.counter("app_queries_total", help: "Queries.", labels: ["database"])
        let g = r.gauge("app_temperature_celsius", help: "Warmth.")
        let h = r.histogram("app_duration_seconds", help: "Time.", labels: ["database"], bounds: [0.5, 1])
        q.labels("orders").increment(by: 3)
        g.unlabelled.set(21.5)
        h.labels("orders").observe(0.25)
        h.labels("orders").observe(2)
        #expect(r.exposition() == """
        # HELP app_queries_total Queries.
        # TYPE app_queries_total counter
        app_queries_total{database="orders"} 3
        # HELP app_temperature_celsius Warmth.
        # TYPE app_temperature_celsius gauge
        app_temperature_celsius 21.5
        # HELP app_duration_seconds Time.
        # TYPE app_duration_seconds histogram
        app_duration_seconds_bucket{database="orders",le="0.5"} 1
        app_duration_seconds_bucket{database="orders",le="1"} 1
        app_duration_seconds_bucket{database="orders",le="+Inf"} 2
        app_duration_seconds_sum{database="orders"} 2.25
        app_duration_seconds_count{database="orders"} 2

        """)
    }

    @Test func unlabelledFamiliesStartAtZero() {
        let r = MetricsRegistry()
        _ = r.counter("app_events_total", help: "Events.")
        #expect(r.exposition().hasSuffix("app_events_total 0\n"))
    }

    @Test func collectorsWriteAtScrapeTime() {
        let r = MetricsRegistry()
        var level = 1.0
        r.collector(names: ["app_level"]) { w in
            w.gauge("app_level", help: "Level.", labelNames: ["pool"], samples: [(["a"], level)])
        }
        #expect(r.exposition().contains("app_level{pool=\"a\"} 1\n"))
        level = 7
        #expect(r.exposition().contains("app_level{pool=\"a\"} 7\n"))
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("say \"hi\"", "say \\\"hi\\\""),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
    ])
    func labelValuesAreEscaped(raw: String, escaped: String) {
        #expect(TextExposition.escapeLabelValue(raw) == escaped)
    }

    @Test func helpEscapesBackslashAndNewlineOnly() {
        #expect(TextExposition.escapeHelp("a \"b\"\\c\nd") == "a \"b\"\\\\c\\nd")
    }

    @Test(arguments: [(3.0, "3"), (0.0005, "0.0005"), (2.5, "2.5"), (-1.0, "-1"),
                      (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"), (1e20, "1e+20")])
    func numbersAsTheFormatSpellsThem(value: Double, text: String) {
        #expect(TextExposition.format(value) == text)
    }

    @Test(arguments: [("pgstash_clients", true), ("a:b_c9", true), ("_x", true),
                      ("9lives", false), ("has-dash", false), ("", false), ("spa ce", false)])
    func metricNames(name: String, valid: Bool) {
        #expect(TextExposition.isValidMetricName(name) == valid)
    }
}
