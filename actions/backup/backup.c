/*
 * actions/backup/backup.c — one snapshot of a directory tree.
 *
 * The walk uses directory descriptors (openat/fstatat with O_NOFOLLOW), so
 * a symlink is recorded as a symlink and never followed, and a directory
 * renamed mid-walk cannot redirect it elsewhere.  Names are sorted, so the
 * tree text of an unchanged directory is byte for byte the same as last
 * time and its chunks deduplicate.
 *
 * Incremental: a regular file whose size, mtime (ns) and inode match the
 * parent snapshot's entry, and whose chunks are all still indexed, gets
 * the parent's chunk list without being opened.  A full backup reads
 * everything.  Either way only chunks the index lacks are written.
 */
#include "actions/backup/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/backup/snapbuild.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/tree.h"
#include "common/error.h"
#include "common/log.h"

struct walk {
	struct bk_snapbuild sb; /* first: &wk->sb is where errors and stats go */
	struct bk_repo *r;
	struct bk_pathmap *parent; /* NULL: read every file */
	struct bk_backup_stats *st;
	char *err;
	size_t errlen;
};

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int emit(struct walk *wk, const struct bk_entry *e)
{
	return bk_sb_emit(&wk->sb, e);
}

static void fill_meta(struct bk_entry *e, const struct stat *st, enum bk_etype type)
{
	e->type = type;
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_ns = mtime_ns(st);
}

/* The parent's chunk list for an unchanged file; false when it must be read. */
static bool reuse_parent(struct walk *wk, struct bk_entry *e, const struct stat *st)
{
	const struct bk_entry *p = wk->parent ? bk_pathmap_get(wk->parent, e->path) : NULL;

	if (!p || p->type != BK_FILE || p->size != (uint64_t)st->st_size ||
	    p->mtime_ns != mtime_ns(st) || p->inode != (uint64_t)st->st_ino)
		return false;
	for (size_t i = 0; i < p->nchunks; i++)
		if (!bk_index_find(&wk->r->index, p->chunks + i * BK_ID_LEN))
			return false;
	e->chunks = malloc(p->nchunks ? p->nchunks * BK_ID_LEN : 1);
	if (!e->chunks)
		return false;
	if (p->nchunks)
		memcpy(e->chunks, p->chunks, p->nchunks * BK_ID_LEN);
	e->nchunks = p->nchunks;
	e->size = p->size;
	return true;
}

/* A regular file: reused or read.  1 when it vanished (skip it). */
static int do_file(struct walk *wk, int dirfd, const char *name, struct bk_entry *e,
		   struct stat *st)
{
	int fd, rc;

	if (reuse_parent(wk, e, st)) {
		wk->st->files_unchanged++;
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		err_set(wk->err, wk->errlen, "backup: open %s: %s", e->path, strerror(errno));
		return -1;
	}
	/* Describe what was opened, not what was there a moment before. */
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return 1;
	}
	fill_meta(e, st, BK_FILE);
	e->inode = (uint64_t)st->st_ino;
	rc = bk_sb_read_fd(&wk->sb, fd, e);
	close(fd);
	wk->st->files_read++;
	return rc;
}

static int do_symlink(struct walk *wk, int dirfd, const char *name, struct bk_entry *e,
		      const struct stat *st)
{
	size_t cap = (size_t)st->st_size + 2;
	ssize_t n;

	e->target = malloc(cap);
	if (!e->target)
		return -1;
	n = readlinkat(dirfd, name, e->target, cap);
	if (n < 0 && errno == ENOENT)
		return 1;
	if (n < 0 || (size_t)n >= cap || n == 0) {
		err_set(wk->err, wk->errlen, "backup: readlink %s: %s", e->path,
			n < 0 ? strerror(errno) : "changed while reading");
		return -1;
	}
	e->target[n] = '\0';
	e->size = (uint64_t)n;
	return 0;
}

static int walk_dir(struct walk *wk, int dirfd, const char *rel);

static void count(struct bk_backup_stats *st, const struct bk_entry *e, int rc)
{
	if (rc == 1) {
		st->skipped++;
		return;
	}
	if (rc != 0)
		return;
	switch (e->type) {
	case BK_FILE:
		st->files++;
		st->bytes_total += e->size;
		st->chunks_total += e->nchunks;
		break;
	case BK_DIR:
		st->dirs++;
		break;
	case BK_SYMLINK:
		st->symlinks++;
		break;
	}
}

/* One directory entry: stat, record, and recurse into directories. */
static int do_entry(struct walk *wk, int dirfd, const char *name, const char *rel)
{
	struct bk_entry e = { 0 };
	struct stat st;
	int rc = 0, fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		err_set(wk->err, wk->errlen, "backup: stat %s: %s", rel, strerror(errno));
		return -1;
	}
	if (!(e.path = strdup(rel)))
		return -1;
	if (S_ISREG(st.st_mode)) {
		fill_meta(&e, &st, BK_FILE);
		e.inode = (uint64_t)st.st_ino;
		rc = do_file(wk, dirfd, name, &e, &st);
	} else if (S_ISLNK(st.st_mode)) {
		fill_meta(&e, &st, BK_SYMLINK);
		rc = do_symlink(wk, dirfd, name, &e, &st);
	} else if (S_ISDIR(st.st_mode)) {
		fill_meta(&e, &st, BK_DIR);
	} else {
		rc = 1; /* sockets, fifos, devices: not this slice */
	}
	if (rc == 0)
		rc = emit(wk, &e);
	if (rc == 0 && e.type == BK_DIR) {
		/* Vanished since the stat: recorded as an empty directory. */
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			rc = walk_dir(wk, fd, rel);
		else if (errno != ENOENT)
			rc = -1;
		if (fd < 0 && rc < 0)
			err_set(wk->err, wk->errlen, "backup: open %s: %s", rel, strerror(errno));
	}
	count(wk->st, &e, rc);
	bk_entry_clear(&e);
	return rc < 0 ? -1 : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The names in a directory, sorted and NULL-terminated; NULL with errno. */
static char **read_names(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = calloc(32, sizeof(*v)), **nv;
	size_t n = 0, cap = 32;
	struct dirent *de;
	int saved = 0;

	if (!d || !v) {
		saved = errno ? errno : ENOMEM;
		goto fail;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 == cap) {
			if (!(nv = realloc(v, 2 * cap * sizeof(*v)))) {
				saved = ENOMEM;
				goto fail;
			}
			v = nv;
			cap *= 2;
		}
		if (!(v[n] = strdup(de->d_name))) {
			saved = ENOMEM;
			goto fail;
		}
		v[++n] = NULL;
	}
	if (errno != 0) {
		saved = errno;
		goto fail;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), by_name);
	return v;
fail:
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	free_names(v);
	errno = saved;
	return NULL;
}

/* Every entry of the directory open on dirfd (closed here); rel names it. */
static int walk_dir(struct walk *wk, int dirfd, const char *rel)
{
	char child[PATH_MAX];
	char **names = read_names(dirfd);
	int rc = 0;

	if (!names) {
		err_set(wk->err, wk->errlen, "backup: read directory %s: %s", rel, strerror(errno));
		close(dirfd);
		return -1;
	}
	for (size_t i = 0; rc == 0 && names[i]; i++) {
		int len = strcmp(rel, ".") == 0
				  ? snprintf(child, sizeof(child), "%s", names[i])
				  : snprintf(child, sizeof(child), "%s/%s", rel, names[i]);

		if (len >= (int)sizeof(child)) {
			err_set(wk->err, wk->errlen, "backup: %s/%s: path too long", rel, names[i]);
			rc = -1;
		}
		if (rc == 0)
			rc = bk_lock_refresh(wk->r, wk->err, wk->errlen);
		if (rc == 0)
			rc = do_entry(wk, dirfd, names[i], child);
		bk_sb_progress(&wk->sb, child, false);
	}
	free_names(names);
	close(dirfd);
	return rc;
}

/* ---- the parent ---- */

/* The parent's file entries by path; NULL (and a warning) when unreadable. */
static struct bk_pathmap *load_parent(struct bk_repo *r, const char *id)
{
	struct bk_pathmap *m = bk_pathmap_new();
	struct bk_snapshot s;
	struct bk_tree_reader t;
	struct bk_entry e;
	char why[512] = "";
	int rc = m ? bk_snapshot_load(r, id, &s, why, sizeof(why)) : -1;

	if (rc != 0) {
		bk_pathmap_free(m);
		vlog(VLOG_WARNING, "backup", "parent snapshot unreadable; reading every file",
		     "snapshot", id, "error", why, NULL);
		return NULL;
	}
	bk_tree_reader_init(&t, r, s.tree, s.ntree);
	while ((rc = bk_tree_next(&t, &e, why, sizeof(why))) == 1) {
		if (e.type == BK_FILE && bk_pathmap_put(m, &e) < 0) {
			snprintf(why, sizeof(why), "out of memory");
			rc = -1;
		}
		bk_entry_clear(&e);
		if (rc < 0)
			break;
	}
	bk_tree_reader_free(&t);
	bk_snapshot_clear(&s);
	if (rc < 0) {
		vlog(VLOG_WARNING, "backup", "parent snapshot unreadable; reading every file",
		     "snapshot", id, "error", why, NULL);
		bk_pathmap_free(m);
		return NULL;
	}
	return m;
}

/* Resolve and load the parent into wk; its id into parent ("" when none). */
static int pick_parent(struct walk *wk, const struct bk_backup_opts *o, const char *job,
		       const char *source, char parent[BK_ID_HEX])
{
	int rc;

	parent[0] = '\0';
	if (o->full)
		return 0;
	rc = bk_snapshot_resolve(wk->r, o->parent, o->parent ? NULL : job,
				 o->parent ? NULL : source, parent, wk->err, wk->errlen);
	if (rc == 1 && o->parent) {
		err_set(wk->err, wk->errlen, "backup: parent snapshot %s: no such snapshot", o->parent);
		return -1;
	}
	if (rc != 0) {
		parent[0] = '\0';
		return rc < 0 ? -1 : 0;
	}
	wk->parent = load_parent(wk->r, parent);
	if (!wk->parent)
		parent[0] = '\0';
	return 0;
}

/* ---- the whole backup ---- */

static int walk_init(struct walk *wk, struct bk_repo *r, const struct bk_backup_opts *o,
		     struct bk_backup_stats *st, char *err, size_t errlen)
{
	memset(wk, 0, sizeof(*wk));
	wk->r = r;
	wk->st = st;
	wk->err = err;
	wk->errlen = errlen;
	if (bk_sb_init(&wk->sb, r, st, err, errlen) < 0)
		return -1;
	wk->sb.progress = o->progress;
	wk->sb.progress_arg = o->progress_arg;
	return 0;
}

static void walk_free(struct walk *wk)
{
	bk_sb_free(&wk->sb);
	bk_pathmap_free(wk->parent);
}

/* The root entry and everything under it. */
static int walk_root(struct walk *wk, const char *source)
{
	struct bk_entry e = { 0 };
	struct stat st;
	int fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_set(wk->err, wk->errlen, "backup: open %s: %s", source, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	e.path = (char *)".";
	fill_meta(&e, &st, BK_DIR);
	rc = emit(wk, &e);
	if (rc == 0) {
		wk->st->dirs++;
		rc = walk_dir(wk, fd, ".");
	} else {
		close(fd);
	}
	return rc;
}

static int run_backup(struct walk *wk, const struct bk_backup_opts *o, const char *source,
		      char id[BK_ID_HEX])
{
	const char *job = o->job ? o->job : "default";
	char parent[BK_ID_HEX];
	int64_t started = bk_now_ns();

	if (pick_parent(wk, o, job, source, parent) < 0 || walk_root(wk, source) < 0)
		return -1;
	return bk_sb_finish(&wk->sb, job, source, parent, started, id);
}

int bk_backup_dir(struct bk_repo *r, const struct bk_backup_opts *o, struct bk_backup_stats *st,
		  char id[BK_ID_HEX], char *err, size_t errlen)
{
	struct bk_backup_stats local = { 0 };
	char source[PATH_MAX], idbuf[BK_ID_HEX];
	struct walk wk;
	int rc;

	st = st ? st : &local;
	memset(st, 0, sizeof(*st));
	err_set(err, errlen, "%s", "");
	if (!o->source || !realpath(o->source, source)) {
		err_set(err, errlen, "backup %s: %s", o->source ? o->source : "(no source)",
			o->source ? strerror(errno) : "no source directory given");
		return -1;
	}
	if (bk_repo_lock(r, err, errlen) < 0)
		return -1;
	st->packs_recovered = r->packs_recovered;
	rc = walk_init(&wk, r, o, st, err, errlen);
	if (rc == 0)
		rc = run_backup(&wk, o, source, id ? id : idbuf);
	walk_free(&wk);
	bk_repo_unlock(r);
	if (rc < 0 && err && errlen && err[0] == '\0')
		err_set(err, errlen, "backup %s: out of memory", source);
	return rc;
}
