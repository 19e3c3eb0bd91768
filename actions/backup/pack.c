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
#define HEADER_FIXED 12
/* A 4 GiB pack of 4 KiB chunks has a million entries. */
#define HEADER_MAX (HEADER_FIXED + (1u << 20) * BK_PACK_ENTRY_LEN_V2)

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

/* Record chunks ch[0..n) of the segment that ends the pack's data, starting at off. */
static int add_entries(struct bk_packw *w, size_t off, size_t seg_len,
		       const struct bk_seg_chunk *ch, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct bk_pack_entry *e;

		if (grow_entries(w, err, errlen) < 0)
			return -1;
		e = &w->ents[w->n++];
		memcpy(e->id, ch[i].id, BK_ID_LEN);
		e->offset = (uint32_t)off;
		e->stored_len = (uint32_t)(w->data.len - off);
		e->seg_len = (uint32_t)seg_len;
		e->chunk_off = ch[i].off;
		e->raw_len = ch[i].len;
	}
	return 0;
}

/* A segment of len bytes holding ch[0..n) that fits the format's limits. */
static int seg_ok(size_t off, size_t len, const struct bk_seg_chunk *ch, size_t n, char *err,
		  size_t errlen)
{
	if (n == 0 || len > BK_SEGMENT_MAX) {
		err_set(err, errlen, "pack: segment of %zu chunks, %zu bytes", n, len);
		return -1;
	}
	if (off > UINT32_MAX - 1024 - (len + len / 64 + 1024)) {
		err_set(err, errlen, "pack: over 4 GiB");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((uint64_t)ch[i].off + ch[i].len > len) {
			err_set(err, errlen, "pack: chunk %zu outside its segment", i);
			return -1;
		}
	return 0;
}

int bk_packw_add(struct bk_packw *w, struct bk_codec *c, const void *plain, size_t len,
		 const struct bk_seg_chunk *ch, size_t n, char *err, size_t errlen)
{
	size_t off = w->data.len;

	if (seg_ok(off, len, ch, n, err, errlen) < 0)
		return -1;
	if (bk_encode(c, plain, len, true, &w->data, err, errlen) < 0)
		return -1;
	return add_entries(w, off, len, ch, n, err, errlen);
}

int bk_packw_append(struct bk_packw *w, const void *stored, size_t stored_len, size_t raw_len,
		    const struct bk_seg_chunk *ch, size_t n, char *err, size_t errlen)
{
	size_t off = w->data.len;

	if (seg_ok(off, raw_len, ch, n, err, errlen) < 0)
		return -1;
	if (stored_len > UINT32_MAX - 1024 || off > UINT32_MAX - 1024 - stored_len) {
		err_set(err, errlen, "pack: over 4 GiB");
		return -1;
	}
	if (bk_buf_append(&w->data, stored, stored_len) < 0) {
		err_set(err, errlen, "pack: out of memory");
		return -1;
	}
	return add_entries(w, off, raw_len, ch, n, err, errlen);
}

bool bk_pack_version_known(uint32_t version)
{
	return version == 1 || version == 2;
}

size_t bk_pack_entry_len(unsigned version)
{
	return version == 1 ? BK_PACK_ENTRY_LEN_V1 : BK_PACK_ENTRY_LEN_V2;
}

int bk_pack_entry_write(const struct bk_pack_entry *e, uint8_t *p, unsigned version)
{
	if (version == 1 && (e->chunk_off != 0 || e->seg_len != e->raw_len))
		return -1;
	memcpy(p, e->id, BK_ID_LEN);
	bk_put_le32(p + 32, e->offset);
	bk_put_le32(p + 36, e->stored_len);
	if (version == 1) {
		bk_put_le32(p + 40, e->raw_len);
		return 0;
	}
	bk_put_le32(p + 40, e->seg_len);
	bk_put_le32(p + 44, e->chunk_off);
	bk_put_le32(p + 48, e->raw_len);
	return 0;
}

void bk_pack_entry_read(struct bk_pack_entry *e, const uint8_t *p, unsigned version)
{
	memcpy(e->id, p, BK_ID_LEN);
	e->offset = bk_get_le32(p + 32);
	e->stored_len = bk_get_le32(p + 36);
	if (version == 1) {
		/* A version 1 blob is a segment of exactly one chunk. */
		e->raw_len = e->seg_len = bk_get_le32(p + 40);
		e->chunk_off = 0;
		return;
	}
	e->seg_len = bk_get_le32(p + 40);
	e->chunk_off = bk_get_le32(p + 44);
	e->raw_len = bk_get_le32(p + 48);
}

/* The header's plaintext into h. */
static int header_plain(const struct bk_packw *w, unsigned version, struct bk_buf *h, char *err,
			size_t errlen)
{
	size_t elen = bk_pack_entry_len(version);
	uint8_t *p;

	if (bk_buf_reserve(h, HEADER_FIXED + w->n * elen) < 0) {
		err_set(err, errlen, "pack: out of memory");
		return -1;
	}
	p = h->p;
	memcpy(p, HEADER_MAGIC, 4);
	bk_put_le32(p + 4, version);
	bk_put_le32(p + 8, (uint32_t)w->n);
	p += HEADER_FIXED;
	for (size_t i = 0; i < w->n; i++, p += elen)
		if (bk_pack_entry_write(&w->ents[i], p, version) < 0) {
			err_set(err, errlen, "pack: a version 1 pack holds one chunk per blob");
			return -1;
		}
	h->len = (size_t)(p - h->p);
	return 0;
}

int bk_packw_seal(struct bk_packw *w, struct bk_codec *c, unsigned version,
		  uint8_t id[BK_ID_LEN], char *err, size_t errlen)
{
	struct bk_buf h = { 0 };
	size_t before = w->data.len;
	uint8_t trailer[BK_PACK_TRAILER_LEN];
	int rc = -1;

	if (!bk_pack_version_known(version)) {
		err_set(err, errlen, "pack: no format version %u", version);
		return -1;
	}
	/* Version 2 compresses the header: a segment's fields repeat per chunk. */
	if (header_plain(w, version, &h, err, errlen) == 0 &&
	    bk_encode(c, h.p, h.len, version >= 2, &w->data, err, errlen) == 0) {
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

int bk_pack_entry_check(const struct bk_pack_entry *e, uint64_t end, char *err, size_t errlen)
{
	if ((uint64_t)e->offset + e->stored_len > end) {
		err_set(err, errlen, "segment beyond the end of its pack");
		return -1;
	}
	if (e->raw_len > BK_CHUNK_MAX_LIMIT || e->seg_len > BK_SEGMENT_MAX ||
	    (uint64_t)e->chunk_off + e->raw_len > e->seg_len) {
		err_set(err, errlen, "chunk outside its segment");
		return -1;
	}
	return 0;
}

/* Entries from a decoded header, each inside [0, end). */
static int parse_entries(const struct bk_buf *h, size_t end, struct bk_pack_entry **ents,
			 size_t *n, char *err, size_t errlen)
{
	uint32_t count, version;
	size_t elen;
	const uint8_t *p = h->p + HEADER_FIXED;
	char why[96];

	if (h->len < HEADER_FIXED || memcmp(h->p, HEADER_MAGIC, 4) != 0 ||
	    !bk_pack_version_known(version = bk_get_le32(h->p + 4))) {
		err_set(err, errlen, "pack header: bad magic or version");
		return -1;
	}
	elen = bk_pack_entry_len(version);
	count = bk_get_le32(h->p + 8);
	if ((h->len - HEADER_FIXED) / elen != count || (h->len - HEADER_FIXED) % elen != 0) {
		err_set(err, errlen, "pack header: %u entries do not fit its length", count);
		return -1;
	}
	*ents = calloc(count ? count : 1, sizeof(**ents));
	if (!*ents) {
		err_set(err, errlen, "pack header: out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < count; i++, p += elen) {
		bk_pack_entry_read(&(*ents)[i], p, version);
		if (bk_pack_entry_check(&(*ents)[i], end, why, sizeof(why)) < 0) {
			err_set(err, errlen, "pack header: entry %u: %s", i, why);
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
	if (bk_decode(c, pack + hstart, hlen, SIZE_MAX, HEADER_MAX, &h, err, errlen) < 0)
		rc = -1;
	else
		rc = parse_entries(&h, hstart, ents, n, err, errlen);
	bk_buf_free(&h);
	return rc;
}
