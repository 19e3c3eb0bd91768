/*
 * actions/backup/bkutil.c — buffers, hex, little-endian fields, SHA-256,
 * randomness and the id table (see bkutil.h).
 *
 * The id table hashes on the id's first eight bytes: ids are SHA-256
 * outputs, so they are already uniform, and nobody can cheaply craft
 * many contents whose hashes share a 64-bit prefix.
 */
#include "actions/backup/bkutil.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int bk_buf_reserve(struct bk_buf *b, size_t extra)
{
	size_t want, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len)
		return -1;
	want = b->len + extra;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int bk_buf_append(struct bk_buf *b, const void *data, size_t n)
{
	if (bk_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void bk_buf_free(struct bk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void bk_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void bk_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t bk_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t bk_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void bk_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int bk_unhex(const char *in, size_t inlen, uint8_t *out, size_t n)
{
	if (inlen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool bk_is_id_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 2 * BK_ID_LEN;
}

void bk_sha256(const void *data, size_t len, uint8_t out[BK_ID_LEN])
{
	unsigned int n = 0;

	/* Only fails when OpenSSL cannot allocate; an all-zero id then
	 * matches nothing and is refused by the id table. */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, BK_ID_LEN);
}

int bk_random(void *buf, size_t n, char *err, size_t errlen)
{
	if (n > INT32_MAX || RAND_bytes(buf, (int)n) != 1) {
		err_set(err, errlen, "random bytes: OpenSSL RAND_bytes failed");
		return -1;
	}
	return 0;
}

/* ---- the id table ---- */

static const uint8_t zero_id[BK_ID_LEN];

void bk_tab_init(struct bk_tab *t, size_t esize)
{
	t->slots = NULL;
	t->esize = esize;
	t->cap = t->n = 0;
}

void bk_tab_free(struct bk_tab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

static size_t slot_of(const struct bk_tab *t, const uint8_t *id)
{
	return (size_t)bk_get_le64(id) & (t->cap - 1);
}

void *bk_tab_find(const struct bk_tab *t, const uint8_t id[BK_ID_LEN])
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
		uint8_t *e = t->slots + i * t->esize;

		if (memcmp(e, zero_id, BK_ID_LEN) == 0)
			return NULL;
		if (memcmp(e, id, BK_ID_LEN) == 0)
			return e;
	}
}

/*
 * Double the table; -1 when out of memory.  It grows at three quarters
 * full: linear probing still finds a slot in a few steps, and the index
 * of a large repository is this process's biggest allocation.
 */
static int tab_grow(struct bk_tab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024;
	uint8_t *ns = calloc(ncap, t->esize), *old = t->slots;
	size_t ocap = t->cap;

	if (!ns)
		return -1;
	t->slots = ns;
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		uint8_t *e = old + i * t->esize;
		size_t j;

		if (memcmp(e, zero_id, BK_ID_LEN) == 0)
			continue;
		for (j = slot_of(t, e); memcmp(ns + j * t->esize, zero_id, BK_ID_LEN) != 0;
		     j = (j + 1) & (ncap - 1))
			;
		memcpy(ns + j * t->esize, e, t->esize);
	}
	free(old);
	return 0;
}

void *bk_tab_insert(struct bk_tab *t, const uint8_t id[BK_ID_LEN], bool *existed)
{
	uint8_t *e;
	size_t i;

	*existed = false;
	if (memcmp(id, zero_id, BK_ID_LEN) == 0)
		return NULL;
	e = bk_tab_find(t, id);
	if (e) {
		*existed = true;
		return e;
	}
	if ((t->n + 1) * 4 > t->cap * 3 && tab_grow(t) < 0)
		return NULL;
	for (i = slot_of(t, id); memcmp(t->slots + i * t->esize, zero_id, BK_ID_LEN) != 0;
	     i = (i + 1) & (t->cap - 1))
		;
	e = t->slots + i * t->esize;
	memset(e, 0, t->esize);
	memcpy(e, id, BK_ID_LEN);
	t->n++;
	return e;
}

int bk_tab_each(const struct bk_tab *t, int (*fn)(void *elem, void *arg), void *arg)
{
	for (size_t i = 0; i < t->cap; i++) {
		uint8_t *e = t->slots + i * t->esize;
		int rc;

		if (memcmp(e, zero_id, BK_ID_LEN) == 0)
			continue;
		rc = fn(e, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int bk_tab_filter(struct bk_tab *t, bool (*keep)(const void *elem, void *arg), void *arg)
{
	struct bk_tab nt;
	bool existed;

	/* Open addressing cannot simply blank a slot (it would cut probe
	 * chains), so rebuild; this runs only when a failed backup drops
	 * the chunks it never wrote. */
	bk_tab_init(&nt, t->esize);
	for (size_t i = 0; i < t->cap; i++) {
		uint8_t *e = t->slots + i * t->esize, *ne;

		if (memcmp(e, zero_id, BK_ID_LEN) == 0 || !keep(e, arg))
			continue;
		ne = bk_tab_insert(&nt, e, &existed);
		if (!ne) {
			bk_tab_free(&nt);
			return -1;
		}
		memcpy(ne, e, t->esize);
	}
	bk_tab_free(t);
	*t = nt;
	return 0;
}
