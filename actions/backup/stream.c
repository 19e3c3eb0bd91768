/*
 * actions/backup/stream.c — a stream as a snapshot, and a snapshot's file
 * back out as a stream.
 *
 * A stream snapshot is an ordinary snapshot whose tree holds the root and
 * one file, so every reader (restore into a directory, verify, prune,
 * forget) handles it unchanged; only its source, "stream:NAME", says where
 * it came from.  There is no parent: a stream cannot be skipped unread,
 * and content-defined chunks already keep a mostly unchanged dump cheap.
 *
 * The producer's verdict (finish) is asked before the manifest is
 * written: a dump cut short by a failing pg_dump must never become the
 * "latest" snapshot.
 */
#include "actions/backup/backup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/backup/snapbuild.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/tree.h"
#include "common/error.h"
#include "common/fsutil.h"

static int stream_entries(struct bk_snapbuild *sb, const struct bk_stream_opts *o,
			  const char *name, int64_t started)
{
	struct bk_entry root = { .path = (char *)".", .type = BK_DIR, .mode = 0700,
				 .uid = (uint32_t)geteuid(), .gid = (uint32_t)getegid(),
				 .mtime_ns = started };
	struct bk_entry f = { .type = BK_FILE, .mode = 0600, .uid = root.uid, .gid = root.gid };
	int rc;

	if (bk_sb_emit(sb, &root) < 0)
		return -1;
	sb->st->dirs++;
	if (!(f.path = strdup(name))) {
		err_set(sb->err, sb->errlen, "backup: out of memory");
		return -1;
	}
	rc = bk_sb_read_fd(sb, o->fd, &f);
	if (rc == 0 && o->finish && o->finish(o->arg, sb->err, sb->errlen) != 0)
		rc = -1;
	if (rc == 0) {
		f.mtime_ns = bk_now_ns();
		sb->st->files = sb->st->files_read = 1;
		sb->st->bytes_total = f.size;
		sb->st->chunks_total = f.nchunks;
		rc = bk_sb_emit(sb, &f);
	}
	bk_entry_clear(&f);
	return rc;
}

int bk_backup_stream(struct bk_repo *r, const struct bk_stream_opts *o,
		     struct bk_backup_stats *st, char id[BK_ID_HEX], char *err, size_t errlen)
{
	struct bk_backup_stats local = { 0 };
	const char *name = o->name ? o->name : "stdin";
	const char *job = o->job ? o->job : "default";
	char source[300], idbuf[BK_ID_HEX];
	struct bk_snapbuild sb;
	int64_t started = bk_now_ns();
	int rc;

	st = st ? st : &local;
	memset(st, 0, sizeof(*st));
	err_set(err, errlen, "%s", "");
	if (!bk_path_safe(name) || strchr(name, '/') || strcmp(name, ".") == 0) {
		err_set(err, errlen, "backup: stream name '%s' must be one plain file name", name);
		return -1;
	}
	if (snprintf(source, sizeof(source), "%s%s", BK_STREAM_SOURCE_PREFIX, name) >=
	    (int)sizeof(source)) {
		err_set(err, errlen, "backup: stream name '%s' is too long", name);
		return -1;
	}
	if (bk_repo_lock(r, err, errlen) < 0)
		return -1;
	st->packs_recovered = r->packs_recovered;
	rc = bk_sb_init(&sb, r, st, err, errlen);
	sb.progress = o->progress;
	sb.progress_arg = o->progress_arg;
	if (rc == 0)
		rc = stream_entries(&sb, o, name, started);
	if (rc == 0)
		rc = bk_sb_finish(&sb, job, source, "", started, id ? id : idbuf);
	bk_sb_free(&sb);
	bk_repo_unlock(r);
	if (rc < 0 && err && errlen && err[0] == '\0')
		err_set(err, errlen, "backup of stream %s: out of memory", name);
	return rc;
}

/* ---- one file of a snapshot out to a descriptor ---- */

/*
 * The file entry o names (or the only file) in snapshot s into e: 0, or
 * -1 with err (none, several, a damaged tree).
 */
static int find_file(struct bk_repo *r, const struct bk_snapshot *s, const char *want,
		     struct bk_entry *out, char *err, size_t errlen)
{
	struct bk_tree_reader t;
	struct bk_entry e;
	char why[512] = "";
	size_t files = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	bk_tree_reader_init(&t, r, s->tree, s->ntree);
	while ((rc = bk_tree_next(&t, &e, why, sizeof(why))) == 1) {
		if (e.type == BK_FILE && (!want || strcmp(e.path, want) == 0) && files++ == 0)
			*out = e;
		else
			bk_entry_clear(&e);
	}
	bk_tree_reader_free(&t);
	if (rc < 0)
		err_set(err, errlen, "restore snapshot %.16s: tree: %s", s->id, why);
	else if (files == 0)
		err_set(err, errlen, "restore snapshot %.16s: %s%s", s->id,
			want ? "no file " : "no file in it", want ? want : "");
	else if (files > 1 && !want)
		err_set(err, errlen, "restore snapshot %.16s: it holds %zu files; name one with "
			"--file", s->id, files);
	if (rc < 0 || files == 0 || (files > 1 && !want)) {
		bk_entry_clear(out);
		return -1;
	}
	return 0;
}

static void stream_progress(const struct bk_restore_stream_opts *o, const struct bk_entry *e,
			    uint64_t done, bool end)
{
	struct bk_progress p = { .files = end, .bytes = done, .bytes_total = e->size,
				 .path = e->path, .done = end };

	if (o->progress)
		o->progress(o->progress_arg, &p);
}

static int copy_out(struct bk_repo *r, const struct bk_restore_stream_opts *o,
		    const struct bk_snapshot *s, const struct bk_entry *e, uint64_t *bytes,
		    char *err, size_t errlen)
{
	struct bk_buf chunk = { 0 };
	char why[512];
	int rc = 0;

	*bytes = 0;
	for (size_t i = 0; rc == 0 && i < e->nchunks; i++) {
		if (bk_chunk_read(r, e->chunks + i * BK_ID_LEN, &chunk, why, sizeof(why)) < 0) {
			err_set(err, errlen, "restore snapshot %.16s: file %s: %s (the reader got "
				"only the first %llu bytes)", s->id, e->path, why,
				(unsigned long long)*bytes);
			rc = -1;
		} else if (fs_write_all(o->fd, chunk.p, chunk.len) < 0) {
			err_set(err, errlen, "restore snapshot %.16s: file %s: write: %s", s->id,
				e->path, errno == EPIPE ? "the reader closed its input early"
							: strerror(errno));
			rc = -1;
		} else {
			*bytes += chunk.len;
			stream_progress(o, e, *bytes, false);
		}
	}
	bk_buf_free(&chunk);
	if (rc == 0 && *bytes != e->size) {
		err_set(err, errlen, "restore snapshot %.16s: file %s: chunks hold %llu bytes, the "
			"file had %llu", s->id, e->path, (unsigned long long)*bytes,
			(unsigned long long)e->size);
		rc = -1;
	}
	if (rc == 0)
		stream_progress(o, e, *bytes, true);
	return rc;
}

int bk_restore_stream(struct bk_repo *r, const struct bk_restore_stream_opts *o,
		      uint64_t *bytes, char *err, size_t errlen)
{
	char id[BK_ID_HEX];
	struct bk_snapshot s;
	struct bk_entry e;
	uint64_t local;
	int rc = bk_snapshot_resolve(r, o->snapshot, o->job, NULL, id, err, errlen);

	bytes = bytes ? bytes : &local;
	*bytes = 0;
	if (rc == 1)
		err_set(err, errlen, "restore: no snapshot %s",
			o->snapshot ? o->snapshot : "to restore");
	if (rc != 0 || bk_snapshot_load(r, id, &s, err, errlen) != 0)
		return -1;
	snprintf(s.id, sizeof(s.id), "%s", id);
	rc = find_file(r, &s, o->file, &e, err, errlen);
	if (rc == 0)
		rc = copy_out(r, o, &s, &e, bytes, err, errlen);
	bk_entry_clear(&e);
	bk_snapshot_clear(&s);
	return rc;
}
