/*
 * actions/backup/prune.c — delete the data no snapshot references.
 *
 * Under the lock (which also re-indexes packs a dead run left), prune
 * first plans without writing anything: every chunk the remaining
 * snapshots need (their trees' chunks and their files' chunks) is marked
 * used, and each pack is kept, dropped (nothing in it is used) or, when
 * its used part is below the threshold, repacked.  Anything it cannot
 * read — a manifest, a tree, a chunk no index lists — stops it before the
 * first change: it cannot know what that snapshot needs.
 *
 * Then, in the order docs/repository-format.md ("Prune") argues is safe
 * against a kill at any point: new packs (durable), new index files
 * (durable), removal of every other index file, removal of the dropped
 * and repacked packs.  Until the last step begins every pack is still
 * there, and once it begins no index names a pack being removed, so
 * every snapshot restores throughout; what a kill leaves (unindexed
 * packs, superseded index files) the next writer indexes and the next
 * prune removes.
 */
#include "actions/backup/prune_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/repack.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/tree.h"
#include "common/error.h"
#include "common/log.h"

#define TRAILER_MAGIC "VGPK" /* the last 4 bytes of a pack (format section 6) */

void bk_prune_opts_default(struct bk_prune_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->repack_threshold = BK_DEFAULT_REPACK_THRESHOLD;
}

/* ---- the plan ---- */

/*
 * A chunk's share of its segment's stored bytes, rounded up and never 0:
 * a pack any chunk is used in must never look unused.
 */
static uint64_t stored_share(const struct bk_ientry *e)
{
	uint64_t seg = e->seg_len ? e->seg_len : 1;
	uint64_t share = ((uint64_t)e->stored_len * e->raw_len + seg - 1) / seg;

	return share ? share : 1;
}

static int mark_used(struct bk_prune_run *p, const uint8_t *id, const char *snap, const char *what)
{
	const struct bk_ientry *e = bk_index_find(&p->r->index, id);
	bool existed;

	if (!e || e->pack == BK_PACK_PENDING) {
		char hex[BK_ID_HEX];

		bk_hex(id, BK_ID_LEN, hex);
		err_set(p->err, p->errlen,
			"prune: snapshot %.16s: %s: chunk %.16s is not in the index; nothing was "
			"changed (run verify)", snap, what, hex);
		return -1;
	}
	if (!bk_tab_insert(&p->used, id, &existed)) {
		err_set(p->err, p->errlen, "prune: out of memory");
		return -1;
	}
	if (!existed) {
		p->used_bytes[e->pack] += stored_share(e);
		p->st->chunks_used++;
	}
	return 0;
}

/* Mark what one snapshot needs; a tree walked before (same ids) is skipped. */
static int walk_snapshot(struct bk_prune_run *p, const struct bk_snapshot *s)
{
	struct bk_tree_reader t;
	struct bk_entry e;
	uint8_t h[BK_ID_LEN];
	char why[512] = "";
	bool existed;
	int rc = 0;

	bk_sha256(s->tree, s->ntree * BK_ID_LEN, h);
	if (!bk_tab_insert(&p->trees, h, &existed)) {
		err_set(p->err, p->errlen, "prune: out of memory");
		return -1;
	}
	for (size_t i = 0; !existed && rc == 0 && i < s->ntree; i++)
		rc = mark_used(p, s->tree + i * BK_ID_LEN, s->id, "tree");
	if (existed || rc < 0)
		return rc;
	bk_tree_reader_init(&t, p->r, s->tree, s->ntree);
	while (rc == 0 && (rc = bk_tree_next(&t, &e, why, sizeof(why))) == 1) {
		rc = bk_lock_refresh(p->r, p->err, p->errlen);
		for (size_t i = 0; rc == 0 && e.type == BK_FILE && i < e.nchunks; i++)
			rc = mark_used(p, e.chunks + i * BK_ID_LEN, s->id, e.path);
		bk_entry_clear(&e);
	}
	if (rc == -1 && why[0])
		err_set(p->err, p->errlen,
			"prune: snapshot %.16s: tree unreadable (%s); nothing was changed (run verify)",
			s->id, why);
	bk_tree_reader_free(&t);
	return rc < 0 ? -1 : 0;
}

/* The stored blob bytes of pack i (its size less header and trailer). */
static int blob_bytes(struct bk_prune_run *p, size_t i, uint64_t *out)
{
	const struct bk_ipack *pk = &p->r->index.packs[i];
	char hex[BK_ID_HEX], name[96], why[256] = "";
	uint8_t tr[BK_PACK_TRAILER_LEN];
	int rc = 1;

	bk_hex(pk->id, BK_ID_LEN, hex);
	bk_pack_name(hex, name, sizeof(name));
	if (pk->size >= sizeof(tr))
		rc = p->r->store->ops->read_at(p->r->store, name, pk->size - sizeof(tr), tr,
					       sizeof(tr), why, sizeof(why));
	if (rc == 0 && memcmp(tr + 4, TRAILER_MAGIC, 4) == 0 &&
	    bk_get_le32(tr) <= pk->size - sizeof(tr)) {
		*out = pk->size - sizeof(tr) - bk_get_le32(tr);
		return 0;
	}
	if (rc == 0 || pk->size < sizeof(tr))
		snprintf(why, sizeof(why), "no valid trailer");
	else if (rc == 1)
		snprintf(why, sizeof(why), "missing");
	err_set(p->err, p->errlen, "prune: pack %s: %s; nothing was changed (run verify)", hex, why);
	return -1;
}

/* Keep, drop or repack pack i. */
static int classify(struct bk_prune_run *p, size_t i)
{
	uint64_t used = p->used_bytes[i], size = p->r->index.packs[i].size, blobs = 0;
	uint64_t th = p->o->repack_threshold < 100 ? p->o->repack_threshold : 100;

	p->st->bytes_before += size;
	p->fate[i] = BK_FATE_KEEP;
	if (used == 0) {
		p->fate[i] = BK_FATE_DROP;
		p->st->packs_unused++;
		p->st->bytes_freed += size;
		return 0;
	}
	/* Used enough even measured against the whole file (always, with a
	 * threshold of 0): no need to read its trailer. */
	if (used * 100 >= th * size) {
		p->st->packs_kept++;
		return 0;
	}
	if (blob_bytes(p, i, &blobs) < 0)
		return -1;
	if (used < blobs && used * 100 < th * blobs) {
		p->fate[i] = BK_FATE_REPACK;
		p->st->packs_repacked++;
		p->st->bytes_freed += size;
	} else {
		p->st->packs_kept++;
	}
	return 0;
}

static int plan(struct bk_prune_run *p)
{
	struct bk_snapshot *all = NULL;
	char why[512] = "";
	size_t n = 0;
	int rc;

	p->npacks = p->r->index.npacks;
	p->st->packs = p->npacks;
	p->used_bytes = calloc(p->npacks ? p->npacks : 1, sizeof(*p->used_bytes));
	p->fate = calloc(p->npacks ? p->npacks : 1, sizeof(*p->fate));
	if (!p->used_bytes || !p->fate) {
		err_set(p->err, p->errlen, "prune: out of memory");
		return -1;
	}
	if (bk_snapshot_all(p->r, &all, &n, why, sizeof(why)) < 0) {
		err_set(p->err, p->errlen, "prune: %s; nothing was changed (run verify)", why);
		return -1;
	}
	p->st->snapshots = n;
	rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = walk_snapshot(p, &all[i]);
	bk_snapshot_all_free(all, n);
	for (size_t i = 0; rc == 0 && i < p->npacks; i++)
		rc = classify(p, i);
	return rc;
}

/* ---- the deletions ---- */

/*
 * Rewrite the lock now, whatever its age: a prune whose lock was taken
 * over as stale (it hung past the stale age) must stop before deleting,
 * because the new holder may be a backup that just reused these chunks.
 */
static int lock_confirm(struct bk_prune_run *p)
{
	p->r->lock_written -= BK_LOCK_REFRESH_S;
	return bk_lock_refresh(p->r, p->err, p->errlen);
}

struct names {
	char **v;
	size_t n, cap;
};

static int add_name(void *arg, const char *name)
{
	struct names *ns = arg;

	if (ns->n == ns->cap) {
		size_t ncap = ns->cap ? ns->cap * 2 : 32;
		char **nv = realloc(ns->v, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		ns->v = nv;
		ns->cap = ncap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return -1;
	ns->n++;
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

/* Remove every index file but the ones this prune wrote. */
static int remove_indexes(struct bk_prune_run *p)
{
	struct bk_store *s = p->r->store;
	struct names ns = { 0 };
	char why[256] = "";
	uint8_t id[BK_ID_LEN];
	int rc = s->ops->list(s, "index", add_name, &ns, why, sizeof(why));

	if (rc != 0)
		err_set(p->err, p->errlen, "prune: list index files: %s", why[0] ? why : "out of memory");
	for (size_t i = 0; rc == 0 && i < ns.n; i++) {
		const char *base = strrchr(ns.v[i], '/');

		if (!base || !bk_is_id_hex(base + 1) ||
		    bk_unhex(base + 1, 2 * BK_ID_LEN, id, BK_ID_LEN) < 0 ||
		    bk_tab_find(&p->written, id))
			continue;
		rc = bk_lock_refresh(p->r, p->err, p->errlen);
		if (rc == 0 && (rc = s->ops->remove(s, ns.v[i], why, sizeof(why))) < 0)
			err_set(p->err, p->errlen, "prune: remove %s: %s", ns.v[i], why);
		if (rc == 0) {
			p->st->index_removed++;
			bk_prune_step(p, BK_PRUNE_INDEX_REMOVED, ns.v[i]);
		}
	}
	names_free(&ns);
	return rc;
}

static int remove_packs(struct bk_prune_run *p)
{
	struct bk_store *s = p->r->store;
	char hex[BK_ID_HEX], name[96], why[256] = "";

	for (size_t i = 0; i < p->npacks; i++) {
		if (p->fate[i] == BK_FATE_KEEP)
			continue;
		bk_hex(p->r->index.packs[i].id, BK_ID_LEN, hex);
		bk_pack_name(hex, name, sizeof(name));
		if (bk_lock_refresh(p->r, p->err, p->errlen) < 0)
			return -1;
		if (s->ops->remove(s, name, why, sizeof(why)) < 0) {
			err_set(p->err, p->errlen, "prune: remove pack %s: %s", hex, why);
			return -1;
		}
		bk_prune_step(p, BK_PRUNE_PACK_REMOVED, name);
	}
	return 0;
}

static int execute(struct bk_prune_run *p)
{
	if (p->st->packs_repacked > 0 && bk_prune_repack(p) < 0)
		return -1;
	if (bk_prune_write_index(p) < 0 || lock_confirm(p) < 0 || remove_indexes(p) < 0)
		return -1;
	return remove_packs(p);
}

/* The in-memory index as the repository now has it (repack changed it). */
static int reload_index(struct bk_repo *r, char *err, size_t errlen)
{
	bk_index_free(&r->index);
	bk_index_init(&r->index);
	return bk_index_load(&r->index, r->store, r->codec, err, errlen);
}

static void log_done(const struct bk_prune_run *p)
{
	char unused[24], repacked[24], freed[24], written[24];

	snprintf(unused, sizeof(unused), "%llu", (unsigned long long)p->st->packs_unused);
	snprintf(repacked, sizeof(repacked), "%llu", (unsigned long long)p->st->packs_repacked);
	snprintf(freed, sizeof(freed), "%llu", (unsigned long long)p->st->bytes_freed);
	snprintf(written, sizeof(written), "%llu", (unsigned long long)p->st->bytes_written);
	vlog(VLOG_NOTICE, "backup", "pruned the repository", "repository", p->r->store->where,
	     "packs_unused", unused, "packs_repacked", repacked, "bytes_freed", freed,
	     "bytes_written", written, NULL);
}

static int run_prune(struct bk_prune_run *p)
{
	char why[256] = "";
	int rc = plan(p);

	if (rc < 0)
		return -1;
	bk_prune_step(p, BK_PRUNE_PLANNED, "");
	if (p->o->dry_run || p->st->packs_unused + p->st->packs_repacked == 0)
		return 0;
	rc = execute(p);
	/* Whatever happened, the handle must see what is on disk now. */
	if (reload_index(p->r, why, sizeof(why)) < 0 && rc == 0) {
		err_set(p->err, p->errlen, "prune: reload the index: %s", why);
		rc = -1;
	}
	if (rc == 0)
		log_done(p);
	return rc;
}

int bk_prune(struct bk_repo *r, const struct bk_prune_opts *o, struct bk_prune_stats *st,
	     char *err, size_t errlen)
{
	struct bk_prune_opts defaults;
	struct bk_prune_stats local = { 0 };
	struct bk_prune_run p = { .r = r, .o = o, .st = st ? st : &local, .err = err,
			      .errlen = errlen };
	int rc;

	if (!o) {
		bk_prune_opts_default(&defaults);
		p.o = &defaults;
	}
	memset(p.st, 0, sizeof(*p.st));
	if (bk_repo_lock(r, err, errlen) < 0)
		return -1;
	bk_tab_init(&p.used, BK_ID_LEN);
	bk_tab_init(&p.trees, BK_ID_LEN);
	bk_tab_init(&p.written, BK_ID_LEN);
	rc = run_prune(&p);
	bk_tab_free(&p.used);
	bk_tab_free(&p.trees);
	bk_tab_free(&p.written);
	free(p.used_bytes);
	free(p.fate);
	bk_repo_unlock(r);
	return rc;
}
