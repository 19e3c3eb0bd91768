/*
 * actions/backup/pack.h — pack files: many stored blobs back to back, then
 * a header blob listing them, then an 8-byte trailer:
 *
 *   blob 0 | blob 1 | ... | header (a stored blob) | u32 LE header length | "VGPK"
 *
 * A blob is a segment: the plaintexts of one or more consecutive chunks,
 * compressed and encrypted together, so zstd sees far more than one 16
 * KiB chunk at a time (format version 2; in version 1 every segment holds
 * exactly one chunk).  The header's plaintext is "VGPH", u32 version, u32
 * count, and per chunk its id[32], then the offset and stored length of
 * its segment, and (version 2 only) the segment's plaintext length and the
 * chunk's offset in it, then the chunk's length (u32 LE each).  A pack's
 * name is the SHA-256 of its bytes.  Packs are built in memory (one target
 * size, 16 MiB by default) and written with one store put.
 */
#ifndef VIGIL_ACTIONS_BACKUP_PACK_H
#define VIGIL_ACTIONS_BACKUP_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/crypto.h"

#define BK_PACK_ENTRY_LEN_V1 44
#define BK_PACK_ENTRY_LEN_V2 52
#define BK_PACK_TRAILER_LEN 8
/* A segment's plaintext: a segment target (at most 16 MiB) plus one chunk. */
#define BK_SEGMENT_MAX (32u << 20)

/* Where one chunk is: its segment's stored blob, and its bytes inside that blob's plaintext. */
struct bk_pack_entry {
	uint8_t id[BK_ID_LEN];
	uint32_t offset, stored_len; /* the segment's stored blob in the pack */
	uint32_t seg_len;            /* the segment's plaintext length */
	uint32_t chunk_off, raw_len; /* the chunk within that plaintext */
};

/* One chunk of a segment being built. */
struct bk_seg_chunk {
	uint8_t id[BK_ID_LEN];
	uint32_t off, len;
};

struct bk_packw {
	struct bk_buf data;
	struct bk_pack_entry *ents;
	size_t n, cap;
};

void bk_packw_init(struct bk_packw *w);
void bk_packw_free(struct bk_packw *w);
/* Empty the pack, keeping its buffers. */
void bk_packw_reset(struct bk_packw *w);
/* Encode (zstd when it helps) and append one segment: plain holds chunks ch[0..n). */
int bk_packw_add(struct bk_packw *w, struct bk_codec *c, const void *plain, size_t len,
		 const struct bk_seg_chunk *ch, size_t n, char *err, size_t errlen);
/* Append one segment already in its stored form (bk_encode's output). */
int bk_packw_append(struct bk_packw *w, const void *stored, size_t stored_len, size_t raw_len,
		    const struct bk_seg_chunk *ch, size_t n, char *err, size_t errlen);
/*
 * Append header (format version 1 or 2; a version 1 pack cannot hold a
 * segment of several chunks) and trailer; the pack's id (SHA-256 of w->data).
 */
int bk_packw_seal(struct bk_packw *w, struct bk_codec *c, unsigned version,
		  uint8_t id[BK_ID_LEN], char *err, size_t errlen);
/* Whether pack headers and index files of this version exist (1 and 2). */
bool bk_pack_version_known(uint32_t version);
/* An entry's on-disk record: 44 bytes in format version 1, 52 in 2. */
size_t bk_pack_entry_len(unsigned version);
/* Write e's record at p; -1 when version 1 cannot hold it (a segment of several chunks). */
int bk_pack_entry_write(const struct bk_pack_entry *e, uint8_t *p, unsigned version);
void bk_pack_entry_read(struct bk_pack_entry *e, const uint8_t *p, unsigned version);
/* Check one entry: its segment inside [0, end), its chunk inside its segment. */
int bk_pack_entry_check(const struct bk_pack_entry *e, uint64_t end, char *err, size_t errlen);
/* Read a whole pack's header (either version): malloc'd entries, checked against its size. */
int bk_pack_parse(struct bk_codec *c, const uint8_t *pack, size_t len,
		  struct bk_pack_entry **ents, size_t *n, char *err, size_t errlen);

#endif
