#define _GNU_SOURCE
#include "CUDPBatch.h"
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#define SAME(field) _Static_assert(offsetof(cdns_mmsghdr, field) == offsetof(struct mmsghdr, field) && \
    sizeof(((cdns_mmsghdr *)0)->field) == sizeof(((struct mmsghdr *)0)->field), "mmsghdr layout: " #field)
_Static_assert(sizeof(cdns_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
SAME(msg_hdr.msg_name);
SAME(msg_hdr.msg_namelen);
SAME(msg_hdr.msg_iov);
SAME(msg_hdr.msg_iovlen);
SAME(msg_hdr.msg_control);
SAME(msg_hdr.msg_controllen);
SAME(msg_hdr.msg_flags);
SAME(msg_len);

int cdns_recvmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)vector, count, flags, NULL);
}

int cdns_sendmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vector, count, flags);
}

void cdns_set_thread_name(const char *name) {
    pthread_setname_np(pthread_self(), name);
}

int cdns_gettid(void) {
    return (int)gettid();
}
#else
void cdns_set_thread_name(const char *name) {}

int cdns_gettid(void) {
    return -1;
}

int cdns_recvmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags) {
    errno = ENOSYS;
    return -1;
}

int cdns_sendmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags) {
    errno = ENOSYS;
    return -1;
}
#endif
