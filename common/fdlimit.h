/*
 * common/fdlimit.h — vigil's own resources, told apart from a node's faults.
 *
 * A probe that cannot get a socket, a pipe or a process because vigil has
 * run out of them says nothing about the node it was aimed at.  These
 * helpers name such errors, count the descriptors in use, and raise the
 * soft RLIMIT_NOFILE to what the configuration needs.
 */
#ifndef VIGIL_COMMON_FDLIMIT_H
#define VIGIL_COMMON_FDLIMIT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * An errno that means "vigil ran out of something", not "the peer said
 * no": EMFILE, ENFILE, ENOMEM, ENOBUFS, EAGAIN (fork, or no local port),
 * EADDRNOTAVAIL (no ephemeral port left).
 */
bool fd_errno_is_local(int e);
/* "Too many open files (EMFILE)": strerror with the errno's own name. */
const char *fd_errno_text(int e, char *buf, size_t len);

/* The soft RLIMIT_NOFILE (SIZE_MAX when unlimited, 0 when unknown). */
size_t fd_limit_soft(void);
/* Descriptors open now (entries of /proc/self/fd); SIZE_MAX when unknown. */
size_t fd_open_count(void);
/*
 * Make sure at least need descriptors may be open: raise the soft limit
 * to need when it is lower and the hard limit allows.  0 (with *raised_to
 * the new soft limit, or 0 when nothing changed), or -1 with err when the
 * hard limit is below need.
 */
int fd_limit_ensure(size_t need, size_t *raised_to, char *err, size_t errlen);

#endif
