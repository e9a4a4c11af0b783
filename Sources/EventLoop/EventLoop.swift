import CLinux
import Glibc

/// A single-threaded epoll reactor: level-triggered descriptor readiness, timers on one
/// timerfd backed by a min-heap, cross-thread work through an eventfd, and deferred work run
/// once per iteration before the loop sleeps.
///
/// Every method except `execute` and `stop` (and those of `handle`) must be called on the
/// thread that runs `run()`.
public final class EventLoop {
    private struct Slot {
        let id: UInt64
        var interest: Interest
        let handler: any IOHandler
    }

    private static let wakeID: UInt64 = 1
    private static let timerID: UInt64 = 2
    private static let firstUserID: UInt64 = 16
    private static let maxEvents: Int32 = 256

    /// Thread-safe access to `execute` and `stop`, for other threads.
    public let handle: EventLoopHandle
    private let epfd: Int32
    private let timerFd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    /// Receive space shared by the loop's connections: one recv lands here and only the bytes
    /// received are copied on, instead of growing every inbound buffer by a full chunk.
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Connection.readChunk, alignment: 16)
    private var slots: [Slot?] = []
    private var nextID = EventLoop.firstUserID
    private var timers = TimerHeap()
    private var nextTimerID: UInt64 = 1
    private var armedDeadline: UInt64 = 0
    private var deferred: [() -> Void] = []
    private var running = false
    /// Inside the dispatch of a batch of events: plain connections' sends wait for its end.
    private(set) var corking = false
    /// The sends of the current batch (SendBatch.swift).
    let sendBatch = SendBatch()
    /// Whether a batch's sends go out in one io_uring call (false: one send(2) each).
    public var sendsThroughRing: Bool { sendBatch.usesRing }
    /// Batches sent through io_uring, and the sends in them (diagnostics and tests).
    public var ringBatches: (calls: Int, sends: Int) { (sendBatch.ringCalls, sendBatch.ringSends) }
    private var loopThread: pthread_t?
    /// Polling before sleeping (BusyPoll.swift); off until `setBusyPoll`.
    private var busyPoll = BusyPoll(limitNanoseconds: 0)
    /// Time spent polling, polls that found events, and sleeps while polling is on.
    public private(set) var busyPollStats: (nanoseconds: UInt64, hits: Int, sleeps: Int) = (0, 0, 0)
    /// The current polling window, in nanoseconds (0: the loop sleeps at once).
    public var busyPollWindow: UInt64 { busyPoll.window }

    /// Sets the longest busy-polling window (0: off). Loop thread only.
    public func setBusyPoll(limitNanoseconds: UInt64) {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        guard limitNanoseconds != busyPoll.limit else { return }
        busyPoll = BusyPoll(limitNanoseconds: limitNanoseconds)
    }

    /// Monotonic seconds (CLOCK_MONOTONIC), refreshed each iteration after `epoll_wait` and
    /// before timers run.
    public private(set) var now: Double
    /// Events dropped because their registration had been removed (diagnostics and tests).
    public private(set) var staleEventsDropped = 0
    /// Number of live registrations, not counting the loop's own descriptors.
    public private(set) var registrationCount = 0
    /// True on the thread currently inside `run()`, or on any thread while the loop is not running.
    public var isInLoopThread: Bool {
        guard let loopThread else { return true }
        return pthread_equal(loopThread, pthread_self()) != 0
    }
    /// Number of pending timers.
    public var timerCount: Int { timers.count }

    public init() throws {
        handle = try EventLoopHandle()
        epfd = try Epoll.create()
        do {
            timerFd = try TimerFd.create()
        } catch {
            Glibc.close(epfd)
            throw error
        }
        events = .allocate(capacity: Int(Self.maxEvents))
        now = Clock.seconds()
        do {
            try Epoll.add(epfd, fd: handle.wakeFd, events: Epoll.readable,
                          data: Registration(fd: handle.wakeFd, id: Self.wakeID).packed)
            try Epoll.add(epfd, fd: timerFd, events: Epoll.readable,
                          data: Registration(fd: timerFd, id: Self.timerID).packed)
        } catch {
            Glibc.close(epfd)
            Glibc.close(timerFd)
            events.deallocate()
            readScratch.deallocate()
            throw error
        }
    }

    deinit {
        Glibc.close(epfd)
        Glibc.close(timerFd)
        events.deallocate()
        readScratch.deallocate()
    }

    // MARK: Registrations

    /// Starts watching `fd`. The loop keeps `handler` alive until `unregister`.
    /// Registering an fd that is already registered is a programmer error.
    public func register(fd: Int32, interest: Interest, handler: any IOHandler) throws -> Registration {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        precondition(fd >= 0, "register: negative fd")
        let index = Int(fd)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(nil, count: max(index + 1 - slots.count, slots.count)))
        }
        precondition(slots[index] == nil, "register: fd \(fd) is already registered")
        let registration = Registration(fd: fd, id: takeID())
        try Epoll.add(epfd, fd: fd, events: interest.epollMask, data: registration.packed)
        slots[index] = Slot(id: registration.id, interest: interest, handler: handler)
        registrationCount += 1
        return registration
    }

    /// Changes what `r` is watched for. Ignored if `r` is no longer registered.
    public func setInterest(_ r: Registration, _ interest: Interest) {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        guard let slot = liveSlot(r), slot.interest != interest else { return }
        do {
            try Epoll.modify(epfd, fd: r.fd, events: interest.epollMask, data: r.packed)
        } catch {
            preconditionFailure("setInterest on fd \(r.fd): \(error)")
        }
        slots[Int(r.fd)]!.interest = interest
    }

    /// The current interest of `r`, or nil if it is no longer registered.
    public func interest(of r: Registration) -> Interest? { liveSlot(r)?.interest }

    /// Stops watching `r`. No event of `r` is delivered afterwards, not even one already
    /// returned by the current `epoll_wait`. Ignored if `r` is no longer registered.
    /// Call it before closing the descriptor.
    public func unregister(_ r: Registration) {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        guard liveSlot(r) != nil else { return }
        Epoll.remove(epfd, fd: r.fd)
        slots[Int(r.fd)] = nil
        registrationCount -= 1
    }

    private func liveSlot(_ r: Registration) -> Slot? {
        let index = Int(r.fd)
        guard index >= 0, index < slots.count, let slot = slots[index], slot.id == r.id else { return nil }
        return slot
    }

    private func takeID() -> UInt64 {
        let id = nextID
        nextID = nextID == UInt64(UInt32.max) ? Self.firstUserID : nextID + 1
        return id
    }

    // MARK: Timers and deferred work

    /// Runs `body` on the loop after `seconds` (monotonic). Timers with equal deadlines run in
    /// the order they were scheduled; a timer scheduled by a timer runs no earlier than the
    /// next iteration.
    @discardableResult
    public func schedule(after seconds: Double, _ body: @escaping () -> Void) -> TimerID {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        let delay = seconds.isFinite && seconds > 0 ? UInt64(min(seconds, 1e9) * 1e9) : 0
        let id = nextTimerID
        nextTimerID += 1
        timers.insert(.init(deadline: Clock.nanoseconds() + delay, id: id, body: body))
        return TimerID(rawValue: id)
    }

    /// Cancels a pending timer; ignored if it already ran or was cancelled.
    public func cancel(_ t: TimerID) {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        timers.remove(id: t.rawValue)
    }

    /// Runs `body` once on the loop thread, before the loop next sleeps in `epoll_wait`.
    public func runBeforeNextWait(_ body: @escaping () -> Void) {
        assert(isInLoopThread, "EventLoop used off its thread; use handle.execute")
        deferred.append(body)
    }

    /// Thread-safe: see `EventLoopHandle.execute`.
    public func execute(_ body: @escaping @Sendable () -> Void) { handle.execute(body) }

    /// Thread-safe: see `EventLoopHandle.stop`.
    public func stop() { handle.stop() }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        precondition(!running, "run() is not reentrant")
        running = true
        loopThread = pthread_self()
        defer {
            running = false
            loopThread = nil
            handle.clearStop()
        }
        while !handle.stopRequested {
            runDeferred()
            if handle.stopRequested { break }
            armTimer()
            let n = waitForEvents()
            now = Clock.seconds()
            corking = true
            for i in 0..<n {
                dispatch(data: clinux_event_u64(events + i), mask: clinux_event_mask(events + i))
            }
            fireTimers()
            corking = false
            if !sendBatch.isEmpty { sendBatch.sendAll() }
        }
    }

    /// The next batch of events: at once when deferred work waits; else, with busy polling
    /// on, after polling up to the current window (BusyPoll.swift); else after sleeping.
    private func waitForEvents() -> Int {
        guard deferred.isEmpty else { return Epoll.wait(epfd, events, max: Self.maxEvents, timeoutMs: 0) }
        guard busyPoll.limit > 0 else { return Epoll.wait(epfd, events, max: Self.maxEvents, timeoutMs: -1) }
        var n = Epoll.wait(epfd, events, max: Self.maxEvents, timeoutMs: 0)
        if n > 0 { return n }
        if busyPoll.window > 0 {
            let t0 = Clock.nanoseconds()
            var t = t0
            repeat {
                // Gives way to a task runnable on this CPU in pgstash's own scheduling group;
                // tasks of other groups (autogroups, cgroups) wait for preemption.
                sched_yield()
                n = Epoll.wait(epfd, events, max: Self.maxEvents, timeoutMs: 0)
                t = Clock.nanoseconds()
            } while n == 0 && t - t0 < busyPoll.window
            busyPollStats.nanoseconds += t - t0
            if n > 0 {
                busyPollStats.hits += 1
                return n
            }
        }
        let t1 = Clock.nanoseconds()
        n = Epoll.wait(epfd, events, max: Self.maxEvents, timeoutMs: -1)
        busyPoll.slept(nanoseconds: Clock.nanoseconds() - t1)
        busyPollStats.sleeps += 1
        return n
    }

    private func dispatch(data: UInt64, mask: UInt32) {
        let (fd, id) = Registration.unpack(data)
        switch id {
        case Self.wakeID:
            EventFd.drain(fd)
            for body in handle.takeQueued() { body() }
        case Self.timerID:
            TimerFd.drain(fd)
            armedDeadline = 0
        default:
            let index = Int(fd)
            guard index < slots.count, let slot = slots[index], slot.id == id else {
                staleEventsDropped += 1
                return
            }
            slot.handler.handleEvent(
                readable: mask & Epoll.readable != 0,
                writable: mask & Epoll.writable != 0,
                hangup: mask & (Epoll.hangup | Epoll.error) != 0,
                peerClosed: mask & Epoll.readHangup != 0)
        }
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let batch = deferred
            deferred.removeAll(keepingCapacity: true)
            for body in batch { body() }
        }
    }

    private func armTimer() {
        guard let first = timers.first, first.deadline != armedDeadline else { return }
        TimerFd.arm(timerFd, atNanoseconds: max(first.deadline, 1))
        armedDeadline = first.deadline
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let nowNs = Clock.nanoseconds()
        now = Double(nowNs) / 1e9      // so that inside a timer, `now` is at or past its deadline
        let limit = nextTimerID
        while let first = timers.first, first.deadline <= nowNs, first.id < limit {
            _ = timers.popFirst()
            first.body()
        }
    }
}
