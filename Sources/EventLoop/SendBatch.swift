import CLinux
import Glibc

/// The sends of one batch of events, made together at its end.
///
/// While the loop dispatches the events one `epoll_wait` returned, a plain connection's `send`
/// only appends to its output buffer and joins this batch ("corked"). After the batch the
/// loop sends every corked buffer in one `io_uring_enter` (CLinux's send ring).
///
/// Why: each send wakes the task waiting on the other end (a client, a PostgreSQL backend),
/// and the kernel may switch to that task as the send returns to user space. With one
/// `send(2)` per socket the loop could be switched out after each answer of a batch, the rest
/// waiting behind the woken task while the other CPU idles; the woken client, run at once,
/// then finds a single answer to read and sleeps again. Measured on a 2-CPU machine with
/// pgbench -S at 64 clients: pgstash was switched out about 0.4 times per transaction against
/// PgBouncer's 0.25 (docs/benchmarks.md). One system call for the batch returns to user space
/// once, after all of its sends.
///
/// Where io_uring is not available (`PGSTASH_IO_URING=0`, an old kernel, a seccomp policy, a
/// kernel that makes a `MSG_DONTWAIT` send wait: CLinux probes it when the ring is made) or
/// only one connection is corked, each buffer is written with `send(2)` as before, at the end
/// of the batch. TLS connections are never corked. Sends outside a batch (deferred work, other
/// threads' `execute`, tests driving a `Connection` directly) write at once, as before.
final class SendBatch {
    /// Sends per `io_uring_enter`; a larger batch goes in several.
    static let ringEntries: UInt32 = 256
    /// A send larger than this to a connection with nothing corked is written at once: copying
    /// a large relay into the output buffer would cost more than the system call it saves.
    static let corkLimit = 64 * 1024

    private let ring: UnsafeMutableRawPointer?
    private let capacity: Int
    private var corked: [Connection] = []
    private let fds: UnsafeMutablePointer<Int32>
    private let buffers: UnsafeMutablePointer<UnsafeRawPointer?>
    private let lengths: UnsafeMutablePointer<UInt32>
    private let results: UnsafeMutablePointer<Int32>
    private let positions: UnsafeMutablePointer<Int>
    /// Batches the ring sent, and the sends in them (diagnostics and tests; a failed call is
    /// not counted: its sends are written with send(2)).
    private(set) var ringCalls = 0, ringSends = 0

    /// Whether batches go through io_uring.
    var usesRing: Bool { ring != nil }

    init() {
        let disabled = getenv("PGSTASH_IO_URING").map { String(cString: $0) == "0" } ?? false
        ring = disabled ? nil : clinux_send_ring_create(Self.ringEntries)
        capacity = ring.map { Int(clinux_send_ring_capacity($0)) } ?? 0
        let n = max(capacity, 1)
        fds = .allocate(capacity: n)
        buffers = .allocate(capacity: n)
        lengths = .allocate(capacity: n)
        results = .allocate(capacity: n)
        positions = .allocate(capacity: n)
    }

    deinit {
        if let ring { clinux_send_ring_destroy(ring) }
        fds.deallocate()
        buffers.deallocate()
        lengths.deallocate()
        results.deallocate()
        positions.deallocate()
    }

    var isEmpty: Bool { corked.isEmpty }

    func add(_ c: Connection) { corked.append(c) }

    /// Sends what every corked connection holds. Connections may close (and callbacks run)
    /// while this works through the list; a send they make then is not corked.
    func sendAll() {
        defer { corked.removeAll(keepingCapacity: true) }
        guard let ring, corked.count > 1 else {
            for c in corked { c.flushCorked() }
            return
        }
        var start = 0
        while start < corked.count {
            let end = min(corked.count, start + capacity)
            var n = 0
            for k in start..<end {
                guard let (base, count) = corked[k].corkedOutput() else { continue }
                fds[n] = corked[k].fd
                buffers[n] = base
                lengths[n] = UInt32(min(count, Int(Int32.max)))
                positions[n] = k
                n += 1
            }
            if n > 1 {
                // -1: the ring failed; the sends it did not make stay at -EAGAIN and are
                // written below with send(2).
                if clinux_send_ring_send(ring, Int32(n), fds, buffers, lengths, results) == 0 {
                    ringCalls += 1
                    ringSends += n
                }
            }
            var m = 0
            for k in start..<end {
                if n > 1 && m < n && positions[m] == k {
                    corked[k].corkedOutputSent(results[m])
                    m += 1
                } else {
                    corked[k].flushCorked()
                }
            }
            start = end
        }
    }
}
