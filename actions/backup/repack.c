/*
 * actions/backup/repack.c — prune's writes (prune.h): the used chunks of
 * sparsely used packs copied into new packs, and the index files that
 * replace all the old ones.
 *
 * The copy goes through the backup's own writer (writer.h): the chunks
 * to move are first taken out of the in-memory index, so the writer sees
 * them as new and packs, syncs and indexes them exactly as a backup
 * would, and binds them to their new packs.  Each chunk is decoded and
 * re-hashed on the way, so a repack never carries damage into a new pack:
 * a damaged chunk stops the prune before anything is deleted.
 */
#include "actions/backup/repack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/segment.h"
#include "actions/backup/writer.h"
#include "common/error.h"

/* Split the new index into files of about this much plaintext (52 bytes a chunk). */
#define INDEX_FILE_TARGET (16u << 20)

struct entries {
	struct bk_ientry *v;
	size_t n, cap;
	struct bk_prune_run *p;
	bool moving; /* collect the used chunks in packs being repacked, else all used */
};

static int by_location(const void *a, const void *b)
{
	const struct bk_ientry *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->chunk_off < y->chunk_off ? -1 : x->chunk_off > y->chunk_off;
}

static uint8_t fate_of(const struct bk_prune_run *p, uint32_t pack)
{
	return pack < p->npacks ? p->fate[pack] : BK_FATE_KEEP;
}

static int gather_one(void *elem, void *arg)
{
	struct entries *es = arg;
	const struct bk_ientry *e = bk_index_find(&es->p->r->index, elem);

	/* Every used chunk was checked to be indexed when the plan was made,
	 * and once repacked, none is left in a pack about to go. */
	if (!e || e->pack == BK_PACK_PENDING)
		return -1;
	if (es->moving && fate_of(es->p, e->pack) != BK_FATE_REPACK)
		return 0;
	if (!es->moving && fate_of(es->p, e->pack) != BK_FATE_KEEP)
		return -1;
	if (es->n == es->cap) {
		size_t ncap = es->cap ? es->cap * 2 : 1024;
		struct bk_ientry *nv = realloc(es->v, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		es->v = nv;
		es->cap = ncap;
	}
	es->v[es->n++] = *e;
	return 0;
}

/* The used chunks (those in repacked packs, or all), sorted by pack and offset. */
static int gather(struct bk_prune_run *p, bool moving, struct entries *es)
{
	memset(es, 0, sizeof(*es));
	es->p = p;
	es->moving = moving;
	if (bk_tab_each(&p->used, gather_one, es) != 0) {
		err_set(p->err, p->errlen, "prune: out of memory, or a used chunk lost its place");
		free(es->v);
		es->v = NULL;
		return -1;
	}
	if (es->n > 1)
		qsort(es->v, es->n, sizeof(*es->v), by_location);
	return 0;
}

static bool stays(const void *elem, void *arg)
{
	return fate_of(arg, ((const struct bk_ientry *)elem)->pack) != BK_FATE_REPACK;
}

/*
 * Decode (each segment once) and re-hash one chunk of a pack held in
 * memory, then hand it to the writer, which puts it in a new segment.
 */
static int copy_chunk(struct bk_prune_run *p, struct bk_writer *w, const struct bk_ientry *e,
		      const struct bk_seg_mem *m, struct bk_segcache *segs, const char *pack)
{
	const struct bk_ipack *pk = &p->r->index.packs[e->pack];
	const uint8_t *chunk;
	uint8_t got[BK_ID_LEN];
	char hex[BK_ID_HEX], why[256] = "";

	if (bk_segcache_chunk(segs, p->r->codec, pk->id, e, bk_seg_fetch_mem, (void *)m, &chunk,
			      why, sizeof(why)) < 0) {
		bk_hex(e->id, BK_ID_LEN, hex);
		err_set(p->err, p->errlen,
			"prune: repack %s: chunk %.16s: %s; nothing was deleted (run verify)", pack,
			hex, why);
		return -1;
	}
	if (bk_writer_chunk(w, chunk, e->raw_len, got, p->err, p->errlen) < 0)
		return -1;
	p->st->chunks_repacked++;
	return 0;
}

/* Copy es->v[*at...], the used chunks of one pack, and advance *at past them. */
static int repack_pack(struct bk_prune_run *p, struct bk_writer *w, const struct entries *es,
		       size_t *at, struct bk_segcache *segs)
{
	const struct bk_ipack *pk = &p->r->index.packs[es->v[*at].pack];
	char hex[BK_ID_HEX], name[96], why[256] = "";
	uint8_t *data = NULL;
	size_t len = 0, end = *at;
	int rc;

	while (end < es->n && es->v[end].pack == es->v[*at].pack)
		end++;
	bk_hex(pk->id, BK_ID_LEN, hex);
	bk_pack_name(hex, name, sizeof(name));
	rc = p->r->store->ops->get(p->r->store, name, pk->size, &data, &len, why, sizeof(why));
	if (rc != 0)
		err_set(p->err, p->errlen, "prune: repack %s: %s; nothing was deleted", name,
			rc == 1 ? "missing" : why);
	for (size_t k = *at; rc == 0 && k < end; k++) {
		struct bk_seg_mem m = { .data = data, .len = len };

		rc = copy_chunk(p, w, &es->v[k], &m, segs, name);
	}
	free(data);
	*at = end;
	if (rc != 0)
		return -1;
	bk_prune_step(p, BK_PRUNE_REPACKED, name);
	return 0;
}

int bk_prune_repack(struct bk_prune_run *p)
{
	struct bk_writer w;
	struct bk_segcache segs = { .tick = 0 };
	struct entries es;
	size_t at = 0;
	int rc;

	if (gather(p, true, &es) < 0)
		return -1;
	/* Out of the index, so the writer stores them again, in new packs. */
	if (bk_tab_filter(&p->r->index.chunks, stays, p) < 0) {
		err_set(p->err, p->errlen, "prune: out of memory");
		free(es.v);
		return -1;
	}
	rc = bk_writer_init(&w, p->r, p->err, p->errlen);
	while (rc == 0 && at < es.n)
		rc = repack_pack(p, &w, &es, &at, &segs);
	if (rc == 0 && (rc = bk_writer_index(&w, p->err, p->errlen)) == 0)
		bk_prune_step(p, BK_PRUNE_PACKS_WRITTEN, "");
	p->st->packs_written = w.packs_written;
	p->st->bytes_written += w.bytes_stored;
	bk_writer_free(&w);
	bk_segcache_free(&segs);
	free(es.v);
	return rc;
}

/* ---- the new index ---- */

struct ixfile {
	struct bk_buf plain;
	uint32_t npacks;
	struct bk_pack_entry *ents;
	size_t cap;
};

/* Write the index file being built, if it lists any pack. */
static int ix_flush(struct bk_prune_run *p, struct ixfile *f)
{
	char hex[BK_ID_HEX], name[96], why[256] = "";
	uint8_t id[BK_ID_LEN];
	size_t stored = 0;
	bool existed;

	if (f->npacks == 0)
		return 0;
	bk_index_header(&f->plain, p->r->version, f->npacks);
	if (bk_object_put(p->r->store, p->r->codec, "index", f->plain.p, f->plain.len, hex,
			  &stored, why, sizeof(why)) < 0) {
		err_set(p->err, p->errlen, "prune: write index: %s; nothing was deleted", why);
		return -1;
	}
	bk_unhex(hex, 2 * BK_ID_LEN, id, BK_ID_LEN);
	if (!bk_tab_insert(&p->written, id, &existed)) {
		err_set(p->err, p->errlen, "prune: out of memory");
		return -1;
	}
	p->st->index_written++;
	p->st->bytes_written += stored;
	snprintf(name, sizeof(name), "index/%s", hex);
	bk_prune_step(p, BK_PRUNE_INDEX_WRITTEN, name);
	f->plain.len = BK_INDEX_HEADER_LEN;
	f->npacks = 0;
	return bk_lock_refresh(p->r, p->err, p->errlen);
}

/* Add one pack's record (its used chunks v[0..n)) to the file being built. */
static int ix_add(struct bk_prune_run *p, struct ixfile *f, const struct bk_ientry *v, size_t n)
{
	const struct bk_ipack *pk = &p->r->index.packs[v[0].pack];

	if (n > f->cap) {
		struct bk_pack_entry *ne = realloc(f->ents, n * sizeof(*ne));

		if (!ne)
			goto oom;
		f->ents = ne;
		f->cap = n;
	}
	for (size_t i = 0; i < n; i++)
		bk_ientry_location(&v[i], &f->ents[i]);
	if (bk_index_record(&f->plain, p->r->version, pk->id, pk->size, f->ents, n) < 0)
		goto oom;
	f->npacks++;
	return f->plain.len >= INDEX_FILE_TARGET ? ix_flush(p, f) : 0;
oom:
	err_set(p->err, p->errlen, "prune: out of memory");
	return -1;
}

int bk_prune_write_index(struct bk_prune_run *p)
{
	struct ixfile f = { .npacks = 0 };
	struct entries es;
	size_t start = 0;
	int rc = 0;

	if (gather(p, false, &es) < 0)
		return -1;
	if (bk_buf_reserve(&f.plain, BK_INDEX_HEADER_LEN) < 0) {
		err_set(p->err, p->errlen, "prune: out of memory");
		rc = -1;
	}
	f.plain.len = BK_INDEX_HEADER_LEN;
	for (size_t i = 1; rc == 0 && i <= es.n; i++) {
		if (i < es.n && es.v[i].pack == es.v[start].pack)
			continue;
		rc = ix_add(p, &f, es.v + start, i - start);
		start = i;
	}
	if (rc == 0)
		rc = ix_flush(p, &f);
	bk_buf_free(&f.plain);
	free(f.ents);
	free(es.v);
	return rc;
}
