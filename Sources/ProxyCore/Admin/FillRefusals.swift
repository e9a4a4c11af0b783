/// The last refused fill of each statement (per database prefix and libpg_query fingerprint),
/// for `EXPLAIN CACHE` and `SHOW CACHE ADVICE`: a reason seen only at run time — a result over
/// `max_result_bytes`, a notice with it, a row too big to buffer — is told for the statement
/// it happened to, not only counted in `SHOW CACHE STATUS`. Bounded: past `capacity`
/// statements, the one refused least recently is forgotten. Refusals are rare (each is a miss
/// whose result was not stored), so the O(capacity) eviction costs nothing that matters.
public struct FillRefusals: Sendable {
    public struct Key: Hashable, Sendable {
        /// The cache's prefix of the database (`ResultCache.prefix`).
        public var prefix: String
        public var fingerprint: String
        public init(prefix: String, fingerprint: String) { self.prefix = prefix; self.fingerprint = fingerprint }
    }

    /// The last refusal of one statement.
    public struct Entry: Sendable, Equatable {
        public var reason: String
        public var rule: String
        /// Wall clock, seconds since the Unix epoch.
        public var at: Double
        /// Refusals of the statement since it got its entry.
        public var count: Int
        fileprivate var sequence: UInt64
    }

    public let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var sequence: UInt64 = 0

    public init(capacity: Int = 256) { self.capacity = max(1, capacity) }

    public var count: Int { entries.count }

    /// A fill of the statement `key` under `rule` was refused for `reason` at `at` (wall clock).
    public mutating func record(_ key: Key, reason: String, rule: String, at: Double) {
        sequence += 1
        if var e = entries[key] {
            e.reason = reason; e.rule = rule; e.at = at; e.count += 1; e.sequence = sequence
            entries[key] = e
            return
        }
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.sequence < $1.value.sequence })?.key {
            entries[oldest] = nil
        }
        entries[key] = Entry(reason: reason, rule: rule, at: at, count: 1, sequence: sequence)
    }

    public func last(_ key: Key) -> Entry? { entries[key] }

    /// `last fill refused: REASON at 2026-11-28 10:00:00 UTC (rule "orders", 3 refusals)`.
    public static func describe(_ e: Entry) -> String {
        "last fill refused: \(e.reason) at \(AdminTime.format(e.at)) (rule \"\(e.rule)\", "
            + (e.count == 1 ? "1 refusal)" : "\(e.count) refusals)")
    }
}
