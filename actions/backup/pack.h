/*
 * actions/backup/pack.h — pack files: many stored blobs back to back, then
 * a header blob listing them, then an 8-byte trailer:
 *
 *   blob 0 | blob 1 | ... | header (a stored blob) | u32 LE header length | "VGPK"
 *
 * The header's plaintext is "VGPH", u32 version 1, u32 count, and per blob
 * its id[32], offset, stored length and plaintext length (u32 LE each).
 * A pack's name is the SHA-256 of its bytes.  Packs are built in memory
 * (one target size, 16 MiB by default) and written with one store put.
 */
#ifndef VIGIL_ACTIONS_BACKUP_PACK_H
#define VIGIL_ACTIONS_BACKUP_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/crypto.h"

#define BK_PACK_ENTRY_LEN 44
#define BK_PACK_TRAILER_LEN 8

struct bk_pack_entry {
	uint8_t id[BK_ID_LEN];
	uint32_t offset, stored_len, raw_len;
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
/* Encode (zstd when it helps) and append one chunk whose id is id. */
int bk_packw_add(struct bk_packw *w, struct bk_codec *c, const uint8_t id[BK_ID_LEN],
		 const void *plain, size_t len, char *err, size_t errlen);
/* Append one blob already in its stored form (bk_encode's output). */
int bk_packw_append(struct bk_packw *w, const uint8_t id[BK_ID_LEN], const void *stored,
		    size_t stored_len, size_t raw_len, char *err, size_t errlen);
/* Append header and trailer; the pack's id (SHA-256 of w->data). */
int bk_packw_seal(struct bk_packw *w, struct bk_codec *c, uint8_t id[BK_ID_LEN], char *err,
		  size_t errlen);
/* Read a whole pack's header: malloc'd entries, checked against its size. */
int bk_pack_parse(struct bk_codec *c, const uint8_t *pack, size_t len,
		  struct bk_pack_entry **ents, size_t *n, char *err, size_t errlen);

#endif
