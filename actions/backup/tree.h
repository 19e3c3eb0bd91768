/*
 * actions/backup/tree.h — a snapshot's tree: one JSON object per line per
 * entry (directory, file, symlink), in depth-first order with names
 * sorted bytewise, each directory before what it holds.  The text is cut
 * into chunks like any file and stored in packs, so an unchanged part of
 * the tree costs nothing in the next snapshot.
 *
 *   {"path":"etc/app.conf","type":"file","mode":420,"uid":0,"gid":0,
 *    "mtime_ns":1700000000123456789,"size":1234,"inode":5678,
 *    "chunks":["<64 hex>", ...]}
 *
 * Paths are relative to the backed-up directory ("." is the directory
 * itself) and never contain "..", "." (except the root), empty components
 * or a leading "/"; a name that is not valid UTF-8 is stored as
 * "path_hex" (its bytes in hex) instead, likewise "target_hex" for a
 * symlink target.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_TREE_H
#define VIGIL_ACTIONS_BACKUP_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"

struct bk_repo;

enum bk_etype { BK_DIR, BK_FILE, BK_SYMLINK };

struct bk_entry {
	char *path;
	enum bk_etype type;
	uint32_t mode; /* permission bits, st_mode & 07777 */
	uint32_t uid, gid;
	int64_t mtime_ns;
	uint64_t size;  /* files; symlinks: length of target */
	uint64_t inode;
	char *target;     /* symlinks */
	uint8_t *chunks;  /* files: nchunks ids of BK_ID_LEN bytes */
	size_t nchunks;
};

void bk_entry_clear(struct bk_entry *e);
/* One line of tree text (no newline), malloc'd; NULL when out of memory. */
char *bk_entry_json(const struct bk_entry *e);
/* Parse and check one line; -1 with err (e is cleared). */
int bk_entry_parse(const char *line, size_t len, struct bk_entry *e, char *err, size_t errlen);
/* Whether path is a safe relative path by the rules above. */
bool bk_path_safe(const char *path);

/* Reads a tree back, entry by entry, verifying every chunk. */
struct bk_tree_reader {
	struct bk_repo *r;
	const uint8_t *ids;
	size_t nids, next;
	struct bk_buf text, chunk;
	size_t pos;
};

void bk_tree_reader_init(struct bk_tree_reader *t, struct bk_repo *r, const uint8_t *ids,
			 size_t nids);
void bk_tree_reader_free(struct bk_tree_reader *t);
/* 1 with the next entry in e (clear it after use), 0 at the end, -1 with err. */
int bk_tree_next(struct bk_tree_reader *t, struct bk_entry *e, char *err, size_t errlen);

/* Entries by path, for the parent snapshot of an incremental backup. */
struct bk_pathmap;

struct bk_pathmap *bk_pathmap_new(void);
void bk_pathmap_free(struct bk_pathmap *m);
/* Takes e's contents (e is left empty); -1 when out of memory. */
int bk_pathmap_put(struct bk_pathmap *m, struct bk_entry *e);
const struct bk_entry *bk_pathmap_get(const struct bk_pathmap *m, const char *path);

#endif
