/*
 * actions/backup/segment.c — decoded segments kept for the chunks that
 * follow in them (segment.h).
 */
#include "actions/backup/segment.h"

#include <string.h>

#include "common/error.h"

/* A slot whose buffer grew past this (a huge segment) gives it back. */
#define SLOT_KEEP_CAP (4u << 20)

int bk_seg_fetch_mem(void *arg, const struct bk_ientry *e, const uint8_t **stored, char *why,
		     size_t whylen)
{
	const struct bk_seg_mem *m = arg;

	if ((uint64_t)e->offset + e->stored_len > m->len) {
		err_set(why, whylen, "beyond the end of the pack");
		return -1;
	}
	*stored = m->data + e->offset;
	return 0;
}

void bk_segcache_free(struct bk_segcache *sc)
{
	for (size_t i = 0; i < BK_SEGCACHE_SLOTS; i++)
		bk_buf_free(&sc->slot[i].plain);
	memset(sc, 0, sizeof(*sc));
}

/* The slot holding e's segment, or NULL with *lru the one to refill. */
static struct bk_segcache_slot *lookup(struct bk_segcache *sc, const uint8_t pack[BK_ID_LEN],
				       const struct bk_ientry *e, struct bk_segcache_slot **lru)
{
	*lru = &sc->slot[0];
	for (size_t i = 0; i < BK_SEGCACHE_SLOTS; i++) {
		struct bk_segcache_slot *s = &sc->slot[i];

		if (s->used && s->offset == e->offset && s->plain.len == e->seg_len &&
		    memcmp(s->pack, pack, BK_ID_LEN) == 0)
			return s;
		if (s->used < (*lru)->used)
			*lru = s;
	}
	return NULL;
}

/* Decode e's segment into s; s is empty on failure. */
static int fill(struct bk_segcache_slot *s, struct bk_codec *c, const uint8_t pack[BK_ID_LEN],
		const struct bk_ientry *e, bk_seg_fetch_fn fetch, void *arg, char *why,
		size_t whylen)
{
	const uint8_t *stored = NULL;

	s->used = 0;
	if (s->plain.cap > SLOT_KEEP_CAP)
		bk_buf_free(&s->plain);
	s->plain.len = 0;
	if (fetch(arg, e, &stored, why, whylen) != 0)
		return -1;
	if (bk_decode(c, stored, e->stored_len, e->seg_len, e->seg_len, &s->plain, why,
		      whylen) < 0)
		return -1;
	memcpy(s->pack, pack, BK_ID_LEN);
	s->offset = e->offset;
	return 0;
}

int bk_segcache_chunk(struct bk_segcache *sc, struct bk_codec *c, const uint8_t pack[BK_ID_LEN],
		      const struct bk_ientry *e, bk_seg_fetch_fn fetch, void *arg,
		      const uint8_t **chunk, char *why, size_t whylen)
{
	struct bk_segcache_slot *lru, *s = lookup(sc, pack, e, &lru);
	uint8_t got[BK_ID_LEN];

	if ((uint64_t)e->chunk_off + e->raw_len > e->seg_len) {
		err_set(why, whylen, "chunk outside its segment");
		return -1;
	}
	if (!s) {
		s = lru;
		if (fill(s, c, pack, e, fetch, arg, why, whylen) < 0)
			return -1;
	}
	s->used = ++sc->tick;
	bk_sha256(s->plain.p + e->chunk_off, e->raw_len, got);
	if (memcmp(got, e->id, BK_ID_LEN) != 0) {
		err_set(why, whylen, "content does not match its hash");
		return -1;
	}
	*chunk = s->plain.p + e->chunk_off;
	return 0;
}
