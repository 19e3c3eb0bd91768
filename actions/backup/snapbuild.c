/* actions/backup/snapbuild.c — entries into chunks, tree text and a manifest (see snapbuild.h). */
#include "actions/backup/snapbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/backup/snapshot.h"
#include "common/error.h"

static int add_tree_chunk(void *arg, const uint8_t *p, size_t n)
{
	struct bk_snapbuild *sb = arg;
	uint8_t id[BK_ID_LEN];

	if (bk_writer_chunk(&sb->w, p, n, id, sb->err, sb->errlen) < 0)
		return -1;
	if (bk_buf_append(&sb->tree_ids, id, BK_ID_LEN) < 0) {
		err_set(sb->err, sb->errlen, "backup: out of memory");
		return -1;
	}
	return 0;
}

int bk_sb_init(struct bk_snapbuild *sb, struct bk_repo *r, struct bk_backup_stats *st,
	       char *err, size_t errlen)
{
	memset(sb, 0, sizeof(*sb));
	sb->r = r;
	sb->st = st;
	sb->err = err;
	sb->errlen = errlen;
	if (bk_writer_init(&sb->w, r, err, errlen) < 0)
		return -1;
	if (bk_cdc_init(&sb->data, &r->chunker, err, errlen) < 0)
		return -1;
	return bk_cdc_init(&sb->tree, &r->chunker, err, errlen);
}

void bk_sb_free(struct bk_snapbuild *sb)
{
	bk_writer_free(&sb->w);
	bk_cdc_free(&sb->data);
	bk_cdc_free(&sb->tree);
	bk_buf_free(&sb->tree_ids);
	bk_buf_free(&sb->ids);
}

int bk_sb_emit(struct bk_snapbuild *sb, const struct bk_entry *e)
{
	char *line = bk_entry_json(e);
	int rc;

	if (!line) {
		err_set(sb->err, sb->errlen, "backup %s: cannot encode the entry", e->path);
		return -1;
	}
	rc = bk_cdc_feed(&sb->tree, line, strlen(line), add_tree_chunk, sb);
	if (rc == 0)
		rc = bk_cdc_feed(&sb->tree, "\n", 1, add_tree_chunk, sb);
	sb->tree_size += strlen(line) + 1;
	free(line);
	return rc;
}

void bk_sb_progress(struct bk_snapbuild *sb, const char *path, bool done)
{
	struct bk_progress p = { .files = sb->st->files, .bytes = sb->st->bytes_read,
				 .bytes_new = sb->w.bytes_new, .path = path, .done = done };

	if (sb->progress)
		sb->progress(sb->progress_arg, &p);
}

static int drain(struct bk_snapbuild *sb, bool eof, uint64_t *chunks)
{
	const uint8_t *p;
	size_t n;
	uint8_t id[BK_ID_LEN];

	while (bk_cdc_next(&sb->data, eof, &p, &n) == 1) {
		if (bk_writer_chunk(&sb->w, p, n, id, sb->err, sb->errlen) < 0)
			return -1;
		if (bk_buf_append(&sb->ids, id, BK_ID_LEN) < 0) {
			err_set(sb->err, sb->errlen, "backup: out of memory");
			return -1;
		}
		(*chunks)++;
	}
	return 0;
}

int bk_sb_read_fd(struct bk_snapbuild *sb, int fd, struct bk_entry *e)
{
	uint64_t chunks = 0;
	size_t room;

	bk_cdc_reset(&sb->data);
	sb->ids.len = 0;
	for (;;) {
		uint8_t *dst = bk_cdc_space(&sb->data, &room);
		ssize_t n = read(fd, dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(sb->err, sb->errlen, "backup: read %s: %s", e->path, strerror(errno));
			return -1;
		}
		bk_cdc_commit(&sb->data, (size_t)n);
		e->size += (uint64_t)n;
		sb->st->bytes_read += (uint64_t)n;
		if (drain(sb, n == 0, &chunks) < 0)
			return -1;
		bk_sb_progress(sb, e->path, false);
		if (n == 0)
			break;
	}
	if (!(e->chunks = malloc(sb->ids.len ? sb->ids.len : 1))) {
		err_set(sb->err, sb->errlen, "backup: out of memory");
		return -1;
	}
	if (sb->ids.len) /* an empty stream or file: no ids, and ids.p may still be NULL */
		memcpy(e->chunks, sb->ids.p, sb->ids.len);
	e->nchunks = (size_t)chunks;
	return 0;
}

static int write_snapshot(struct bk_snapbuild *sb, const char *job, const char *source,
			  const char *parent, int64_t started, char id[BK_ID_HEX])
{
	char host[256] = "";
	struct bk_snapshot s = { 0 };
	size_t stored = 0;
	int rc;

	gethostname(host, sizeof(host) - 1);
	snprintf(s.parent, sizeof(s.parent), "%s", parent);
	s.time_ns = started;
	s.host = host;
	s.job = (char *)job;
	s.source = (char *)source;
	s.full = parent[0] == '\0';
	s.tree = sb->tree_ids.p;
	s.ntree = sb->tree_ids.len / BK_ID_LEN;
	s.tree_size = sb->tree_size;
	s.files = sb->st->files;
	s.dirs = sb->st->dirs;
	s.symlinks = sb->st->symlinks;
	s.bytes = sb->st->bytes_total;
	s.bytes_read = sb->st->bytes_read;
	s.chunks_new = sb->w.chunks_new;
	s.bytes_new = sb->w.bytes_new;
	rc = bk_snapshot_write(sb->r, &s, id, &stored, sb->err, sb->errlen);
	sb->st->bytes_stored += stored;
	return rc;
}

int bk_sb_finish(struct bk_snapbuild *sb, const char *job, const char *source,
		 const char *parent, int64_t started, char id[BK_ID_HEX])
{
	const uint8_t *p;
	size_t n;

	while (bk_cdc_next(&sb->tree, true, &p, &n) == 1)
		if (add_tree_chunk(sb, p, n) < 0)
			return -1;
	if (bk_writer_index(&sb->w, sb->err, sb->errlen) < 0)
		return -1;
	sb->st->chunks_new = sb->w.chunks_new;
	sb->st->bytes_new = sb->w.bytes_new;
	sb->st->bytes_stored = sb->w.bytes_stored;
	sb->st->packs_written = sb->w.packs_written;
	if (write_snapshot(sb, job, source, parent, started, id) < 0)
		return -1;
	bk_sb_progress(sb, NULL, true);
	return 0;
}
