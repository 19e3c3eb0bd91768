/*
 * common/fsutil.c — durable file replacement and small file helpers.
 *
 * The atomic write follows the usual recipe (temp file in the same
 * directory so rename(2) never crosses a filesystem, fsync the data, rename,
 * fsync the directory so the rename itself survives a crash).  Any failure
 * removes the temp file and leaves the target exactly as it was.
 */
#include "common/fsutil.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directory part of PATH into buf: "." for a bare name, "/" for "/x". */
static int dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return snprintf(buf, len, ".") < (int)len ? 0 : -1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

static int fsync_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	int fd;

	if (dir_of(path, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "fsync directory of %s: path too long", path);
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "fsync directory %s: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Fill, flush and close the temp file; 0, or -1 with err and fd closed. */
static int fill_temp(int fd, const char *path, const void *data, size_t len, mode_t mode,
		     char *err, size_t errlen)
{
	const char *what = NULL;

	if (fs_write_all(fd, data, len) < 0)
		what = "write";
	else if (fchmod(fd, mode) < 0)
		what = "chmod";
	else if (fsync(fd) < 0)
		what = "fsync";
	if (what) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	/* close can report a deferred write error (NFS, quota). */
	if (close(fd) < 0) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	const char *base = strrchr(path, '/');
	int fd;

	base = base ? base + 1 : path;
	if (dir_of(path, dir, sizeof(dir)) < 0 ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "write %s: path too long", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "create temporary file for %s: %s", path, strerror(errno));
		return -1;
	}
	if (fill_temp(fd, path, data, len, mode, err, errlen) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fsync_dir(path, err, errlen);
}

/* Read fd to EOF into a growing buffer capped at max_len. */
static int read_fd(int fd, const char *path, size_t max_len, char **data, size_t *len,
		   char *err, size_t errlen)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);

	if (!buf) {
		snprintf(err, errlen, "read %s: out of memory", path);
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (used == cap) {
			char *nb = cap > max_len ? NULL : realloc(buf, cap * 2 + 1);

			if (!nb) {
				snprintf(err, errlen, "read %s: %s", path,
					 cap > max_len ? "file too large" : "out of memory");
				free(buf);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read %s: %s", path, strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max_len) {
		snprintf(err, errlen, "read %s: file too large (over %zu bytes)", path, max_len);
		free(buf);
		return -1;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return 0;
}

int fs_read_all(const char *path, size_t max_len, char **data, size_t *len,
		char *err, size_t errlen)
{
	int fd, rc;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	rc = read_fd(fd, path, max_len, data, len, err, errlen);
	close(fd);
	return rc;
}

int fs_remove_durable(const char *path, char *err, size_t errlen)
{
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "remove %s: %s", path, strerror(errno));
		return -1;
	}
	return fsync_dir(path, err, errlen);
}

/* mkdir one component; an existing directory is fine, anything else is not. */
static int mkdir_one(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mkdir %s: exists and is not a directory", path);
		return -1;
	}
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "mkdir %s: %s", path, n ? "path too long" : "empty path");
		return -1;
	}
	memcpy(buf, path, n + 1);
	/* Create each prefix ending just before a '/', then the whole path. */
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_one(buf, mode, err, errlen) < 0)
			return -1;
		*p = '/';
	}
	return mkdir_one(buf, mode, err, errlen);
}

int fs_write_all(int fd, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fs_lock_pidfile(const char *path, char *err, size_t errlen)
{
	char pid[32] = "";
	ssize_t n;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		err_set(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? (size_t)n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			err_set(err, errlen, "%s is held by pid %s: another vigil runs on this state_dir",
				path, pid[0] ? pid : "?");
		else
			err_set(err, errlen, "lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		err_set(err, errlen, "write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int fs_open_regular(const char *path, int flags, mode_t mode, bool *missing, char *err,
		    size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, mode);

	*missing = false;
	if (fd < 0) {
		*missing = errno == ENOENT && !(flags & O_CREAT);
		if (!*missing)
			err_set(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		err_set(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}
