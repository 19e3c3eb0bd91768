/*
 * actions/backup/segment.h — chunks out of segments (pack.h): each
 * segment is decoded once while it stays among the last few used, and
 * every chunk handed out is checked against its id first.
 *
 * A restore reads chunks in about the order a backup wrote them, so
 * consecutive chunks mostly share a segment; the few slots cover a file's
 * chunks interleaved with the tree's and with a parent snapshot's.
 */
#ifndef VIGIL_ACTIONS_BACKUP_SEGMENT_H
#define VIGIL_ACTIONS_BACKUP_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/crypto.h"
#include "actions/backup/index.h"

#define BK_SEGCACHE_SLOTS 32

struct bk_segcache_slot {
	uint8_t pack[BK_ID_LEN]; /* by id: a position in the index can be reused */
	uint32_t offset;
	uint64_t used; /* tick of the last use; 0: empty */
	struct bk_buf plain;
};

struct bk_segcache {
	struct bk_segcache_slot slot[BK_SEGCACHE_SLOTS];
	uint64_t tick;
};

/* Where a segment's stored bytes come from: *stored holds e->stored_len bytes. */
typedef int (*bk_seg_fetch_fn)(void *arg, const struct bk_ientry *e, const uint8_t **stored,
			       char *why, size_t whylen);

/* Segments from a pack held in memory: arg is a struct bk_seg_mem. */
struct bk_seg_mem {
	const uint8_t *data;
	size_t len;
};
int bk_seg_fetch_mem(void *arg, const struct bk_ientry *e, const uint8_t **stored, char *why,
		     size_t whylen);

/* A zeroed bk_segcache is empty and ready, and so is one after bk_segcache_free. */
void bk_segcache_free(struct bk_segcache *sc);
/*
 * Chunk e (in the pack whose id is pack) plaintext: *chunk points at e->raw_len bytes that hash to
 * e->id, valid until the next call.  -1 with why: the fetch failed, the
 * segment is damaged, or the chunk's bytes do not match its id.
 */
int bk_segcache_chunk(struct bk_segcache *sc, struct bk_codec *c, const uint8_t pack[BK_ID_LEN],
		      const struct bk_ientry *e, bk_seg_fetch_fn fetch, void *arg, const uint8_t **chunk, char *why,
		      size_t whylen);

#endif
