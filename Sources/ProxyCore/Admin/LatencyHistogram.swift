/// A latency histogram of fixed log-linear buckets (HdrHistogram's layout with 3 significant
/// bits): values under 16 µs have a bucket each; above, every power of two is split into 8
/// equal buckets, so a bucket is at most 12.5 % wide and a percentile read at its midpoint is
/// within 6.25 % of the true value (and clamped to the exact minimum and maximum seen).
/// Memory is 4 bytes per bucket up to the largest value seen: about 0.6 KB for queries under
/// a second, 1.1 KB at the cap (2^37 µs, 38 hours; larger values count there).
public struct LatencyHistogram: Sendable, Equatable {
    private var counts: [UInt32] = []
    public private(set) var count: UInt64 = 0
    /// Sum of the recorded values, microseconds.
    public private(set) var totalMicroseconds: UInt64 = 0
    public private(set) var minMicroseconds: UInt64 = .max
    public private(set) var maxMicroseconds: UInt64 = 0

    static let linearLimit: UInt64 = 16
    static let subBuckets = 8
    static let maxExponent = 37

    public init() {}

    /// Records one duration in seconds (negative counts as 0).
    public mutating func record(seconds: Double) {
        let us = seconds > 0 ? UInt64(min(seconds * 1_000_000, Double(UInt64(1) << 62))) : 0
        record(microseconds: us)
    }

    public mutating func record(microseconds us: UInt64) {
        let i = Self.index(us)
        if i >= counts.count { counts.append(contentsOf: repeatElement(0, count: i + 1 - counts.count)) }
        if counts[i] < .max { counts[i] += 1 }
        count += 1
        totalMicroseconds &+= us
        minMicroseconds = min(minMicroseconds, us)
        maxMicroseconds = max(maxMicroseconds, us)
    }

    /// The value at quantile `q` (0…1) in microseconds: the midpoint of the bucket holding the
    /// ⌈q·count⌉-th smallest value, clamped to [min, max] (the first and last ranks are the
    /// exact minimum and maximum); 0 when empty.
    public func quantile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((q * Double(count)).rounded(.up)))
        // The smallest and largest values are known exactly.
        if rank >= count { return maxMicroseconds }
        if rank == 1 { return minMicroseconds }
        var seen: UInt64 = 0
        for (i, n) in counts.enumerated() where n > 0 {
            seen += UInt64(n)
            if seen >= rank {
                let (low, high) = Self.bounds(i)
                return min(max(low + (high - low) / 2, minMicroseconds), maxMicroseconds)
            }
        }
        return maxMicroseconds
    }

    /// The bucket of a value.
    static func index(_ us: UInt64) -> Int {
        if us < linearLimit { return Int(us) }
        let exponent = min(63 - us.leadingZeroBitCount, maxExponent)
        if exponent == maxExponent && us >> UInt64(maxExponent) > 1 { return bucketCount - 1 }
        let sub = Int((us >> UInt64(exponent - 3)) & 7)
        return Int(linearLimit) + (exponent - 4) * subBuckets + sub
    }

    /// The values a bucket holds: [low, high).
    static func bounds(_ i: Int) -> (UInt64, UInt64) {
        if i < Int(linearLimit) { return (UInt64(i), UInt64(i) + 1) }
        let exponent = (i - Int(linearLimit)) / subBuckets + 4
        let sub = UInt64((i - Int(linearLimit)) % subBuckets)
        let width = UInt64(1) << UInt64(exponent - 3)
        let low = (UInt64(1) << UInt64(exponent)) + sub * width
        return (low, low + width)
    }

    static var bucketCount: Int { Int(linearLimit) + (maxExponent - 3) * subBuckets }
}
