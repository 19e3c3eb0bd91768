/*
 * actions/backup/index.c — the chunk index in memory and in index files
 * (index.h), and the named-by-hash objects index and snapshot files are.
 */
#include "actions/backup/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define INDEX_MAGIC "VGIX"
#define INDEX_MAX (1u << 30)

struct pack_slot {
	uint8_t id[BK_ID_LEN];
	uint32_t pos;
};

static void set_location(struct bk_ientry *ie, const struct bk_pack_entry *e)
{
	ie->offset = e->offset;
	ie->stored_len = e->stored_len;
	ie->seg_len = e->seg_len;
	ie->chunk_off = e->chunk_off;
	ie->raw_len = e->raw_len;
}

void bk_ientry_location(const struct bk_ientry *ie, struct bk_pack_entry *pe)
{
	memcpy(pe->id, ie->id, BK_ID_LEN);
	pe->offset = ie->offset;
	pe->stored_len = ie->stored_len;
	pe->seg_len = ie->seg_len;
	pe->chunk_off = ie->chunk_off;
	pe->raw_len = ie->raw_len;
}

void bk_index_init(struct bk_index *x)
{
	memset(x, 0, sizeof(*x));
	bk_tab_init(&x->chunks, sizeof(struct bk_ientry));
	bk_tab_init(&x->by_id, sizeof(struct pack_slot));
}

void bk_index_free(struct bk_index *x)
{
	bk_tab_free(&x->chunks);
	bk_tab_free(&x->by_id);
	free(x->packs);
	memset(x, 0, sizeof(*x));
}

const struct bk_ientry *bk_index_find(const struct bk_index *x, const uint8_t id[BK_ID_LEN])
{
	return bk_tab_find(&x->chunks, id);
}

bool bk_index_has_pack(const struct bk_index *x, const uint8_t id[BK_ID_LEN])
{
	return bk_tab_find(&x->by_id, id) != NULL;
}

int bk_index_add_pending(struct bk_index *x, const struct bk_pack_entry *e, char *err,
			 size_t errlen)
{
	bool existed;
	struct bk_ientry *ie = bk_tab_insert(&x->chunks, e->id, &existed);

	if (!ie) {
		err_set(err, errlen, "index: out of memory");
		return -1;
	}
	if (!existed) {
		set_location(ie, e);
		ie->pack = BK_PACK_PENDING;
	}
	return 0;
}

/* A new slot in the pack list for id; its position, or -1. */
static int64_t new_pack(struct bk_index *x, const uint8_t id[BK_ID_LEN], uint64_t size)
{
	struct pack_slot *ps;
	bool existed;

	if (x->npacks == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		struct bk_ipack *np = realloc(x->packs, ncap * sizeof(*np));

		if (!np)
			return -1;
		x->packs = np;
		x->cap = ncap;
	}
	if (x->npacks >= BK_PACK_PENDING)
		return -1;
	ps = bk_tab_insert(&x->by_id, id, &existed);
	if (!ps)
		return -1;
	ps->pos = (uint32_t)x->npacks;
	memcpy(x->packs[x->npacks].id, id, BK_ID_LEN);
	x->packs[x->npacks].size = size;
	return (int64_t)x->npacks++;
}

int bk_index_add_pack(struct bk_index *x, const uint8_t id[BK_ID_LEN], uint64_t size,
		      const struct bk_pack_entry *ents, size_t n, char *err, size_t errlen)
{
	int64_t pos;

	if (bk_index_has_pack(x, id))
		return 0;
	pos = new_pack(x, id, size);
	if (pos < 0) {
		err_set(err, errlen, "index: out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		bool existed;
		struct bk_ientry *ie = bk_tab_insert(&x->chunks, ents[i].id, &existed);

		if (!ie) {
			err_set(err, errlen, "index: out of memory (or a zero chunk id)");
			return -1;
		}
		if (existed && ie->pack != BK_PACK_PENDING)
			continue;
		set_location(ie, &ents[i]);
		ie->pack = (uint32_t)pos;
	}
	return 0;
}

static bool kept(const void *elem, void *arg)
{
	return ((const struct bk_ientry *)elem)->pack < *(const size_t *)arg;
}

static bool pack_kept(const void *elem, void *arg)
{
	return ((const struct pack_slot *)elem)->pos < *(const size_t *)arg;
}

int bk_index_truncate(struct bk_index *x, size_t keep, char *err, size_t errlen)
{
	/* BK_PACK_PENDING is above any position, so pending chunks go too. */
	if (bk_tab_filter(&x->chunks, kept, &keep) < 0 ||
	    bk_tab_filter(&x->by_id, pack_kept, &keep) < 0) {
		err_set(err, errlen, "index: out of memory");
		return -1;
	}
	if (x->npacks > keep)
		x->npacks = keep;
	return 0;
}

/* ---- index files ---- */

int bk_index_record(struct bk_buf *plain, unsigned version, const uint8_t id[BK_ID_LEN],
		    uint64_t size, const struct bk_pack_entry *ents, size_t n)
{
	size_t elen = bk_pack_entry_len(version);
	uint8_t *p;

	if (bk_buf_reserve(plain, BK_ID_LEN + 12 + n * elen) < 0)
		return -1;
	p = plain->p + plain->len;
	memcpy(p, id, BK_ID_LEN);
	bk_put_le64(p + 32, size);
	bk_put_le32(p + 40, (uint32_t)n);
	p += BK_ID_LEN + 12;
	for (size_t i = 0; i < n; i++, p += elen)
		if (bk_pack_entry_write(&ents[i], p, version) < 0)
			return -1; /* the caller mixed versions: never written */
	plain->len = (size_t)(p - plain->p);
	return 0;
}

void bk_index_header(struct bk_buf *plain, unsigned version, uint32_t npacks)
{
	memcpy(plain->p, INDEX_MAGIC, 4);
	bk_put_le32(plain->p + 4, version);
	bk_put_le32(plain->p + 8, npacks);
}

/* One pack record at *p (len bytes left); advances *p. */
static int parse_pack(struct bk_index *x, unsigned version, const uint8_t **p, size_t *left,
		      char *err, size_t errlen)
{
	const uint8_t *q = *p;
	size_t elen = bk_pack_entry_len(version);
	char why[96];
	struct bk_pack_entry *ents;
	uint64_t size;
	uint32_t n;
	int rc;

	if (*left < BK_ID_LEN + 12)
		goto short_file;
	size = bk_get_le64(q + 32);
	n = bk_get_le32(q + 40);
	if ((*left - BK_ID_LEN - 12) / elen < n)
		goto short_file;
	ents = calloc(n ? n : 1, sizeof(*ents));
	if (!ents) {
		err_set(err, errlen, "index: out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		bk_pack_entry_read(&ents[i], q + BK_ID_LEN + 12 + (size_t)i * elen, version);
		if (bk_pack_entry_check(&ents[i], size, why, sizeof(why)) < 0) {
			free(ents);
			err_set(err, errlen, "index: %s", why);
			return -1;
		}
	}
	rc = bk_index_add_pack(x, q, size, ents, n, err, errlen);
	free(ents);
	*p = q + BK_ID_LEN + 12 + (size_t)n * elen;
	*left -= BK_ID_LEN + 12 + (size_t)n * elen;
	return rc;
short_file:
	err_set(err, errlen, "index: truncated pack record");
	return -1;
}

int bk_index_parse(struct bk_index *x, const uint8_t *plain, size_t len, char *err,
		   size_t errlen)
{
	const uint8_t *p = plain + BK_INDEX_HEADER_LEN;
	size_t left;
	uint32_t npacks, version;

	if (len < BK_INDEX_HEADER_LEN || memcmp(plain, INDEX_MAGIC, 4) != 0 ||
	    !bk_pack_version_known(version = bk_get_le32(plain + 4))) {
		err_set(err, errlen, "index: bad magic or version");
		return -1;
	}
	npacks = bk_get_le32(plain + 8);
	left = len - BK_INDEX_HEADER_LEN;
	for (uint32_t i = 0; i < npacks; i++)
		if (parse_pack(x, version, &p, &left, err, errlen) < 0)
			return -1;
	if (left != 0) {
		err_set(err, errlen, "index: %zu bytes after the last pack", left);
		return -1;
	}
	return 0;
}

int bk_object_put(struct bk_store *s, struct bk_codec *c, const char *dir, const void *plain,
		  size_t len, char id_hex[2 * BK_ID_LEN + 1], size_t *stored, char *err,
		  size_t errlen)
{
	struct bk_buf out = { 0 };
	uint8_t id[BK_ID_LEN];
	char name[128];
	int rc;

	if (bk_encode(c, plain, len, true, &out, err, errlen) < 0) {
		bk_buf_free(&out);
		return -1;
	}
	bk_sha256(out.p, out.len, id);
	bk_hex(id, BK_ID_LEN, id_hex);
	snprintf(name, sizeof(name), "%s/%s", dir, id_hex);
	rc = s->ops->put(s, name, out.p, out.len, err, errlen);
	if (stored)
		*stored = out.len;
	bk_buf_free(&out);
	return rc;
}

int bk_object_get(struct bk_store *s, struct bk_codec *c, const char *name, size_t max,
		  struct bk_buf *out, char *err, size_t errlen)
{
	const char *base = strrchr(name, '/');
	uint8_t *data = NULL, id[BK_ID_LEN];
	char hex[2 * BK_ID_LEN + 1], why[256] = "";
	size_t len = 0;
	int rc = s->ops->get(s, name, max, &data, &len, why, sizeof(why));

	if (rc != 0) {
		if (rc < 0)
			err_set(err, errlen, "%s", why);
		return rc;
	}
	bk_sha256(data, len, id);
	bk_hex(id, BK_ID_LEN, hex);
	if (strcmp(base ? base + 1 : name, hex) != 0) {
		err_set(err, errlen, "%s: damaged (its bytes hash to %.16s...)", name, hex);
		rc = -1;
	} else if (bk_decode(c, data, len, SIZE_MAX, max, out, why, sizeof(why)) < 0) {
		err_set(err, errlen, "%s: %s", name, why);
		rc = -1;
	}
	free(data);
	return rc;
}

struct load_ctx {
	struct bk_index *x;
	struct bk_store *s;
	struct bk_codec *c;
	struct bk_buf plain;
};

static int load_one(void *arg, const char *name)
{
	struct load_ctx *l = arg;
	const char *base = strrchr(name, '/');
	char why[320] = "", msg[256];
	int rc;

	if (!base || !bk_is_id_hex(base + 1))
		return 0; /* not ours: a stray file is no reason to refuse the repository */
	rc = bk_object_get(l->s, l->c, name, INDEX_MAX, &l->plain, why, sizeof(why));
	if (rc == 1)
		return 0; /* removed since the listing */
	if (rc == 0 && bk_index_parse(l->x, l->plain.p, l->plain.len, msg, sizeof(msg)) < 0) {
		snprintf(why, sizeof(why), "%s: %s", name, msg);
		rc = -1;
	}
	if (rc < 0 && l->x->damaged++ == 0)
		snprintf(l->x->damaged_msg, sizeof(l->x->damaged_msg), "%s", why);
	return 0;
}

int bk_index_load(struct bk_index *x, struct bk_store *s, struct bk_codec *c, char *err,
		  size_t errlen)
{
	struct load_ctx l = { .x = x, .s = s, .c = c };
	int rc = s->ops->list(s, "index", load_one, &l, err, errlen);

	bk_buf_free(&l.plain);
	return rc < 0 ? -1 : 0;
}
