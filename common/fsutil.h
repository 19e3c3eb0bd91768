/*
 * common/fsutil.h — file helpers.
 *
 * fs_write_atomic: write to a temporary file in the same directory, fsync
 * it, rename over PATH, fsync the directory.  Readers see the old content
 * or the new, never a torn file; after a crash the file is one or the other.
 */
#ifndef VIGIL_COMMON_FSUTIL_H
#define VIGIL_COMMON_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* 0 on success; -1 with "what failed: why" in err. mode is for a new file. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    char *err, size_t errlen);
/*
 * Read a whole file into a NUL-terminated malloc'd buffer (*len excludes the
 * NUL).  Returns 0, or 1 when the file does not exist (*data = NULL), or -1
 * on error with err filled.  Files over max_len are an error.
 */
/* Write all n bytes to fd, retrying short writes and EINTR: 0, or -1 with errno. */
int fs_write_all(int fd, const void *data, size_t n);

int fs_read_all(const char *path, size_t max_len, char **data, size_t *len,
		char *err, size_t errlen);
/*
 * Open PATH (flags as for open(2); O_CLOEXEC added) and make sure it is a
 * regular file, never blocking: a FIFO or a device planted there is
 * refused, not waited on or read forever.  The descriptor, or -1 with err
 * ("PATH is not a regular file"); with *missing set (and no err) when
 * PATH does not exist and flags do not create it.
 */
int fs_open_regular(const char *path, int flags, mode_t mode, bool *missing, char *err,
		    size_t errlen);
/*
 * Hold an exclusive lock on PATH (created 0600) for as long as the returned
 * descriptor stays open, with our pid written in it.  -1 with err when
 * another process holds it ("... held by pid N").
 */
int fs_lock_pidfile(const char *path, char *err, size_t errlen);
/* Remove PATH and fsync its directory; a missing file is success. */
int fs_remove_durable(const char *path, char *err, size_t errlen);
/* mkdir -p with mode for created components. */
int fs_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

#endif
