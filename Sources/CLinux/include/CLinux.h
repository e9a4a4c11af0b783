#ifndef CLINUX_H
#define CLINUX_H
/* No _GNU_SOURCE here: glibc's structs would then differ from SwiftGlibc's (platform notes §2). */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>

int clinux_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* epoll_data is a union; these keep Swift away from its packed layout. */
static inline uint64_t clinux_event_u64(const struct epoll_event *e) { return e->data.u64; }
static inline uint32_t clinux_event_mask(const struct epoll_event *e) { return e->events; }
int clinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

/* Arms `fd` (a CLOCK_MONOTONIC timerfd) to fire once at the absolute time `ns` (0 disarms). */
int clinux_timerfd_set_abs(int fd, uint64_t ns);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t clinux_monotonic_ns(void);

/* A signalfd for `signals` (count entries), after blocking them in the calling thread.
   The signals that were not blocked before are reported in `newly_blocked` (a bit per signal). */
int clinux_signalfd_block(const int *signals, int count, uint64_t *newly_blocked);

/* Unblocks, in the calling thread, every signal whose bit is set in `mask`. */
int clinux_unblock_signals(uint64_t mask);

/* The signal number of a signalfd_siginfo record read from a signalfd. */
static inline int clinux_siginfo_signo(const void *record) {
    return (int)((const struct signalfd_siginfo *)record)->ssi_signo;
}
static inline int clinux_siginfo_size(void) { return (int)sizeof(struct signalfd_siginfo); }

/* Sends to several sockets in one system call (io_uring; sendring.c). create returns NULL,
   with errno set, where io_uring is unavailable. send queues count sends of lengths[i] bytes
   at buffers[i] to fds[i] (MSG_DONTWAIT | MSG_NOSIGNAL), waits for all of them (none blocks),
   and sets results[i] to the bytes taken or -errno. Returns 0, or -1 with errno set when the
   ring itself failed (results still -EAGAIN are sends that did not happen). */
void *clinux_send_ring_create(unsigned entries);
void clinux_send_ring_destroy(void *ring);
unsigned clinux_send_ring_capacity(const void *ring);
int clinux_send_ring_send(void *ring, int count, const int *fds, const void *const *buffers,
                          const uint32_t *lengths, int32_t *results);
#endif
