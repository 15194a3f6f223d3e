#ifndef CUDPBATCH_H
#define CUDPBATCH_H

#include <stddef.h>

// No system socket header here: this module would then own its
// declarations, and Swift files importing only Glibc would lose them.

/// `struct msghdr` of <sys/socket.h> (Linux, glibc); CUDPBatch.c checks that
/// every field sits where the system's does.
typedef struct {
    void *msg_name;
    unsigned int msg_namelen;
    void *msg_iov;
    size_t msg_iovlen;
    void *msg_control;
    size_t msg_controllen;
    int msg_flags;
} cdns_msghdr;

/// `struct mmsghdr`, which Swift's Glibc module hides behind _GNU_SOURCE.
typedef struct {
    cdns_msghdr msg_hdr;
    unsigned int msg_len;
} cdns_mmsghdr;

/// recvmmsg(2) and sendmmsg(2) (Linux); -1 with errno ENOSYS elsewhere.
int cdns_recvmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags);
int cdns_sendmmsg(int fd, cdns_mmsghdr *vector, unsigned int count, int flags);

/// Names the calling thread (shown by top, perf and gdb); a no-op where unsupported.
void cdns_set_thread_name(const char *name);

/// The calling thread's kernel id (gettid(2), for setpriority); -1 where unsupported.
int cdns_gettid(void);

#endif
