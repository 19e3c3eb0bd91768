/*
 * actions/backup/readahead.h — a snapshot's entries, and every file's
 * chunks, read on a thread ahead of whoever writes them out.
 *
 * A restore spends about as long reading, decrypting, decompressing and
 * re-hashing chunks as it does creating and writing files; with the first
 * half on its own thread the two overlap.  The thread owns the repository
 * handle while it runs: the caller must not touch it until
 * bk_readahead_free.  Only one thread may call these functions.
 *
 * What the thread holds ahead is bounded (BK_READAHEAD_ITEMS entries and
 * chunks, BK_READAHEAD_BYTES of chunk bytes), so memory does not grow with
 * the snapshot.
 */
#ifndef VIGIL_ACTIONS_BACKUP_READAHEAD_H
#define VIGIL_ACTIONS_BACKUP_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/tree.h"

#define BK_READAHEAD_ITEMS 128
#define BK_READAHEAD_BYTES (8u << 20)

struct bk_repo;
struct bk_readahead;

/* Start reading the tree whose chunk ids are tree[0..ntree) (kept by the caller). */
struct bk_readahead *bk_readahead_new(struct bk_repo *r, const uint8_t *tree, size_t ntree,
				      char *err, size_t errlen);
/* Stop the thread (a read in progress finishes first) and free everything. */
void bk_readahead_free(struct bk_readahead *ra);
/*
 * The next entry: 1 with *e (the caller clears it), 0 at the end of the
 * tree, -1 with why when the tree cannot be read.  Chunks of the previous
 * file that were not asked for are skipped.
 */
int bk_readahead_entry(struct bk_readahead *ra, struct bk_entry *e, char *why, size_t whylen);
/*
 * The next chunk of the file entry returned last, in order: 0 with its n
 * bytes at *p (valid until the next call) or, when *zero, n zero bytes not
 * given; 1 when the chunk is damaged or missing (why names it); -1 when
 * that file has no chunk left.
 */
int bk_readahead_chunk(struct bk_readahead *ra, const uint8_t **p, size_t *n, bool *zero,
		       char *why, size_t whylen);

#endif
