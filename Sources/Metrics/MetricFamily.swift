/// The type line of a family in the text exposition.
public enum MetricType: String, Sendable {
    case counter, gauge, histogram, untyped
}

/// One metric name with its help text and label names, and a child instrument per set of
/// label values. Children are made on first use and kept: a hot path resolves its child
/// once (`labels(…)`) and then touches only the instrument.
public final class MetricFamily<Instrument: AnyObject> {
    public let name: String
    public let help: String
    public let type: MetricType
    public let labelNames: [String]
    private let make: () -> Instrument
    private var index: [[String]: Int] = [:]
    /// Children in the order they were made (the exposition is stable).
    public private(set) var children: [(labels: [String], instrument: Instrument)] = []

    init(name: String, help: String, type: MetricType, labelNames: [String], make: @escaping () -> Instrument) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.make = make
        // A family without labels has its one child from the start: it is exposed as 0.
        if labelNames.isEmpty { _ = labels([]) }
    }

    /// The child for these label values (one per label name, in order).
    public func labels(_ values: [String]) -> Instrument {
        precondition(values.count == labelNames.count, "\(name) takes \(labelNames.count) label values, got \(values.count)")
        if let i = index[values] { return children[i].instrument }
        let m = make()
        index[values] = children.count
        children.append((values, m))
        return m
    }

    public func labels(_ values: String...) -> Instrument { labels(values) }

    /// The child without labels.
    public var unlabelled: Instrument { labels([]) }

    /// Drops the children whose labels match (e.g. a pool that was removed).
    public func remove(where matches: ([String]) -> Bool) {
        children.removeAll { matches($0.labels) }
        index = Dictionary(uniqueKeysWithValues: children.enumerated().map { ($0.element.labels, $0.offset) })
    }
}

extension MetricFamily where Instrument == Counter {
    func write(into w: inout TextExposition) {
        w.header(name: name, help: help, type: type)
        for c in children { w.sample(name, labelNames: labelNames, values: c.labels, value: c.instrument.value) }
    }
}

extension MetricFamily where Instrument == Gauge {
    func write(into w: inout TextExposition) {
        w.header(name: name, help: help, type: type)
        for c in children { w.sample(name, labelNames: labelNames, values: c.labels, value: c.instrument.value) }
    }
}

extension MetricFamily where Instrument == Histogram {
    func write(into w: inout TextExposition) {
        w.header(name: name, help: help, type: type)
        for c in children { w.histogram(name, labelNames: labelNames, values: c.labels, c.instrument) }
    }
}
