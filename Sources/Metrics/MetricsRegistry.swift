/// All of a process's metrics: families registered once at start, and collectors that
/// compute values from live state when scraped (clients by state, pools, process figures).
/// Owned by one thread, like the instruments it hands out.
public final class MetricsRegistry {
    private enum Entry {
        case family(name: String, write: (inout TextExposition) -> Void)
        case collector(names: [String], write: (inout TextExposition) -> Void)
    }

    private var entries: [Entry] = []
    private var names: Set<String> = []

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Counter> {
        let f = MetricFamily(name: checked(name, type: .counter), help: help, type: .counter, labelNames: labels) { Counter() }
        entries.append(.family(name: name) { f.write(into: &$0) })
        return f
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Gauge> {
        let f = MetricFamily(name: checked(name, type: .gauge), help: help, type: .gauge, labelNames: labels) { Gauge() }
        entries.append(.family(name: name) { f.write(into: &$0) })
        return f
    }

    public func histogram(_ name: String, help: String, labels: [String] = [],
                          bounds: [Double] = Histogram.latencyBounds) -> MetricFamily<Histogram> {
        let f = MetricFamily(name: checked(name, type: .histogram), help: help, type: .histogram, labelNames: labels) {
            Histogram(bounds: bounds)
        }
        entries.append(.family(name: name) { f.write(into: &$0) })
        return f
    }

    /// Adds families whose values are read at scrape time. `names` are the family names the
    /// collector writes (checked for clashes like registered ones); `write` is called on each
    /// scrape, in registration order with the rest.
    public func collector(names: [String], _ write: @escaping (inout TextExposition) -> Void) {
        for n in names { _ = checked(n, type: .untyped) }
        entries.append(.collector(names: names, write: write))
    }

    /// The text exposition (format 0.0.4) of everything registered.
    public func exposition() -> String {
        var w = TextExposition()
        for e in entries {
            switch e {
            case .family(_, let write), .collector(_, let write): write(&w)
            }
        }
        return w.text
    }

    /// The content type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private func checked(_ name: String, type: MetricType) -> String {
        precondition(TextExposition.isValidMetricName(name), "invalid metric name \(name)")
        precondition(!names.contains(name), "metric \(name) registered twice")
        if type == .counter { precondition(name.hasSuffix("_total"), "counter \(name) must end in _total") }
        names.insert(name)
        return name
    }
}
