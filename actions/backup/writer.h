/*
 * actions/backup/writer.h — storing chunks: hash, skip what the index
 * already has, pack the rest, write packs, then an index file for them.
 *
 * The order is the crash-safety rule: a pack is on disk before any index
 * names it, and an index before any snapshot uses its chunks.  A run that
 * dies after writing packs but before their index leaves "unindexed"
 * packs; bk_recover_packs (run under the lock) reads their headers and
 * indexes them, so their chunks are reused, not written again.
 *
 * New chunks are gathered into segments (pack.h) of the repository's
 * segment size; each segment is encoded (zstd, AES-GCM) by worker threads
 * (encoder.h) while the caller hashes and chunks the next ones, and the
 * segments enter the pack in the order the caller gave their chunks, so
 * the packs are the ones a single thread would build.  A chunk is in the
 * index (pending) from the moment it joins a segment, so a second copy of
 * it is never stored again.
 *
 * Synchronous for the caller (every call returns with its work done or
 * queued, and flush/index wait for the queue); never on the daemon's
 * event loop.  A process that forks while a writer is alive must only
 * exec in the child (common/child.c does): the threads are not copied.
 */
#ifndef VIGIL_ACTIONS_BACKUP_WRITER_H
#define VIGIL_ACTIONS_BACKUP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/encoder.h"
#include "actions/backup/pack.h"
#include "actions/backup/repo.h"

/* Packs between index files: bounds what a killed run leaves unindexed. */
#define BK_PACKS_PER_INDEX 8
/*
 * A segment of scattered chunks (new ones with known ones between them)
 * closes at this size: reading one chunk back decodes its whole segment,
 * and the restore of a file rewritten here and there by many runs reads
 * chunks from many such segments, more than the reader keeps decoded.
 */
#define BK_SCATTERED_SEGMENT (64u << 10)

/* The chunks of one segment. */
struct bk_seglist {
	struct bk_seg_chunk *c;
	size_t n, cap;
};

struct bk_writer {
	struct bk_repo *r;
	struct bk_packw pw;
	struct bk_buf seg;        /* the open segment's plaintext */
	struct bk_seglist segc;   /* its chunks */
	/* The chunks of each segment the workers hold, in submission order. */
	struct bk_seglist queued[BK_ENCODER_SLOTS];
	uint64_t q_head, q_tail;
	struct bk_buf idx; /* the next index file's plaintext */
	uint32_t idx_packs;
	size_t indexed;    /* index positions below this are in index files */
	uint64_t chunks_total, chunks_new, bytes_new, bytes_stored, packs_written;
	/* Worker threads, started with the first new chunk; 0 (settable
	 * before that) encodes on the caller's thread. */
	unsigned threads;
	bk_encode_fn encode; /* what the workers run; NULL: bk_encode (tests inject failures) */
	struct bk_encoder *enc;
	/* After a failure chunks may be pending that will never be stored:
	 * every later call fails rather than index around them. */
	bool broken;
	/* A known chunk came since the last new one: the new chunks are
	 * scattered (pages rewritten here and there in a large file). */
	bool gap;
};

int bk_writer_init(struct bk_writer *w, struct bk_repo *r, char *err, size_t errlen);
/*
 * Whatever no index file covers yet is dropped from the in-memory index
 * (and unsynced packs from the store), so a failed run cannot make a later
 * one on the same handle trust chunks that are not safely stored.
 */
void bk_writer_free(struct bk_writer *w);
/* Store one chunk (if new; p is copied); its id into id. */
int bk_writer_chunk(struct bk_writer *w, const uint8_t *p, size_t n, uint8_t id[BK_ID_LEN],
		    char *err, size_t errlen);
/* Close the open segment, wait for queued ones, then write the pack being
 * built, if any (an index file follows every few packs). */
int bk_writer_flush(struct bk_writer *w, char *err, size_t errlen);
/* Flush, sync the packs, then write one index file for every pack since the last one. */
int bk_writer_index(struct bk_writer *w, char *err, size_t errlen);
/* Index packs that are in data/ but in no index file; their count into n. */
int bk_recover_packs(struct bk_repo *r, uint64_t *n, char *err, size_t errlen);

#endif
