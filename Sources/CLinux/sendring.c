/* One io_uring used for a single thing: sending to several sockets in one system call.
 *
 * Why: a send wakes the task waiting on the other end, and the kernel may switch to that task
 * when the send returns to user space. An event loop that relays a batch of answers with one
 * send(2) per socket can be switched out after each of them, while the rest of the batch
 * waits. Submitting the batch's sends together returns to user space once, after all of them.
 *
 * Raw system calls, no liburing. Every send carries MSG_DONTWAIT, so io_uring completes it at
 * once (bytes taken, -EAGAIN or an error) rather than waiting for room: the call never blocks
 * and nothing is left in flight when it returns. The ring is created only where the kernel is
 * seen to do so (a probe against a full socket, with a bounded wait: Linux 5.11 or later). */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "CLinux.h"

struct clinux_send_ring {
    int fd;
    unsigned entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    struct io_uring_sqe *sqes;
    void *sq_map, *cq_map;
    size_t sq_size, cq_size, sqes_size;
};

static int honours_dontwait(struct clinux_send_ring *r);

void *clinux_send_ring_create(unsigned entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0) return NULL;
    struct clinux_send_ring *r = calloc(1, sizeof *r);
    if (!r) { close(fd); errno = ENOMEM; return NULL; }
    r->fd = fd;
    r->entries = p.sq_entries;
    r->sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) {
        if (r->cq_size > r->sq_size) r->sq_size = r->cq_size;
        r->cq_size = r->sq_size;
    }
    r->sq_map = mmap(NULL, r->sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    r->cq_map = single || r->sq_map == MAP_FAILED ? r->sq_map
        : mmap(NULL, r->cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = r->cq_map == MAP_FAILED ? MAP_FAILED
        : mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED || r->sqes == MAP_FAILED) {
        int e = errno;
        if (r->sqes != MAP_FAILED && r->sqes) munmap(r->sqes, r->sqes_size);
        if (r->cq_map != MAP_FAILED && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_size);
        if (r->sq_map != MAP_FAILED) munmap(r->sq_map, r->sq_size);
        close(fd);
        free(r);
        errno = e;
        return NULL;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    if (!(p.features & IORING_FEAT_EXT_ARG) || !honours_dontwait(r)) {
        clinux_send_ring_destroy(r);
        errno = EOPNOTSUPP;
        return NULL;
    }
    return r;
}

/* Whether a send with MSG_DONTWAIT to a full socket completes at once with -EAGAIN. Kernels
   that instead wait for room (arm a poll) would make clinux_send_ring_send block on a client
   that does not read: the ring is then not used. The probe's wait is bounded (EXT_ARG). */
static int honours_dontwait(struct clinux_send_ring *r) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static char fill[4096];
    while (send(sv[0], fill, sizeof fill, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {}
    unsigned tail = *r->sq_tail;
    unsigned index = tail & *r->sq_mask;
    struct io_uring_sqe *s = &r->sqes[index];
    memset(s, 0, sizeof *s);
    s->opcode = IORING_OP_SEND;
    s->fd = sv[0];
    s->addr = (uint64_t)(uintptr_t)fill;
    s->len = sizeof fill;
    s->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
    s->user_data = 0;
    r->sq_array[index] = index;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.ts = (uint64_t)(uintptr_t)&ts;
    syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
    int ok = 0;
    unsigned head = *r->cq_head;
    if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
        ok = r->cqes[head & *r->cq_mask].res == -EAGAIN;
        __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    }
    /* Not completed: the send waits in the kernel. Closing the ring (the caller's next step)
       cancels it; the sockets go after. */
    if (!ok) {
        close(r->fd);
        r->fd = -1;
    }
    close(sv[0]);
    close(sv[1]);
    return ok;
}

void clinux_send_ring_destroy(void *ring) {
    struct clinux_send_ring *r = ring;
    if (!r) return;
    munmap(r->sqes, r->sqes_size);
    if (r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_size);
    munmap(r->sq_map, r->sq_size);
    if (r->fd >= 0) close(r->fd);
    free(r);
}

unsigned clinux_send_ring_capacity(const void *ring) {
    return ((const struct clinux_send_ring *)ring)->entries;
}

/* Moves completions to results[user_data]; returns how many. */
static int reap(struct clinux_send_ring *r, int32_t *results) {
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    int n = 0;
    while (head != tail) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        results[c->user_data] = c->res;
        head++;
        n++;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return n;
}

int clinux_send_ring_send(void *ring, int count, const int *fds, const void *const *buffers,
                          const uint32_t *lengths, int32_t *results) {
    struct clinux_send_ring *r = ring;
    if (count <= 0) return 0;
    if ((unsigned)count > r->entries) { errno = EINVAL; return -1; }
    unsigned tail = *r->sq_tail;
    for (int i = 0; i < count; i++) {
        unsigned index = tail & *r->sq_mask;
        struct io_uring_sqe *s = &r->sqes[index];
        memset(s, 0, sizeof *s);
        s->opcode = IORING_OP_SEND;
        s->fd = fds[i];
        s->addr = (uint64_t)(uintptr_t)buffers[i];
        s->len = lengths[i];
        s->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
        s->user_data = (uint64_t)i;
        r->sq_array[index] = index;
        results[i] = -EAGAIN;
        tail++;
    }
    __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
    int done = 0;
    for (;;) {
        unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        unsigned unsubmitted = tail - head;
        int ret = (int)syscall(__NR_io_uring_enter, r->fd, unsubmitted, (unsigned)(count - done),
                               IORING_ENTER_GETEVENTS, NULL, 0);
        int e = errno;
        done += reap(r, results);
        if (done >= count) return 0;
        if (ret < 0 && e != EINTR) {
            /* Whatever the kernel did not take is withdrawn: it reads the submission queue
               only inside io_uring_enter, on this thread. Those sends stay at -EAGAIN. */
            head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
            if (head != tail && tail - head == (unsigned)(count - done)) {
                __atomic_store_n(r->sq_tail, head, __ATOMIC_RELEASE);
                return 0;
            }
            errno = e;
            return -1;
        }
    }
}
