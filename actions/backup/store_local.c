/*
 * actions/backup/store_local.c — the local-directory backend (store.h).
 *
 * A put writes the whole object to tmp/<random>, fsyncs it, renames it to
 * its name and fsyncs the target directory: the name appears only once the
 * bytes are on disk, so a crash or a full disk leaves at most a file in
 * tmp/, which clean() removes.  put_new uses link(2) instead of rename(2)
 * because link refuses an existing name in the same atomic step.
 *
 * put_lazy starts the temp file's writeback (sync_file_range) without
 * waiting for it, and sync later fsyncs and renames the batch: the disk
 * works while the next packs are built, and a name still only appears
 * for bytes already on disk.
 *
 * Reads of blobs come in runs from the same pack, so one descriptor stays
 * open for the last object read.
 */
#include "actions/backup/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/backup/bkutil.h"
#include "common/error.h"
#include "common/fsutil.h"

struct lazy {
	char tmp[PATH_MAX], path[PATH_MAX];
};

struct local {
	struct bk_store base;
	char *root;
	int fd;        /* open on fd_name, or -1 */
	char *fd_name;
	struct lazy *lazy; /* put_lazy objects waiting for sync */
	size_t nlazy, caplazy;
};

void bk_pack_name(const char *hex, char *out, size_t len)
{
	snprintf(out, len, "data/%.2s/%s", hex, hex);
}

static int path_of(const struct local *l, const char *name, char *buf, size_t len,
		   char *err, size_t errlen)
{
	if (snprintf(buf, len, "%s/%s", l->root, name) >= (int)len) {
		err_set(err, errlen, "%s/%s: path too long", l->root, name);
		return -1;
	}
	return 0;
}

static int fsync_path(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		err_set(err, errlen, "fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* fsync the directory that holds PATH. */
static int fsync_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= sizeof(dir))
		return fsync_path(n == 0 && slash ? "/" : ".", err, errlen);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return fsync_path(dir, err, errlen);
}

/* Write data to a new file in tmp/ and flush it; its path into tmp. */
static int write_temp(struct local *l, const void *data, size_t len, bool durable, char *tmp,
		      size_t tmplen, char *err, size_t errlen)
{
	uint8_t rnd[8];
	char hex[17];
	int fd;

	if (bk_random(rnd, sizeof(rnd), err, errlen) < 0)
		return -1;
	bk_hex(rnd, sizeof(rnd), hex);
	if (snprintf(tmp, tmplen, "%s/tmp/%s", l->root, hex) >= (int)tmplen) {
		err_set(err, errlen, "%s/tmp: path too long", l->root);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fs_write_all(fd, data, len) < 0 ||
	    (durable ? fsync(fd) : sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)) < 0) {
		err_set(err, errlen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set(err, errlen, "close %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int local_put(struct bk_store *s, const char *name, const void *data, size_t len,
		     char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	char tmp[PATH_MAX], path[PATH_MAX];

	if (path_of(l, name, path, sizeof(path), err, errlen) < 0 ||
	    write_temp(l, data, len, true, tmp, sizeof(tmp), err, errlen) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		err_set(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fsync_parent(path, err, errlen);
}

static int local_put_new(struct bk_store *s, const char *name, const void *data, size_t len,
			 char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	char tmp[PATH_MAX], path[PATH_MAX];
	int rc = 0;

	if (path_of(l, name, path, sizeof(path), err, errlen) < 0 ||
	    write_temp(l, data, len, true, tmp, sizeof(tmp), err, errlen) < 0)
		return -1;
	if (link(tmp, path) < 0) {
		rc = errno == EEXIST ? 1 : -1;
		if (rc < 0)
			err_set(err, errlen, "link %s to %s: %s", tmp, path, strerror(errno));
	}
	unlink(tmp);
	if (rc != 0)
		return rc;
	return fsync_parent(path, err, errlen);
}

static int local_put_lazy(struct bk_store *s, const char *name, const void *data, size_t len,
			  char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	struct lazy *z;

	if (l->nlazy == l->caplazy) {
		size_t ncap = l->caplazy ? l->caplazy * 2 : 8;
		struct lazy *nz = realloc(l->lazy, ncap * sizeof(*nz));

		if (!nz) {
			err_set(err, errlen, "put %s: out of memory", name);
			return -1;
		}
		l->lazy = nz;
		l->caplazy = ncap;
	}
	z = &l->lazy[l->nlazy];
	if (path_of(l, name, z->path, sizeof(z->path), err, errlen) < 0 ||
	    write_temp(l, data, len, false, z->tmp, sizeof(z->tmp), err, errlen) < 0)
		return -1;
	l->nlazy++;
	return 0;
}

/* fsync one waiting object and give it its name. */
static int settle(const struct lazy *z, char *err, size_t errlen)
{
	int fd = open(z->tmp, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		err_set(err, errlen, "fsync %s: %s", z->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (rename(z->tmp, z->path) < 0) {
		err_set(err, errlen, "rename %s to %s: %s", z->tmp, z->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int local_sync(struct bk_store *s, char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->nlazy; i++)
		rc = settle(&l->lazy[i], err, errlen);
	/* Then each directory a name appeared in (rarely the same twice). */
	for (size_t i = 0; rc == 0 && i < l->nlazy; i++)
		rc = fsync_parent(l->lazy[i].path, err, errlen);
	for (size_t i = 0; rc < 0 && i < l->nlazy; i++)
		unlink(l->lazy[i].tmp);
	l->nlazy = 0;
	return rc;
}

static void local_discard(struct bk_store *s)
{
	struct local *l = (struct local *)s;

	for (size_t i = 0; i < l->nlazy; i++)
		unlink(l->lazy[i].tmp);
	l->nlazy = 0;
}

static int local_get(struct bk_store *s, const char *name, size_t max, uint8_t **data,
		     size_t *len, char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	char path[PATH_MAX], *d = NULL;
	int rc;

	*data = NULL;
	if (path_of(l, name, path, sizeof(path), err, errlen) < 0)
		return -1;
	rc = fs_read_all(path, max, &d, len, err, errlen);
	*data = (uint8_t *)d;
	return rc;
}

/* The cached descriptor for name, opening it when needed; 1 when missing. */
static int open_cached(struct local *l, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX], *copy;
	int fd;

	if (l->fd >= 0 && strcmp(l->fd_name, name) == 0)
		return 0;
	if (path_of(l, name, path, sizeof(path), err, errlen) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		err_set(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	copy = strdup(name);
	if (!copy) {
		close(fd);
		err_set(err, errlen, "open %s: out of memory", path);
		return -1;
	}
	if (l->fd >= 0)
		close(l->fd);
	free(l->fd_name);
	l->fd = fd;
	l->fd_name = copy;
	return 0;
}

static int local_read_at(struct bk_store *s, const char *name, uint64_t off, void *buf,
			 size_t len, char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	uint8_t *p = buf;
	int rc = open_cached(l, name, err, errlen);

	if (rc != 0)
		return rc;
	while (len > 0) {
		ssize_t n = pread(l->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, errlen, "read %s/%s: %s", l->root, name,
				n < 0 ? strerror(errno) : "file is shorter than its index says");
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int local_size(struct bk_store *s, const char *name, uint64_t *size, char *err,
		      size_t errlen)
{
	struct local *l = (struct local *)s;
	char path[PATH_MAX];
	struct stat st;

	if (path_of(l, name, path, sizeof(path), err, errlen) < 0)
		return -1;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		err_set(err, errlen, "stat %s: %s", path, strerror(errno));
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* List regular files under rel (recursing into subdirectories up to depth). */
static int list_dir(struct local *l, const char *rel, int depth, bk_list_fn fn, void *arg,
		    char *err, size_t errlen)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (path_of(l, rel, path, sizeof(path), err, errlen) < 0)
		return -1;
	d = opendir(path);
	if (!d) {
		err_set(err, errlen, "list %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name) >= (int)sizeof(sub))
			continue;
		if (e->d_type == DT_DIR && depth > 0)
			rc = list_dir(l, sub, depth - 1, fn, arg, err, errlen);
		else if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)
			rc = fn(arg, sub);
	}
	if (rc == 0 && errno != 0) {
		err_set(err, errlen, "list %s: %s", path, strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

static int local_list(struct bk_store *s, const char *dir, bk_list_fn fn, void *arg,
		      char *err, size_t errlen)
{
	return list_dir((struct local *)s, dir, 1, fn, arg, err, errlen);
}

static int local_remove(struct bk_store *s, const char *name, char *err, size_t errlen)
{
	struct local *l = (struct local *)s;
	char path[PATH_MAX];

	if (l->fd >= 0 && strcmp(l->fd_name, name) == 0) {
		close(l->fd);
		l->fd = -1;
	}
	if (path_of(l, name, path, sizeof(path), err, errlen) < 0)
		return -1;
	return fs_remove_durable(path, err, errlen);
}

static int remove_tmp(void *arg, const char *name)
{
	struct local *l = arg;
	char path[PATH_MAX];

	if (path_of(l, name, path, sizeof(path), NULL, 0) == 0)
		unlink(path);
	return 0;
}

static int local_clean(struct bk_store *s, char *err, size_t errlen)
{
	return list_dir((struct local *)s, "tmp", 0, remove_tmp, s, err, errlen);
}

static void local_free(struct bk_store *s)
{
	struct local *l = (struct local *)s;

	if (l->fd >= 0)
		close(l->fd);
	local_discard(s);
	free(l->lazy);
	free(l->fd_name);
	free(l->root);
	free(l);
}

static const struct bk_store_ops local_ops = {
	.put = local_put,
	.put_new = local_put_new,
	.put_lazy = local_put_lazy,
	.sync = local_sync,
	.discard = local_discard,
	.get = local_get,
	.read_at = local_read_at,
	.size = local_size,
	.list = local_list,
	.remove = local_remove,
	.clean = local_clean,
	.free = local_free,
};

/* The layout of a new repository; every directory fsynced into its parent. */
static int make_layout(const char *root, char *err, size_t errlen)
{
	static const char *const dirs[] = { "data", "index", "snapshots", "tmp" };
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/config", root) >= (int)sizeof(path)) {
		err_set(err, errlen, "%s: path too long", root);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		err_set(err, errlen, "%s: already a repository", root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		if (fs_mkdir_p(path, 0700, err, errlen) < 0)
			return -1;
	}
	for (int i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "%s/data/%02x", root, i);
		if (fs_mkdir_p(path, 0700, err, errlen) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/data", root);
	if (fsync_path(path, err, errlen) < 0 || fsync_path(root, err, errlen) < 0)
		return -1;
	return fsync_parent(root, err, errlen);
}

struct bk_store *bk_store_local_new(const char *path, bool create, char *err, size_t errlen)
{
	struct local *l;
	struct stat st;

	if (strlen(path) > PATH_MAX - 200) {
		err_set(err, errlen, "%s: path too long", path);
		return NULL;
	}
	if (create && (fs_mkdir_p(path, 0700, err, errlen) < 0 ||
		       make_layout(path, err, errlen) < 0))
		return NULL;
	if (!create && stat(path, &st) < 0) {
		err_set(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!create && !S_ISDIR(st.st_mode)) {
		err_set(err, errlen, "%s: not a directory", path);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->root = strdup(path))) {
		free(l);
		err_set(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	l->fd = -1;
	l->base.ops = &local_ops;
	l->base.where = l->root;
	return &l->base;
}

void bk_store_free(struct bk_store *s)
{
	if (s)
		s->ops->free(s);
}
