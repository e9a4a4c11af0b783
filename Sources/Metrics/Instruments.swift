/// The three kinds of instrument. They are plain classes owned by one event-loop thread:
/// an update is an add to a stored property, with no lock, atomic or dynamic dispatch (see
/// docs/metrics.md for why this module exists instead of swift-metrics and swift-prometheus).

/// A monotonically increasing count (exposed with the `_total` suffix).
public final class Counter {
    @usableFromInline var storage: UInt64 = 0
    public var value: UInt64 { storage }
    public init() {}

    @inlinable public func increment() { storage &+= 1 }
    @inlinable public func increment(by n: UInt64) { storage &+= n }
    @inlinable public func increment(by n: Int) { storage &+= UInt64(max(n, 0)) }
}

/// A value that goes up and down.
public final class Gauge {
    public var value: Double = 0
    public init() {}

    @inlinable public func set(_ v: Double) { value = v }
    @inlinable public func add(_ v: Double) { value += v }
}

/// Counts observations into buckets by upper bound (`le`), with their sum and count.
/// `counts[i]` holds the observations in `(bounds[i-1], bounds[i]]`; the last slot is `+Inf`.
/// The exposition makes them cumulative, as Prometheus wants.
public final class Histogram {
    public let bounds: [Double]
    /// The bucket counts, in storage of the instrument's own: an observation is an add, with
    /// no array uniqueness check (it runs twice per pooled transaction).
    private let slots: UnsafeMutableBufferPointer<UInt64>
    public var counts: [UInt64] { Array(slots) }
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    /// `bounds` must be finite and strictly increasing; `+Inf` is implied.
    public init(bounds: [Double]) {
        precondition(!bounds.isEmpty && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 } && bounds.allSatisfy(\.isFinite),
                     "histogram bounds must be finite and strictly increasing")
        self.bounds = bounds
        slots = .allocate(capacity: bounds.count + 1)
        slots.initialize(repeating: 0)
    }

    deinit { slots.deallocate() }

    public func observe(_ v: Double) {
        // The first bound >= v (a bucket includes its upper bound), counted from the low end:
        // latencies sit in the first few buckets.
        var i = 0
        bounds.withUnsafeBufferPointer { b in
            while i < b.count && b[i] < v { i += 1 }
        }
        slots[i] &+= 1
        sum += v
        count &+= 1
    }

    /// Cumulative counts per bound, then `+Inf` (= `count`).
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return counts.map { running &+= $0; return running }
    }

    /// Bounds in seconds from 0.5 ms to 10 s: from a cached answer to a slow report query.
    public static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}
