/*
 * actions/backup/index.h — which pack holds each chunk.
 *
 * In memory: one table chunk id → (pack, its segment's offset, stored
 * length and plaintext length, the chunk's offset and length in that
 * plaintext) and the list of packs with their sizes.  On disk: index/<id>
 * files, each a stored blob (zstd, encrypted when the repository is)
 * whose plaintext is
 *
 *   "VGIX" | u32 version | u32 pack count |
 *   per pack: id[32] | u64 size | u32 chunk count | chunk count x
 *             the chunk's record as in a pack header (pack.h)
 *
 * all little-endian; version 1 or 2, as the pack headers.  Loading is duplicate-tolerant: the first location
 * seen for a chunk wins, any later one (the same chunk packed twice by two
 * runs) is ignored, as is a pack listed twice.
 *
 * A backup adds its chunks as "pending" while their pack is being built
 * and binds them when the pack is written; a failed backup drops them.
 */
#ifndef VIGIL_ACTIONS_BACKUP_INDEX_H
#define VIGIL_ACTIONS_BACKUP_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/crypto.h"
#include "actions/backup/pack.h"
#include "actions/backup/store.h"

#define BK_PACK_PENDING UINT32_MAX
#define BK_INDEX_HEADER_LEN 12

struct bk_ientry {
	uint8_t id[BK_ID_LEN];
	uint32_t pack; /* into bk_index.packs, or BK_PACK_PENDING */
	uint32_t offset, stored_len, seg_len; /* its segment (pack.h) */
	uint32_t chunk_off, raw_len;          /* the chunk in the segment's plaintext */
};

struct bk_ipack {
	uint8_t id[BK_ID_LEN];
	uint64_t size;
};

struct bk_index {
	struct bk_tab chunks;  /* of struct bk_ientry */
	struct bk_tab by_id;   /* pack id → position in packs */
	struct bk_ipack *packs;
	size_t npacks, cap;
	/* Index files load skipped as damaged (verify reports them; the
	 * next backup re-indexes their packs from the packs' own headers). */
	unsigned damaged;
	char damaged_msg[320];
};

void bk_index_init(struct bk_index *x);
void bk_index_free(struct bk_index *x);
const struct bk_ientry *bk_index_find(const struct bk_index *x, const uint8_t id[BK_ID_LEN]);
bool bk_index_has_pack(const struct bk_index *x, const uint8_t id[BK_ID_LEN]);
/* A chunk in the pack being built (offset etc. as in that pack). */
int bk_index_add_pending(struct bk_index *x, const struct bk_pack_entry *e, char *err,
			 size_t errlen);
/* A written pack: binds its pending chunks, adds the others.  A known pack is a no-op. */
int bk_index_add_pack(struct bk_index *x, const uint8_t id[BK_ID_LEN], uint64_t size,
		      const struct bk_pack_entry *ents, size_t n, char *err, size_t errlen);
/*
 * Forget every pack from position keep on, and every pending chunk: what
 * a failed backup added but never covered with an index file.
 */
int bk_index_truncate(struct bk_index *x, size_t keep, char *err, size_t errlen);

/* Append one pack's record to an index file's plaintext (format version 1 or 2). */
int bk_index_record(struct bk_buf *plain, unsigned version, const uint8_t id[BK_ID_LEN],
		    uint64_t size, const struct bk_pack_entry *ents, size_t n);
/* Fill the header of plain (which starts with BK_INDEX_HEADER_LEN reserved bytes). */
void bk_index_header(struct bk_buf *plain, unsigned version, uint32_t npacks);
/* An index entry's location as a pack entry (the form index files and pack headers hold). */
void bk_ientry_location(const struct bk_ientry *ie, struct bk_pack_entry *pe);
/* Add every pack of one index file's plaintext. */
int bk_index_parse(struct bk_index *x, const uint8_t *plain, size_t len, char *err,
		   size_t errlen);
/*
 * Objects named by the SHA-256 of their stored bytes ("index/<id>",
 * "snapshots/<id>"): encode plain (zstd), put it as dir/<id>, and the
 * reverse, which checks the name before decoding.  get returns 1 when the
 * object does not exist.
 */
int bk_object_put(struct bk_store *s, struct bk_codec *c, const char *dir, const void *plain,
		  size_t len, char id_hex[2 * BK_ID_LEN + 1], size_t *stored, char *err,
		  size_t errlen);
int bk_object_get(struct bk_store *s, struct bk_codec *c, const char *name, size_t max,
		  struct bk_buf *out, char *err, size_t errlen);
/*
 * Load every index/<id> file.  A damaged one (its bytes do not hash to its
 * name, or do not decode) is skipped and counted in x->damaged; -1 only
 * when the directory cannot be listed.
 */
int bk_index_load(struct bk_index *x, struct bk_store *s, struct bk_codec *c, char *err,
		  size_t errlen);

#endif
