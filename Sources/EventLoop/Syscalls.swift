import CLinux
import Glibc

/// epoll(7) calls.
enum Epoll {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let error = EPOLLERR.rawValue
    static let hangup = EPOLLHUP.rawValue
    static let readHangup = EPOLLRDHUP.rawValue

    static func create() throws -> Int32 {
        try Syscall.blocking("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    static func add(_ epfd: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
        _ = try Syscall.blocking("epoll_ctl(ADD)") { clinux_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, events, data) }
    }

    static func modify(_ epfd: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
        _ = try Syscall.blocking("epoll_ctl(MOD)") { clinux_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, events, data) }
    }

    /// Removing a descriptor that is no longer in the set (ENOENT) is not an error.
    static func remove(_ epfd: Int32, fd: Int32) {
        while clinux_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0) != 0 {
            let e = errno
            if e == EINTR { continue }
            precondition(e == ENOENT, "epoll_ctl(DEL) of fd \(fd): \(IOError(errno: e, operation: "epoll_ctl"))")
            return
        }
    }

    /// Waits for events; EINTR is reported as zero events.
    static func wait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, max: Int32, timeoutMs: Int32) -> Int {
        let n = epoll_wait(epfd, events, max, timeoutMs)
        if n >= 0 { return Int(n) }
        let e = errno
        precondition(e == EINTR, "epoll_wait: \(IOError(errno: e, operation: "epoll_wait"))")
        return 0
    }
}

/// eventfd(2) calls, used to wake the loop from other threads.
enum EventFd {
    static func create() throws -> Int32 {
        try Syscall.blocking("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }

    static func signal(_ fd: Int32) {
        var one: UInt64 = 1
        while write(fd, &one, 8) < 0 {
            let e = errno
            if e == EINTR { continue }
            // EAGAIN: the counter is saturated, so the loop is already due to wake.
            precondition(e == EAGAIN, "eventfd write: \(IOError(errno: e, operation: "write"))")
            return
        }
    }

    static func drain(_ fd: Int32) {
        var value: UInt64 = 0
        while read(fd, &value, 8) < 0 && errno == EINTR {}
    }
}

/// timerfd(2) calls on CLOCK_MONOTONIC with absolute deadlines.
enum TimerFd {
    static func create() throws -> Int32 {
        try Syscall.blocking("timerfd_create") {
            timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        }
    }

    /// Arms the timer for the absolute monotonic time `ns`; `ns` must be non-zero.
    static func arm(_ fd: Int32, atNanoseconds ns: UInt64) {
        precondition(ns > 0)
        let r = clinux_timerfd_set_abs(fd, ns)
        precondition(r == 0, "timerfd_settime: \(IOError(errno: errno, operation: "timerfd_settime"))")
    }

    static func drain(_ fd: Int32) {
        var expirations: UInt64 = 0
        while read(fd, &expirations, 8) < 0 && errno == EINTR {}
    }
}

/// The monotonic clock.
enum Clock {
    static func nanoseconds() -> UInt64 { clinux_monotonic_ns() }
    static func seconds() -> Double { Double(clinux_monotonic_ns()) / 1e9 }
}
