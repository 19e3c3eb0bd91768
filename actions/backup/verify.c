/*
 * actions/backup/verify.c — is the repository sound, and what is lost if not.
 *
 * Structure: every index file loads, every indexed pack exists with the
 * size the index gives it, every snapshot manifest loads, its tree reads,
 * and every chunk a file needs is indexed.  With read_data, every pack is
 * read whole: its bytes must hash to its name, and each chunk must
 * decrypt, decompress and hash to its id.  Damage is then reported where
 * it hurts: per snapshot, per file.
 *
 * Packs no index lists (left by a killed backup) are counted, not
 * reported: the next backup indexes and reuses them.
 */
#include "actions/backup/backup.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/segment.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/tree.h"
#include "common/error.h"

struct verify {
	struct bk_repo *r;
	const struct bk_verify_opts *o;
	struct bk_verify_stats *st;
	struct bk_tab damaged; /* chunk ids that cannot be read back */
	bool *bad_pack;
	struct bk_segcache segs;
	uint64_t bytes_read, bytes_total; /* packs read whole, for progress */
};

static void problem(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct verify *v, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->st->problems++;
	if (v->o->problem)
		v->o->problem(v->o->arg, msg);
}

static int mark(struct verify *v, const uint8_t *id)
{
	bool existed;

	if (!bk_tab_insert(&v->damaged, id, &existed))
		return -1;
	if (!existed)
		v->st->damaged_chunks++;
	return 0;
}

static int mark_bad_packs(void *elem, void *arg)
{
	struct bk_ientry *e = elem;
	struct verify *v = arg;

	if (e->pack != BK_PACK_PENDING && v->bad_pack[e->pack])
		return mark(v, e->id);
	return 0;
}

/* Every indexed pack is there with its size. */
static int check_packs(struct verify *v)
{
	struct bk_index *x = &v->r->index;
	char hex[BK_ID_HEX], name[96], why[256];
	uint64_t size;

	v->bad_pack = calloc(x->npacks ? x->npacks : 1, sizeof(bool));
	if (!v->bad_pack)
		return -1;
	for (size_t i = 0; i < x->npacks; i++) {
		int rc;

		bk_hex(x->packs[i].id, BK_ID_LEN, hex);
		bk_pack_name(hex, name, sizeof(name));
		rc = v->r->store->ops->size(v->r->store, name, &size, why, sizeof(why));
		if (rc < 0)
			return -1;
		if (rc == 1 || size != x->packs[i].size) {
			problem(v, "pack %s: %s", hex, rc == 1 ? "missing" : "wrong size");
			v->bad_pack[i] = true;
		}
	}
	return bk_tab_each(&x->chunks, mark_bad_packs, v) == 0 ? 0 : -1;
}

struct by_pack {
	struct bk_ientry **v;
	size_t n;
};

static int collect(void *elem, void *arg)
{
	struct by_pack *b = arg;
	struct bk_ientry *e = elem;

	if (e->pack != BK_PACK_PENDING)
		b->v[b->n++] = e;
	return 0;
}

static int pack_order(const void *x, const void *y)
{
	const struct bk_ientry *a = *(struct bk_ientry *const *)x, *b = *(struct bk_ientry *const *)y;

	if (a->pack != b->pack)
		return a->pack < b->pack ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return a->chunk_off < b->chunk_off ? -1 : a->chunk_off > b->chunk_off;
}

/* Re-hash one chunk of a pack held in memory (each segment decoded once); false when damaged. */
static bool chunk_ok(struct verify *v, const uint8_t pack[BK_ID_LEN], const struct bk_ientry *e,
		     const uint8_t *data, size_t len)
{
	struct bk_seg_mem m = { .data = data, .len = len };
	const uint8_t *chunk;
	char why[256];

	v->st->chunks_read++;
	return bk_segcache_chunk(&v->segs, v->r->codec, pack, e, bk_seg_fetch_mem, &m, &chunk,
				 why, sizeof(why)) == 0;
}

/* Read pack i whole and check the chunks b->v[*at...] that live in it. */
static int read_pack(struct verify *v, size_t i, const struct by_pack *b, size_t *at)
{
	const struct bk_ipack *pk = &v->r->index.packs[i];
	char hex[BK_ID_HEX], name[96], why[256];
	uint8_t *data = NULL, got[BK_ID_LEN];
	size_t len = 0, start = *at;
	uint64_t bad = 0;
	int rc = 0;

	while (*at < b->n && b->v[*at]->pack == i)
		(*at)++;
	if (v->bad_pack[i])
		return 0;
	bk_hex(pk->id, BK_ID_LEN, hex);
	bk_pack_name(hex, name, sizeof(name));
	if (v->r->store->ops->get(v->r->store, name, pk->size + 1, &data, &len, why,
				  sizeof(why)) != 0) {
		problem(v, "pack %s: cannot read: %s", hex, why);
		for (size_t k = start; rc == 0 && k < *at; k++)
			rc = mark(v, b->v[k]->id);
		return rc;
	}
	bk_sha256(data, len, got);
	if (memcmp(got, pk->id, BK_ID_LEN) != 0)
		problem(v, "pack %s: content does not match its name", hex);
	for (size_t k = start; rc == 0 && k < *at; k++)
		if (!chunk_ok(v, pk->id, b->v[k], data, len)) {
			bad++;
			rc = mark(v, b->v[k]->id);
		}
	if (bad)
		problem(v, "pack %s: %llu damaged chunk(s)", hex, (unsigned long long)bad);
	free(data);
	return rc;
}

/* After each pack read whole. */
static void progress(struct verify *v, bool done)
{
	struct bk_progress p = { .bytes = v->bytes_read, .bytes_total = v->bytes_total,
				 .done = done };

	if (v->o->progress)
		v->o->progress(v->o->progress_arg, &p);
}

/* Every pack once, its chunks found through one sorted list (not a scan per pack). */
static int read_packs(struct verify *v)
{
	struct bk_index *x = &v->r->index;
	struct by_pack b = { .v = malloc((x->chunks.n ? x->chunks.n : 1) * sizeof(*b.v)) };
	size_t at = 0;
	int rc = 0;

	if (!b.v)
		return -1;
	bk_tab_each(&x->chunks, collect, &b);
	qsort(b.v, b.n, sizeof(*b.v), pack_order);
	for (size_t i = 0; i < x->npacks; i++)
		v->bytes_total += x->packs[i].size;
	for (size_t i = 0; rc == 0 && i < x->npacks; i++) {
		rc = read_pack(v, i, &b, &at);
		v->bytes_read += x->packs[i].size;
		progress(v, i + 1 == x->npacks);
	}
	free(b.v);
	return rc;
}

static int count_unindexed(void *arg, const char *name)
{
	struct verify *v = arg;
	const char *base = strrchr(name, '/');
	uint8_t id[BK_ID_LEN];

	if (base && bk_is_id_hex(base + 1) &&
	    bk_unhex(base + 1, 2 * BK_ID_LEN, id, BK_ID_LEN) == 0 &&
	    !bk_index_has_pack(&v->r->index, id))
		v->st->unindexed_packs++;
	return 0;
}

/* The first chunk of e that is missing or damaged; NULL if none. */
static const uint8_t *bad_chunk(struct verify *v, const struct bk_entry *e, const char **why)
{
	for (size_t i = 0; i < e->nchunks; i++) {
		const uint8_t *id = e->chunks + i * BK_ID_LEN;
		const struct bk_ientry *ie = bk_index_find(&v->r->index, id);

		if (!ie || ie->pack == BK_PACK_PENDING)
			*why = "is not in the index";
		else
			*why = bk_tab_find(&v->damaged, id) ? "is damaged" : NULL;
		if (*why)
			return id;
	}
	return NULL;
}

static int check_snapshot(struct verify *v, const char *id)
{
	struct bk_snapshot s;
	struct bk_tree_reader t;
	struct bk_entry e;
	char why[512] = "", hex[BK_ID_HEX];
	const char *what;
	const uint8_t *bad;
	int rc;

	if (bk_snapshot_load(v->r, id, &s, why, sizeof(why)) != 0) {
		problem(v, "snapshot %s: manifest unreadable: %s", id, why);
		return 0;
	}
	v->st->snapshots++;
	bk_tree_reader_init(&t, v->r, s.tree, s.ntree);
	while ((rc = bk_tree_next(&t, &e, why, sizeof(why))) == 1) {
		if (e.type == BK_FILE && (bad = bad_chunk(v, &e, &what)) != NULL) {
			bk_hex(bad, BK_ID_LEN, hex);
			v->st->damaged_files++;
			problem(v, "snapshot %.16s: file %s: chunk %.16s %s", id, e.path, hex, what);
		}
		bk_entry_clear(&e);
	}
	if (rc < 0)
		problem(v, "snapshot %.16s: tree unreadable, its files cannot be listed: %s", id, why);
	bk_tree_reader_free(&t);
	bk_snapshot_clear(&s);
	return 0;
}

static int each_snapshot(void *arg, const char *name)
{
	const char *base = strrchr(name, '/');

	if (!base || !bk_is_id_hex(base + 1))
		return 0;
	return check_snapshot(arg, base + 1);
}

static int run_verify(struct verify *v, char *err, size_t errlen)
{
	struct bk_store *s = v->r->store;

	if (v->r->index.damaged)
		problem(v, "index: %u damaged index file(s); first: %s", v->r->index.damaged,
			v->r->index.damaged_msg);
	v->st->packs = v->r->index.npacks;
	v->st->chunks = v->r->index.chunks.n;
	if (check_packs(v) < 0 || (v->o->read_data && read_packs(v) < 0)) {
		err_set(err, errlen, "verify: out of memory or unreadable repository");
		return -1;
	}
	if (s->ops->list(s, "data", count_unindexed, v, err, errlen) != 0 ||
	    s->ops->list(s, "snapshots", each_snapshot, v, err, errlen) != 0)
		return -1;
	return v->st->problems ? 1 : 0;
}

int bk_verify(struct bk_repo *r, const struct bk_verify_opts *o, struct bk_verify_stats *st,
	      char *err, size_t errlen)
{
	struct bk_verify_stats local = { 0 };
	struct verify v = { .r = r, .o = o };
	int rc;

	v.st = st ? st : &local;
	memset(v.st, 0, sizeof(*v.st));
	bk_tab_init(&v.damaged, BK_ID_LEN);
	rc = run_verify(&v, err, errlen);
	bk_tab_free(&v.damaged);
	free(v.bad_pack);
	bk_segcache_free(&v.segs);
	return rc;
}
