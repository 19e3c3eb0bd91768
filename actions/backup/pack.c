/*
 * actions/backup/pack.c — building and reading pack files (pack.h).
 *
 * The header sits at the end so a pack can be written in one pass while
 * its blobs arrive; it is encrypted like any blob, so the storage side
 * learns neither chunk ids nor lengths beyond the file's own size.
 */
#include "actions/backup/pack.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/chunker.h"
#include "common/error.h"

#define HEADER_MAGIC "VGPH"
#define TRAILER_MAGIC "VGPK"
#define PACK_VERSION 1
#define HEADER_FIXED 12

void bk_packw_init(struct bk_packw *w)
{
	memset(w, 0, sizeof(*w));
}

void bk_packw_free(struct bk_packw *w)
{
	bk_buf_free(&w->data);
	free(w->ents);
	memset(w, 0, sizeof(*w));
}

void bk_packw_reset(struct bk_packw *w)
{
	w->data.len = 0;
	w->n = 0;
}

/* Room for one more entry; -1 with err. */
static int grow_entries(struct bk_packw *w, char *err, size_t errlen)
{
	size_t ncap;
	struct bk_pack_entry *ne;

	if (w->n < w->cap)
		return 0;
	ncap = w->cap ? w->cap * 2 : 256;
	ne = realloc(w->ents, ncap * sizeof(*ne));
	if (!ne) {
		err_set(err, errlen, "pack: out of memory");
		return -1;
	}
	w->ents = ne;
	w->cap = ncap;
	return 0;
}

/* Record the blob that ends the pack's data, starting at off. */
static void add_entry(struct bk_packw *w, const uint8_t id[BK_ID_LEN], size_t off, size_t len)
{
	memcpy(w->ents[w->n].id, id, BK_ID_LEN);
	w->ents[w->n].offset = (uint32_t)off;
	w->ents[w->n].stored_len = (uint32_t)(w->data.len - off);
	w->ents[w->n].raw_len = (uint32_t)len;
	w->n++;
}

int bk_packw_add(struct bk_packw *w, struct bk_codec *c, const uint8_t id[BK_ID_LEN],
		 const void *plain, size_t len, char *err, size_t errlen)
{
	size_t off = w->data.len;

	if (grow_entries(w, err, errlen) < 0)
		return -1;
	if (off > UINT32_MAX - len - 1024) {
		err_set(err, errlen, "pack: over 4 GiB");
		return -1;
	}
	if (bk_encode(c, plain, len, true, &w->data, err, errlen) < 0)
		return -1;
	add_entry(w, id, off, len);
	return 0;
}

int bk_packw_append(struct bk_packw *w, const uint8_t id[BK_ID_LEN], const void *stored,
		    size_t stored_len, size_t raw_len, char *err, size_t errlen)
{
	size_t off = w->data.len;

	if (grow_entries(w, err, errlen) < 0)
		return -1;
	if (raw_len > UINT32_MAX || stored_len > UINT32_MAX - 1024 ||
	    off > UINT32_MAX - 1024 - stored_len) {
		err_set(err, errlen, "pack: over 4 GiB");
		return -1;
	}
	if (bk_buf_append(&w->data, stored, stored_len) < 0) {
		err_set(err, errlen, "pack: out of memory");
		return -1;
	}
	add_entry(w, id, off, raw_len);
	return 0;
}

int bk_packw_seal(struct bk_packw *w, struct bk_codec *c, uint8_t id[BK_ID_LEN], char *err,
		  size_t errlen)
{
	struct bk_buf h = { 0 };
	size_t before = w->data.len;
	uint8_t *p, trailer[BK_PACK_TRAILER_LEN];
	int rc = -1;

	if (bk_buf_reserve(&h, HEADER_FIXED + w->n * BK_PACK_ENTRY_LEN) < 0) {
		err_set(err, errlen, "pack: out of memory");
		return -1;
	}
	p = h.p;
	memcpy(p, HEADER_MAGIC, 4);
	bk_put_le32(p + 4, PACK_VERSION);
	bk_put_le32(p + 8, (uint32_t)w->n);
	p += HEADER_FIXED;
	for (size_t i = 0; i < w->n; i++, p += BK_PACK_ENTRY_LEN) {
		memcpy(p, w->ents[i].id, BK_ID_LEN);
		bk_put_le32(p + 32, w->ents[i].offset);
		bk_put_le32(p + 36, w->ents[i].stored_len);
		bk_put_le32(p + 40, w->ents[i].raw_len);
	}
	h.len = (size_t)(p - h.p);
	if (bk_encode(c, h.p, h.len, false, &w->data, err, errlen) == 0) {
		bk_put_le32(trailer, (uint32_t)(w->data.len - before));
		memcpy(trailer + 4, TRAILER_MAGIC, 4);
		if (bk_buf_append(&w->data, trailer, sizeof(trailer)) == 0) {
			bk_sha256(w->data.p, w->data.len, id);
			rc = 0;
		} else {
			err_set(err, errlen, "pack: out of memory");
		}
	}
	bk_buf_free(&h);
	return rc;
}

/* Entries from a decoded header, each inside [0, end). */
static int parse_entries(const struct bk_buf *h, size_t end, struct bk_pack_entry **ents,
			 size_t *n, char *err, size_t errlen)
{
	uint32_t count;
	const uint8_t *p = h->p + HEADER_FIXED;

	if (h->len < HEADER_FIXED || memcmp(h->p, HEADER_MAGIC, 4) != 0 ||
	    bk_get_le32(h->p + 4) != PACK_VERSION) {
		err_set(err, errlen, "pack header: bad magic or version");
		return -1;
	}
	count = bk_get_le32(h->p + 8);
	if ((h->len - HEADER_FIXED) / BK_PACK_ENTRY_LEN != count ||
	    (h->len - HEADER_FIXED) % BK_PACK_ENTRY_LEN != 0) {
		err_set(err, errlen, "pack header: %u entries do not fit its length", count);
		return -1;
	}
	*ents = calloc(count ? count : 1, sizeof(**ents));
	if (!*ents) {
		err_set(err, errlen, "pack header: out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < count; i++, p += BK_PACK_ENTRY_LEN) {
		struct bk_pack_entry *e = &(*ents)[i];

		memcpy(e->id, p, BK_ID_LEN);
		e->offset = bk_get_le32(p + 32);
		e->stored_len = bk_get_le32(p + 36);
		e->raw_len = bk_get_le32(p + 40);
		if ((uint64_t)e->offset + e->stored_len > end || e->raw_len > BK_CHUNK_MAX_LIMIT) {
			err_set(err, errlen, "pack header: entry %u out of bounds", i);
			free(*ents);
			*ents = NULL;
			return -1;
		}
	}
	*n = count;
	return 0;
}

int bk_pack_parse(struct bk_codec *c, const uint8_t *pack, size_t len,
		  struct bk_pack_entry **ents, size_t *n, char *err, size_t errlen)
{
	struct bk_buf h = { 0 };
	uint32_t hlen;
	size_t hstart;
	int rc;

	*ents = NULL;
	*n = 0;
	if (len < BK_PACK_TRAILER_LEN || memcmp(pack + len - 4, TRAILER_MAGIC, 4) != 0) {
		err_set(err, errlen, "pack: no trailer");
		return -1;
	}
	hlen = bk_get_le32(pack + len - BK_PACK_TRAILER_LEN);
	if (hlen > len - BK_PACK_TRAILER_LEN) {
		err_set(err, errlen, "pack: header length %u out of bounds", hlen);
		return -1;
	}
	hstart = len - BK_PACK_TRAILER_LEN - hlen;
	if (bk_decode(c, pack + hstart, hlen, SIZE_MAX, hlen, &h, err, errlen) < 0)
		rc = -1;
	else
		rc = parse_entries(&h, hstart, ents, n, err, errlen);
	bk_buf_free(&h);
	return rc;
}
