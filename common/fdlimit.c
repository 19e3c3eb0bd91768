/* common/fdlimit.c — vigil's own descriptors and their limit (see fdlimit.h). */
#include "common/fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/error.h"

bool fd_errno_is_local(int e)
{
	switch (e) {
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case ENOBUFS:
	case EAGAIN:
	case EADDRNOTAVAIL:
		return true;
	default:
		return false;
	}
}

const char *fd_errno_text(int e, char *buf, size_t len)
{
	const char *name = strerrorname_np(e);

	if (name)
		snprintf(buf, len, "%s (%s)", strerror(e), name);
	else
		snprintf(buf, len, "%s (errno %d)", strerror(e), e);
	return buf;
}

size_t fd_limit_soft(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? SIZE_MAX : (size_t)rl.rlim_cur;
}

size_t fd_open_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return SIZE_MAX;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	/* Not counting the directory's own descriptor. */
	return n > 0 ? n - 1 : 0;
}

int fd_limit_ensure(size_t need, size_t *raised_to, char *err, size_t errlen)
{
	struct rlimit rl;

	*raised_to = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		err_set(err, errlen, "read RLIMIT_NOFILE: %s", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need) {
		err_set(err, errlen, "the configuration needs %zu file descriptors, but the hard "
			"limit (RLIMIT_NOFILE) is %llu: raise it (ulimit -Hn, or LimitNOFILE= in the "
			"systemd unit) or lower control.max_connections", need,
			(unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		err_set(err, errlen, "raise RLIMIT_NOFILE to %zu: %s", need, strerror(errno));
		return -1;
	}
	*raised_to = need;
	return 0;
}
