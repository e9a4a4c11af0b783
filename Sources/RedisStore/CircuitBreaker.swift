/// Fails Redis commands fast after `threshold` consecutive failures, for `cooldown` seconds;
/// then lets one probe through, whose success closes it and whose failure opens it again
/// (cache.md §1.5: reads fail open). Pure: time comes in as `now`.
public struct CircuitBreaker: Sendable, Equatable {
    /// Where the breaker stands.
    public enum State: Sendable, Equatable {
        /// Commands go to Redis; `failures` consecutive ones have failed.
        case closed(failures: Int)
        /// Commands fail at once until `until`.
        case open(until: Double)
        /// One probe is in flight; other commands fail at once until it completes.
        case probing
    }

    public let threshold: Int
    public let cooldown: Double
    public private(set) var state: State = .closed(failures: 0)
    /// How many times the breaker has opened.
    public private(set) var openings = 0

    public init(threshold: Int, cooldown: Double) {
        self.threshold = max(1, threshold)
        self.cooldown = max(0, cooldown)
    }

    /// Whether a command may be sent now. After the cool-down the first caller becomes the probe.
    public mutating func commandWanted(now: Double) -> Bool {
        switch state {
        case .closed: return true
        case .probing: return false
        case .open(let until):
            guard now >= until else { return false }
            state = .probing
            return true
        }
    }

    /// A command sent under `commandWanted` succeeded (or failed for a reason of its own).
    public mutating func succeeded() {
        state = .closed(failures: 0)
    }

    /// A command failed because Redis was unavailable, slow or overloaded.
    public mutating func failed(now: Double) {
        switch state {
        case .closed(let failures) where failures + 1 < threshold:
            state = .closed(failures: failures + 1)
        case .closed, .probing:
            state = .open(until: now + cooldown)
            openings += 1
        case .open:
            break
        }
    }

    /// Whether commands are currently refused.
    public func isOpen(now: Double) -> Bool {
        switch state {
        case .closed: return false
        case .probing: return true
        case .open(let until): return now < until
        }
    }
}
