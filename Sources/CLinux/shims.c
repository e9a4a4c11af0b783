#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
#include <errno.h>
#include "CLinux.h"

int clinux_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int clinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int clinux_timerfd_set_abs(int fd, uint64_t ns) {
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = (time_t)(ns / 1000000000ull);
    spec.it_value.tv_nsec = (long)(ns % 1000000000ull);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

uint64_t clinux_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int clinux_signalfd_block(const int *signals, int count, uint64_t *newly_blocked) {
    sigset_t wanted, old;
    sigemptyset(&wanted);
    for (int i = 0; i < count; i++) sigaddset(&wanted, signals[i]);
    int r = pthread_sigmask(SIG_BLOCK, &wanted, &old);
    if (r != 0) { errno = r; return -1; }
    uint64_t bits = 0;
    for (int i = 0; i < count; i++)
        if (signals[i] > 0 && signals[i] < 64 && !sigismember(&old, signals[i])) bits |= 1ull << signals[i];
    *newly_blocked = bits;
    return signalfd(-1, &wanted, SFD_NONBLOCK | SFD_CLOEXEC);
}

int clinux_unblock_signals(uint64_t mask) {
    sigset_t set;
    sigemptyset(&set);
    for (int s = 1; s < 64; s++)
        if (mask & (1ull << s)) sigaddset(&set, s);
    int r = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (r != 0) { errno = r; return -1; }
    return 0;
}
