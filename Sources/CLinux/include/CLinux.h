#ifndef CLINUX_H
#define CLINUX_H
/* No _GNU_SOURCE here: glibc's structs would then differ from SwiftGlibc's (platform notes §2). */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>

int clinux_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* epoll_data is a union; these keep Swift away from its packed layout. */
static inline uint64_t clinux_event_u64(const struct epoll_event *e) { return e->data.u64; }
static inline uint32_t clinux_event_mask(const struct epoll_event *e) { return e->events; }
int clinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
#endif
