/*
 * actions/backup/snapbuild.h — what every kind of backup does once it has
 * an entry in hand: chunk a file's bytes into the writer, append the
 * entry's line to the tree text (itself chunked), and at the end write
 * the index and then the manifest, in the format's order (data, index,
 * manifest last).  backup.c walks a directory with it; stream.c stores
 * one stream (a command's output, stdin) with it.
 *
 * Synchronous; never on the daemon's event loop.  The caller holds the
 * repository lock from bk_sb_init to bk_sb_finish.
 */
#ifndef VIGIL_ACTIONS_BACKUP_SNAPBUILD_H
#define VIGIL_ACTIONS_BACKUP_SNAPBUILD_H

#include "actions/backup/backup.h"
#include "actions/backup/tree.h"
#include "actions/backup/writer.h"

struct bk_snapbuild {
	struct bk_repo *r;
	struct bk_writer w;
	struct bk_cdc data, tree;
	struct bk_buf tree_ids, ids;
	uint64_t tree_size;
	struct bk_backup_stats *st;
	bk_progress_fn progress;
	void *progress_arg;
	char *err;
	size_t errlen;
};

int bk_sb_init(struct bk_snapbuild *sb, struct bk_repo *r, struct bk_backup_stats *st,
	       char *err, size_t errlen);
void bk_sb_free(struct bk_snapbuild *sb);
/* Append one entry's line to the tree text. */
int bk_sb_emit(struct bk_snapbuild *sb, const struct bk_entry *e);
/* Chunk fd to its end: e's chunks and size (e->path names it in errors). */
int bk_sb_read_fd(struct bk_snapbuild *sb, int fd, struct bk_entry *e);
/*
 * The rest of the tree text, the index, then the manifest (parent "" for
 * none); the snapshot's id into id.
 */
int bk_sb_finish(struct bk_snapbuild *sb, const char *job, const char *source,
		 const char *parent, int64_t started, char id[BK_ID_HEX]);
/* Report progress (the caller of the progress function decides how often to show it). */
void bk_sb_progress(struct bk_snapbuild *sb, const char *path, bool done);

#endif
