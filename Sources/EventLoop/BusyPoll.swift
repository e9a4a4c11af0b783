/// How long the loop polls for events before it sleeps: an adaptive window, as Linux's
/// guest halt-polling sizes its own (drivers/cpuidle/governors/haltpoll.c).
///
/// Why: a proxy answers in a few microseconds and then waits, often for less than 100 µs,
/// for the next message of a client or a backend. Sleeping in `epoll_wait` for that gap costs
/// a wakeup by the sender, and where the CPU went idle meanwhile (a halted vCPU, a deep
/// C-state) the wakeup takes tens of microseconds before the loop runs again. Polling a short
/// while first (`epoll_wait` with timeout 0, `sched_yield` between polls) keeps the loop on
/// its CPU across such gaps. Measured on a 2-vCPU KVM guest with pgbench -S at 8 clients,
/// docs/benchmarks.md.
///
/// The window adapts so that polling costs CPU only where it pays: it starts at 0 (no
/// polling); a sleep that ended within `limit` means a longer poll would have caught the event,
/// so the window grows (to `start`, then doubling up to `limit`); a sleep longer than `limit`
/// means the gaps are long, so it halves (below `start`: 0). A poll that finds an event leaves
/// it as it is. An idle proxy therefore never polls, and a proxy with gaps just over `limit`
/// polls at most every other gap.
public struct BusyPoll: Sendable {
    /// The largest window, in nanoseconds; 0 turns polling off.
    public let limit: UInt64
    /// The first window after polling was off.
    public let start: UInt64
    /// The current window, in nanoseconds.
    public private(set) var window: UInt64 = 0

    public init(limitNanoseconds: UInt64) {
        limit = limitNanoseconds
        start = min(limitNanoseconds, max(limitNanoseconds / 4, 10_000))
    }

    /// The loop slept `nanoseconds` (after polling `window`, or at once when it was 0).
    public mutating func slept(nanoseconds d: UInt64) {
        guard limit > 0 else { return }
        if d > limit {
            window /= 2
            if window < start { window = 0 }
        } else {
            window = window == 0 ? start : min(window * 2, limit)
        }
    }
}
