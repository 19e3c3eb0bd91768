/*
 * actions/backup/chunker.c — FastCDC (Xia et al., USENIX ATC 2016) with
 * normalized chunking level 2, and its streaming buffer.
 *
 * The rolling hash is the gear hash fp = (fp << 1) + gear[byte]: each byte
 * shifts out after 64 steps, so fp depends on the last 64 bytes only.  The
 * masks select the top bits of fp, the ones all 64 bytes feed, so the
 * window really is 64 bytes (low bits would depend on a handful).  Bytes
 * before min are skipped, not hashed: no chunk can end there anyway.
 */
#include "actions/backup/chunker.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* "vigil-cd" in ASCII; the gear table is splitmix64 from this state. */
#define GEAR_SEED 0x766967696c2d6364ULL

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t top_bits(unsigned n)
{
	return n == 0 ? 0 : ~0ULL << (64 - n);
}

int bk_chunker_init(struct bk_chunker *c, uint32_t min, uint32_t avg, uint32_t max,
		    char *err, size_t errlen)
{
	uint64_t state = GEAR_SEED;
	unsigned bits = 0;

	if (min < BK_CHUNK_MIN_LIMIT || max > BK_CHUNK_MAX_LIMIT || !(min < avg && avg < max) ||
	    (avg & (avg - 1)) != 0) {
		err_set(err, errlen,
			"chunker: sizes %u/%u/%u: need %u <= min < avg < max <= %u, avg a power of two",
			min, avg, max, BK_CHUNK_MIN_LIMIT, BK_CHUNK_MAX_LIMIT);
		return -1;
	}
	while ((1u << bits) < avg)
		bits++;
	c->min = min;
	c->avg = avg;
	c->max = max;
	c->mask_s = top_bits(bits + 2);
	c->mask_l = top_bits(bits - 2);
	for (int i = 0; i < 256; i++)
		c->gear[i] = splitmix64(&state);
	return 0;
}

size_t bk_chunker_cut(const struct bk_chunker *c, const uint8_t *p, size_t n)
{
	size_t i = c->min, normal = c->avg, end = c->max;
	uint64_t fp = 0;

	if (n <= c->min)
		return n;
	if (end > n)
		end = n;
	if (normal > end)
		normal = end;
	for (; i < normal; i++) {
		fp = (fp << 1) + c->gear[p[i]];
		if (!(fp & c->mask_s))
			return i + 1;
	}
	for (; i < end; i++) {
		fp = (fp << 1) + c->gear[p[i]];
		if (!(fp & c->mask_l))
			return i + 1;
	}
	return end;
}

/* ---- streaming ---- */

int bk_cdc_init(struct bk_cdc *s, const struct bk_chunker *c, char *err, size_t errlen)
{
	/* Several max-size chunks per refill, so compaction moves little. */
	size_t cap = (size_t)c->max * 4;

	if (cap < (1u << 20))
		cap = 1u << 20;
	s->c = c;
	s->start = s->end = 0;
	s->cap = cap;
	s->buf = malloc(cap);
	if (!s->buf) {
		err_set(err, errlen, "chunker: out of memory");
		return -1;
	}
	return 0;
}

void bk_cdc_free(struct bk_cdc *s)
{
	free(s->buf);
	s->buf = NULL;
}

void bk_cdc_reset(struct bk_cdc *s)
{
	s->start = s->end = 0;
}

uint8_t *bk_cdc_space(struct bk_cdc *s, size_t *avail)
{
	if (s->cap - s->end < s->c->max) {
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	*avail = s->cap - s->end;
	return s->buf + s->end;
}

void bk_cdc_commit(struct bk_cdc *s, size_t n)
{
	s->end += n;
}

int bk_cdc_next(struct bk_cdc *s, bool eof, const uint8_t **p, size_t *len)
{
	size_t have = s->end - s->start, cut;

	if (have == 0 || (!eof && have < s->c->max))
		return 0;
	cut = bk_chunker_cut(s->c, s->buf + s->start, have);
	*p = s->buf + s->start;
	*len = cut;
	s->start += cut;
	return 1;
}

int bk_cdc_feed(struct bk_cdc *s, const void *data, size_t n,
		int (*emit)(void *arg, const uint8_t *p, size_t len), void *arg)
{
	const uint8_t *in = data, *cp;
	size_t avail, take, clen;

	while (n > 0) {
		uint8_t *dst = bk_cdc_space(s, &avail);

		take = n < avail ? n : avail;
		memcpy(dst, in, take);
		bk_cdc_commit(s, take);
		in += take;
		n -= take;
		while (bk_cdc_next(s, false, &cp, &clen) == 1)
			if (emit(arg, cp, clen) < 0)
				return -1;
	}
	return 0;
}
