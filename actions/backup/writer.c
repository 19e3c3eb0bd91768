/*
 * actions/backup/writer.c — chunks into packs, packs into index files
 * (writer.h), and the recovery of packs a dead writer left unindexed.
 */
#include "actions/backup/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

int bk_writer_init(struct bk_writer *w, struct bk_repo *r, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->indexed = r->index.npacks;
	w->threads = bk_encoder_threads();
	bk_packw_init(&w->pw);
	/* Room for the header, filled in when the file is written. */
	if (bk_buf_reserve(&w->idx, BK_INDEX_HEADER_LEN) < 0) {
		err_set(err, errlen, "writer: out of memory");
		return -1;
	}
	memset(w->idx.p, 0, BK_INDEX_HEADER_LEN);
	w->idx.len = BK_INDEX_HEADER_LEN;
	return 0;
}

void bk_writer_free(struct bk_writer *w)
{
	char why[128];
	size_t queued = w->enc ? bk_encoder_pending(w->enc) : 0;

	/* Join the workers first: nothing may touch the pack or a slot after this. */
	bk_encoder_free(w->enc);
	w->enc = NULL;
	if (w->r && (w->broken || queued > 0 || w->pw.n > 0 || w->segc.n > 0 ||
		     w->r->index.npacks > w->indexed)) {
		w->r->store->ops->discard(w->r->store);
		if (bk_index_truncate(&w->r->index, w->indexed, why, sizeof(why)) < 0)
			vlog(VLOG_ERR, "backup", "cannot drop unwritten chunks from the index",
			     "error", why, NULL);
	}
	bk_packw_free(&w->pw);
	bk_buf_free(&w->idx);
	bk_buf_free(&w->seg);
	free(w->segc.c);
	for (size_t i = 0; i < BK_ENCODER_SLOTS; i++)
		free(w->queued[i].c);
}

static int refuse_broken(struct bk_writer *w, char *err, size_t errlen)
{
	if (!w->broken)
		return 0;
	err_set(err, errlen, "writer: not usable after an earlier error");
	return -1;
}

/* Seal the pack being built, put it, and bind its chunks in the index. */
static int write_pack(struct bk_writer *w, char *err, size_t errlen)
{
	struct bk_repo *r = w->r;
	uint8_t id[BK_ID_LEN];
	char hex[BK_ID_HEX], name[96], why[512] = "";

	if (bk_packw_seal(&w->pw, r->codec, r->version, id, why, sizeof(why)) < 0)
		goto fail;
	bk_hex(id, BK_ID_LEN, hex);
	bk_pack_name(hex, name, sizeof(name));
	if (r->store->ops->put_lazy(r->store, name, w->pw.data.p, w->pw.data.len, why,
				    sizeof(why)) < 0)
		goto fail;
	if (bk_index_add_pack(&r->index, id, w->pw.data.len, w->pw.ents, w->pw.n, why,
			      sizeof(why)) < 0)
		goto fail;
	if (bk_index_record(&w->idx, r->version, id, w->pw.data.len, w->pw.ents, w->pw.n) < 0) {
		snprintf(why, sizeof(why), "out of memory, or a segment in a version 1 index");
		goto fail;
	}
	w->idx_packs++;
	w->bytes_stored += w->pw.data.len;
	w->packs_written++;
	bk_packw_reset(&w->pw);
	return 0;
fail:
	err_set(err, errlen, "write pack: %s", why);
	return -1;
}

/* Sync the packs written since the last index file, then write one naming them. */
static int write_index_file(struct bk_writer *w, char *err, size_t errlen)
{
	char hex[BK_ID_HEX], why[512] = "";
	size_t stored = 0;

	if (w->idx_packs == 0)
		return 0;
	/* The packs are durable before the index that names them exists. */
	if (w->r->store->ops->sync(w->r->store, why, sizeof(why)) < 0) {
		err_set(err, errlen, "write packs: %s", why);
		return -1;
	}
	bk_index_header(&w->idx, w->r->version, w->idx_packs);
	if (bk_object_put(w->r->store, w->r->codec, "index", w->idx.p, w->idx.len, hex, &stored,
			  why, sizeof(why)) < 0) {
		err_set(err, errlen, "write index: %s", why);
		return -1;
	}
	w->bytes_stored += stored;
	w->idx.len = BK_INDEX_HEADER_LEN;
	w->idx_packs = 0;
	w->indexed = w->r->index.npacks;
	return 0;
}

/* Write the pack, then an index file every BK_PACKS_PER_INDEX packs. */
static int pack_done(struct bk_writer *w, char *err, size_t errlen)
{
	if (write_pack(w, err, errlen) < 0)
		return -1;
	if (w->idx_packs >= BK_PACKS_PER_INDEX && write_index_file(w, err, errlen) < 0)
		return -1;
	return bk_lock_refresh(w->r, err, errlen);
}

/* Write the pack once its segments reach the target size. */
static int pack_if_full(struct bk_writer *w, char *err, size_t errlen)
{
	return w->pw.data.len >= w->r->pack_size ? pack_done(w, err, errlen) : 0;
}

/*
 * Move the oldest encoded segment into the pack (waiting for it if wait),
 * and write the pack once it is full.  1 when there was none to move.
 */
static int collect(struct bk_writer *w, bool wait, char *err, size_t errlen)
{
	struct bk_encoded job;
	const struct bk_seglist *q = &w->queued[w->q_tail % BK_ENCODER_SLOTS];
	int rc = bk_encoder_next(w->enc, wait, &job, err, errlen);

	if (rc != 0)
		return rc;
	rc = bk_packw_append(&w->pw, job.stored, job.stored_len, job.raw_len, q->c, q->n, err,
			     errlen);
	bk_encoder_release(w->enc);
	w->q_tail++;
	return rc < 0 ? -1 : pack_if_full(w, err, errlen);
}

/* Every queued chunk into a pack (the last pack stays open). */
static int drain(struct bk_writer *w, char *err, size_t errlen)
{
	int rc = 0;

	while (w->enc && (rc = collect(w, true, err, errlen)) == 0)
		;
	return rc < 0 ? -1 : 0;
}

static void start_encoder(struct bk_writer *w)
{
	char why[256] = "";

	if (w->threads == 0)
		return;
	w->enc = bk_encoder_new(w->r->codec, w->threads, w->encode, why, sizeof(why));
	if (!w->enc) {
		/* Slower, not wrong: this writer encodes on the caller's thread. */
		vlog(VLOG_WARNING, "backup", "encoding on one thread", "error", why, NULL);
		w->threads = 0;
	}
}

/* Hand the open segment to the workers. */
static int queue_segment(struct bk_writer *w, char *err, size_t errlen)
{
	struct bk_seglist *q, tmp;
	int rc;

	while (bk_encoder_full(w->enc, w->seg.len))
		if (collect(w, true, err, errlen) < 0)
			return -1;
	if (bk_encoder_submit(w->enc, w->segc.c[0].id, w->seg.p, w->seg.len, err, errlen) < 0)
		return -1;
	/* The chunk list moves to the queue; the queue's old array is reused. */
	q = &w->queued[w->q_head++ % BK_ENCODER_SLOTS];
	tmp = *q;
	*q = w->segc;
	w->segc = tmp;
	/* Whatever is already done goes into the pack now, not at the next wait. */
	while ((rc = collect(w, false, err, errlen)) == 0)
		;
	return rc < 0 ? -1 : 0;
}

/* Encode the open segment on this thread (no workers). */
static int pack_segment(struct bk_writer *w, char *err, size_t errlen)
{
	if (bk_packw_add(&w->pw, w->r->codec, w->seg.p, w->seg.len, w->segc.c, w->segc.n, err,
			 errlen) < 0)
		return -1;
	return pack_if_full(w, err, errlen);
}

/* Encode the open segment (if any chunk is in it) and start a new one. */
static int close_segment(struct bk_writer *w, char *err, size_t errlen)
{
	int rc;

	if (w->segc.n == 0)
		return 0;
	if (!w->enc)
		start_encoder(w);
	rc = w->enc ? queue_segment(w, err, errlen) : pack_segment(w, err, errlen);
	w->seg.len = 0;
	w->segc.n = 0;
	return rc;
}

/* Add a new chunk to the open segment; it is pending in the index from now on. */
static int add_chunk(struct bk_writer *w, const uint8_t id[BK_ID_LEN], const uint8_t *p,
		     size_t n, char *err, size_t errlen)
{
	struct bk_pack_entry pe = { .raw_len = (uint32_t)n, .seg_len = (uint32_t)n };
	struct bk_seglist *l = &w->segc;

	memcpy(pe.id, id, BK_ID_LEN);
	/* Scattered chunks go into small segments, each cheap to read alone. */
	if (w->gap && w->seg.len >= BK_SCATTERED_SEGMENT && close_segment(w, err, errlen) < 0)
		return -1;
	w->gap = false;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct bk_seg_chunk *nc = realloc(l->c, ncap * sizeof(*nc));

		if (!nc)
			goto oom;
		l->c = nc;
		l->cap = ncap;
	}
	if (bk_index_add_pending(&w->r->index, &pe, err, errlen) < 0)
		return -1;
	memcpy(l->c[l->n].id, id, BK_ID_LEN);
	l->c[l->n].off = (uint32_t)w->seg.len;
	l->c[l->n].len = (uint32_t)n;
	l->n++;
	if (bk_buf_append(&w->seg, p, n) < 0)
		goto oom;
	/* Version 1 (segment size 0) stores every chunk alone. */
	if (w->seg.len >= w->r->segment_size)
		return close_segment(w, err, errlen);
	return 0;
oom:
	err_set(err, errlen, "writer: out of memory");
	return -1;
}

int bk_writer_chunk(struct bk_writer *w, const uint8_t *p, size_t n, uint8_t id[BK_ID_LEN],
		    char *err, size_t errlen)
{
	if (refuse_broken(w, err, errlen) < 0)
		return -1;
	bk_sha256(p, n, id);
	w->chunks_total++;
	if (bk_index_find(&w->r->index, id)) {
		w->gap = true;
		return 0;
	}
	if (add_chunk(w, id, p, n, err, errlen) < 0) {
		w->broken = true;
		return -1;
	}
	w->chunks_new++;
	w->bytes_new += n;
	return 0;
}

int bk_writer_flush(struct bk_writer *w, char *err, size_t errlen)
{
	if (refuse_broken(w, err, errlen) < 0)
		return -1;
	if (close_segment(w, err, errlen) < 0 || drain(w, err, errlen) < 0 ||
	    (w->pw.n > 0 && pack_done(w, err, errlen) < 0)) {
		w->broken = true;
		return -1;
	}
	return 0;
}

int bk_writer_index(struct bk_writer *w, char *err, size_t errlen)
{
	if (bk_writer_flush(w, err, errlen) < 0)
		return -1;
	if (write_index_file(w, err, errlen) < 0) {
		w->broken = true;
		return -1;
	}
	return 0;
}

/* ---- recovery ---- */

struct recover {
	struct bk_writer w;
	uint64_t n;
	char *err;
	size_t errlen;
};

/* Index one unindexed pack; a damaged one is left alone (verify reports it). */
static int recover_one(void *arg, const char *name)
{
	struct recover *rc = arg;
	struct bk_repo *r = rc->w.r;
	const char *base = strrchr(name, '/');
	struct bk_pack_entry *ents = NULL;
	uint8_t id[BK_ID_LEN], got[BK_ID_LEN], *data = NULL;
	char why[256] = "";
	size_t len = 0, n = 0;
	int res = 0;

	if (!base || !bk_is_id_hex(base + 1))
		return 0;
	bk_unhex(base + 1, 2 * BK_ID_LEN, id, BK_ID_LEN);
	if (bk_index_has_pack(&r->index, id))
		return 0;
	if (r->store->ops->get(r->store, name, (size_t)r->pack_size * 4 + (64u << 20), &data, &len,
			       why, sizeof(why)) == 0) {
		bk_sha256(data, len, got);
		if (memcmp(got, id, BK_ID_LEN) != 0)
			snprintf(why, sizeof(why), "content does not match its name");
		else if (bk_pack_parse(r->codec, data, len, &ents, &n, why, sizeof(why)) == 0)
			why[0] = '\0';
	}
	if (why[0]) {
		vlog(VLOG_WARNING, "backup", "unindexed pack is damaged; left for verify", "pack",
		     name, "error", why, NULL);
	} else if (bk_index_add_pack(&r->index, id, len, ents, n, rc->err, rc->errlen) < 0 ||
		   bk_index_record(&rc->w.idx, r->version, id, len, ents, n) < 0) {
		res = -1;
	} else {
		rc->w.idx_packs++;
		rc->n++;
	}
	free(ents);
	free(data);
	return res;
}

int bk_recover_packs(struct bk_repo *r, uint64_t *n, char *err, size_t errlen)
{
	struct recover rc = { .err = err, .errlen = errlen };
	char count[24];
	int res;

	*n = 0;
	if (bk_writer_init(&rc.w, r, err, errlen) < 0)
		return -1;
	res = r->store->ops->list(r->store, "data", recover_one, &rc, err, errlen);
	if (res == 0 && rc.n > 0)
		res = bk_writer_index(&rc.w, err, errlen);
	if (res == 0 && rc.n > 0) {
		snprintf(count, sizeof(count), "%llu", (unsigned long long)rc.n);
		vlog(VLOG_NOTICE, "backup", "indexed packs an interrupted run left", "repository",
		     r->store->where, "packs", count, NULL);
	}
	bk_writer_free(&rc.w);
	*n = rc.n;
	return res < 0 ? -1 : 0;
}

/*
 * Become the one writer: the lock (lock.c), then what a dead writer left
 * behind (its temporary objects, its packs without an index) is dealt with.
 */
int bk_repo_lock(struct bk_repo *r, char *err, size_t errlen)
{
	uint64_t recovered = 0;

	if (r->locked) {
		err_set(err, errlen, "repository %s: already locked by this handle", r->store->where);
		return -1;
	}
	if (bk_lock_acquire(r, err, errlen) < 0)
		return -1;
	/* Another writer may have run since this handle was opened. */
	bk_index_free(&r->index);
	bk_index_init(&r->index);
	/* Only now, as the one writer, may what a dead one left be touched. */
	if (bk_index_load(&r->index, r->store, r->codec, err, errlen) < 0 ||
	    r->store->ops->clean(r->store, err, errlen) < 0 ||
	    bk_recover_packs(r, &recovered, err, errlen) < 0) {
		bk_lock_release(r);
		return -1;
	}
	r->packs_recovered = recovered;
	return 0;
}

void bk_repo_unlock(struct bk_repo *r)
{
	bk_lock_release(r);
}
