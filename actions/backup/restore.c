/*
 * actions/backup/restore.c — a snapshot back into a directory.
 *
 * A file is written under a temporary name next to its final one and
 * renamed only once every chunk has been read, decrypted, decompressed,
 * re-hashed and written, and its size, owner, mode and mtime are set: a
 * damaged chunk therefore never leaves a wrong file behind, only a loud
 * error naming the file and the snapshot.  The rest of the snapshot is
 * still restored (in a disaster, every good file counts).
 *
 * The chunks are read, decoded and checked on a second thread
 * (readahead.h) while this one creates and writes the files.  All-zero
 * chunks become holes (lseek over them), so sparse files come back
 * sparse.  Directories are created private and get their real mode, owner
 * and mtime last, deepest first, so filling them neither fails on a
 * read-only directory nor bumps a restored mtime.  Ownership is restored
 * only when running as root.
 */
#include "actions/backup/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/backup/readahead.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/sweep.h"
#include "actions/backup/tree.h"
#include "common/error.h"
#include "common/fsutil.h"

struct dirmeta {
	char *path;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
};

struct restore {
	struct bk_repo *r;
	const struct bk_restore_opts *o;
	struct bk_restore_stats *st;
	char snap[BK_ID_HEX];
	const char *target;
	bool root;
	struct bk_readahead *ra; /* the chunks, read and checked ahead */
	struct bk_tab paths;     /* with delete_extra: bk_sweep_key of every entry */
	struct dirmeta *dirs;
	size_t ndirs, cap;
	uint64_t bytes_total; /* from the manifest, for progress */
	char first_bad[1024];
	char *err;
	size_t errlen;
};

static int full_path(const struct restore *rs, const char *rel, char *out, size_t len)
{
	int n = strcmp(rel, ".") == 0 ? snprintf(out, len, "%s", rs->target)
				      : snprintf(out, len, "%s/%s", rs->target, rel);

	if (n >= (int)len) {
		err_set(rs->err, rs->errlen, "restore %s: path too long", rel);
		return -1;
	}
	return 0;
}

/* The directory part of a full path, and a temp name in it. */
static int temp_path(const char *full, char *out, size_t len)
{
	const char *slash = strrchr(full, '/');
	int dn = slash ? (int)(slash - full) : 1;

	return snprintf(out, len, "%.*s/.vigil-restore-XXXXXX", dn, slash ? full : ".") <
			       (int)len ? 0 : -1;
}

/* Refuse to write through anything but a real directory (a symlink in the
 * target would otherwise redirect later entries outside it). */
static int parent_ok(struct restore *rs, const char *full, const char *rel)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(full, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - full), full);
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_set(rs->err, rs->errlen, "restore %s: its directory %s is not a directory", rel,
			dir);
		return -1;
	}
	return 0;
}

static void times_of(int64_t ns, struct timespec ts[2])
{
	ts[0].tv_sec = (time_t)(ns / 1000000000);
	ts[0].tv_nsec = (long)(ns % 1000000000);
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_sec--;
		ts[0].tv_nsec += 1000000000;
	}
	ts[1] = ts[0];
}

static void report(struct restore *rs, const char *path, const char *why)
{
	char msg[1280];

	snprintf(msg, sizeof(msg), "restore snapshot %.16s: file %s: %s", rs->snap, path, why);
	if (rs->st->damaged_files++ == 0)
		snprintf(rs->first_bad, sizeof(rs->first_bad), "%s: %s", path, why);
	if (rs->o->problem)
		rs->o->problem(rs->o->arg, msg);
}

static void progress(struct restore *rs, const char *path, bool done)
{
	struct bk_progress p = { .files = rs->st->files, .bytes = rs->st->bytes,
				 .bytes_total = rs->bytes_total, .path = path, .done = done };

	if (rs->o->progress)
		rs->o->progress(rs->o->progress_arg, &p);
}

/* Write the file's next chunk at its offset: 0, 1 damaged (why filled), -1 error. */
static int put_chunk(struct restore *rs, int fd, uint64_t *off, char *why, size_t whylen)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	bool zero = false;
	int rc = bk_readahead_chunk(rs->ra, &p, &n, &zero, why, whylen);

	if (rc != 0)
		return rc; /* -1 with why: the read-ahead lost its place */
	*off += n;
	if (zero)
		return lseek(fd, (off_t)*off, SEEK_SET) < 0 ? -1 : 0;
	return fs_write_all(fd, p, n);
}

/* Content, size and metadata of the open temp file: 0, 1 damaged, -1 error. */
static int fill_file(struct restore *rs, int fd, const struct bk_entry *e, char *why,
		     size_t whylen)
{
	struct timespec ts[2];
	uint64_t off = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < e->nchunks; i++)
		rc = put_chunk(rs, fd, &off, why, whylen);
	if (rc == 0 && off != e->size) {
		snprintf(why, whylen, "chunks hold %llu bytes, the file had %llu",
			 (unsigned long long)off, (unsigned long long)e->size);
		rc = 1;
	}
	if (rc != 0)
		return rc;
	times_of(e->mtime_ns, ts);
	if (ftruncate(fd, (off_t)off) < 0 || (rs->root && fchown(fd, e->uid, e->gid) < 0) ||
	    fchmod(fd, e->mode) < 0 || futimens(fd, ts) < 0)
		return -1;
	return 0;
}

static int restore_file(struct restore *rs, const struct bk_entry *e, const char *full)
{
	char tmp[PATH_MAX], why[512] = "";
	int fd, rc;

	if (temp_path(full, tmp, sizeof(tmp)) < 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		err_set(rs->err, rs->errlen, "restore %s: create temporary file: %s", e->path,
			strerror(errno));
		return -1;
	}
	rc = fill_file(rs, fd, e, why, sizeof(why));
	if (rc < 0)
		err_set(rs->err, rs->errlen, "restore %s: %s", e->path,
			why[0] ? why : strerror(errno));
	if (close(fd) < 0 && rc == 0) {
		err_set(rs->err, rs->errlen, "restore %s: close: %s", e->path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, full) < 0) {
		err_set(rs->err, rs->errlen, "restore %s: rename: %s", e->path, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		unlink(tmp);
	if (rc == 1)
		report(rs, e->path, why);
	if (rc == 0) {
		rs->st->files++;
		rs->st->bytes += e->size;
		progress(rs, e->path, false);
	}
	return rc < 0 ? -1 : 0;
}

static int restore_symlink(struct restore *rs, const struct bk_entry *e, const char *full)
{
	char tmp[PATH_MAX];
	struct timespec ts[2];
	int fd;

	/* mkstemp reserves a unique name; the symlink then takes its place. */
	if (temp_path(full, tmp, sizeof(tmp)) < 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		goto fail;
	close(fd);
	times_of(e->mtime_ns, ts);
	if (unlink(tmp) < 0 || symlink(e->target, tmp) < 0 ||
	    (rs->root && lchown(tmp, e->uid, e->gid) < 0) ||
	    utimensat(AT_FDCWD, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0 || rename(tmp, full) < 0) {
		unlink(tmp);
		goto fail;
	}
	rs->st->symlinks++;
	return 0;
fail:
	err_set(rs->err, rs->errlen, "restore %s: symlink: %s", e->path, strerror(errno));
	return -1;
}

static int restore_dir(struct restore *rs, const struct bk_entry *e, const char *full)
{
	struct stat st;
	struct dirmeta *d;

	if (strcmp(e->path, ".") != 0 && mkdir(full, 0700) < 0 &&
	    (errno != EEXIST || lstat(full, &st) < 0 || !S_ISDIR(st.st_mode))) {
		err_set(rs->err, rs->errlen, "restore %s: mkdir: %s", e->path,
			errno == EEXIST ? "something else is in the way" : strerror(errno));
		return -1;
	}
	if (rs->ndirs == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;
		struct dirmeta *nd = realloc(rs->dirs, ncap * sizeof(*nd));

		if (!nd)
			return -1;
		rs->dirs = nd;
		rs->cap = ncap;
	}
	d = &rs->dirs[rs->ndirs];
	if (!(d->path = strdup(full)))
		return -1;
	d->mode = e->mode;
	d->uid = e->uid;
	d->gid = e->gid;
	d->mtime_ns = e->mtime_ns;
	rs->ndirs++;
	rs->st->dirs++;
	return 0;
}

/* Directory metadata, children before parents (the reverse of the tree's order). */
static int finish_dirs(struct restore *rs)
{
	struct timespec ts[2];

	for (size_t i = rs->ndirs; i-- > 0;) {
		struct dirmeta *d = &rs->dirs[i];

		times_of(d->mtime_ns, ts);
		if ((rs->root && lchown(d->path, d->uid, d->gid) < 0) || chmod(d->path, d->mode) < 0 ||
		    utimensat(AT_FDCWD, d->path, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			err_set(rs->err, rs->errlen, "restore %s: set metadata: %s", d->path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int restore_entry(struct restore *rs, const struct bk_entry *e)
{
	char full[PATH_MAX];

	if (full_path(rs, e->path, full, sizeof(full)) < 0)
		return -1;
	if (rs->o->delete_extra) {
		uint8_t key[BK_ID_LEN];
		bool existed;

		bk_sweep_key(e->path, key);
		if (!bk_tab_insert(&rs->paths, key, &existed))
			return -1;
	}
	if (strcmp(e->path, ".") != 0 && parent_ok(rs, full, e->path) < 0)
		return -1;
	switch (e->type) {
	case BK_DIR:
		return restore_dir(rs, e, full);
	case BK_FILE:
		return restore_file(rs, e, full);
	case BK_SYMLINK:
		return restore_symlink(rs, e, full);
	}
	return -1;
}

static int restore_tree(struct restore *rs, const struct bk_snapshot *s)
{
	struct bk_entry e;
	char why[512] = "";
	int rc;

	rs->ra = bk_readahead_new(rs->r, s->tree, s->ntree, rs->err, rs->errlen);
	if (!rs->ra)
		return -1;
	while ((rc = bk_readahead_entry(rs->ra, &e, why, sizeof(why))) == 1) {
		rc = restore_entry(rs, &e);
		bk_entry_clear(&e);
		if (rc < 0)
			break;
	}
	/* The repository is the caller's again once the thread is gone. */
	bk_readahead_free(rs->ra);
	rs->ra = NULL;
	if (rc < 0 && why[0])
		err_set(rs->err, rs->errlen, "restore snapshot %s: tree: %s", rs->snap, why);
	/* Only a whole restore may delete: a partial one is for inspection.
	 * Before the directories get their modes and mtimes, which it would
	 * otherwise change (or be refused by). */
	if (rc == 0 && rs->st->damaged_files == 0 && rs->o->delete_extra)
		rc = bk_sweep(rs->target, &rs->paths, rs->o->problem, rs->o->arg, &rs->st->removed,
			      rs->err, rs->errlen);
	if (rc == 0)
		rc = finish_dirs(rs);
	return rc;
}

static int run_restore(struct restore *rs)
{
	struct bk_snapshot s;
	int rc = bk_snapshot_resolve(rs->r, rs->o->snapshot, rs->o->job, NULL, rs->snap, rs->err,
				     rs->errlen);
	int fd;

	if (rc == 1)
		err_set(rs->err, rs->errlen, "restore: no snapshot %s",
			rs->o->snapshot ? rs->o->snapshot : "to restore");
	if (rc != 0 || bk_snapshot_load(rs->r, rs->snap, &s, rs->err, rs->errlen) != 0)
		return -1;
	if (fs_mkdir_p(rs->target, 0700, rs->err, rs->errlen) < 0) {
		bk_snapshot_clear(&s);
		return -1;
	}
	rs->bytes_total = s.bytes;
	rc = restore_tree(rs, &s);
	bk_snapshot_clear(&s);
	/* One flush for the whole restore instead of one per file. */
	fd = open(rs->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	if (rc == 0)
		progress(rs, NULL, true);
	if (rc == 0 && rs->st->damaged_files > 0) {
		err_set(rs->err, rs->errlen,
			"restore snapshot %s: %llu damaged file(s) not restored; first: %s", rs->snap,
			(unsigned long long)rs->st->damaged_files, rs->first_bad);
		rc = -1;
	}
	return rc;
}

int bk_restore(struct bk_repo *r, const struct bk_restore_opts *o, struct bk_restore_stats *st,
	       char *err, size_t errlen)
{
	struct bk_restore_stats local = { 0 };
	struct restore rs = { .r = r, .o = o, .err = err, .errlen = errlen };
	int rc;

	rs.st = st ? st : &local;
	memset(rs.st, 0, sizeof(*rs.st));
	if (!o->target || !o->target[0]) {
		err_set(err, errlen, "restore: no target directory given");
		return -1;
	}
	rs.target = o->target;
	rs.root = geteuid() == 0;
	bk_tab_init(&rs.paths, BK_ID_LEN);
	err_set(err, errlen, "%s", "");
	rc = run_restore(&rs);
	if (rc < 0 && err && errlen && err[0] == '\0')
		err_set(err, errlen, "restore: out of memory");
	for (size_t i = 0; i < rs.ndirs; i++)
		free(rs.dirs[i].path);
	free(rs.dirs);
	bk_tab_free(&rs.paths);
	return rc;
}
