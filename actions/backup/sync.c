/*
 * actions/backup/sync.c — mirroring a repository (sync.h): opening the
 * target, checking that it is (or can become) a mirror of this source,
 * the two locks, and the comparison that says what is missing where.
 * The uploads and removals themselves are in sync_copy.c.
 *
 * The source's writer lock is held throughout so that a prune cannot
 * delete a pack between the comparison and its upload; taking it also
 * indexes any pack a dead backup left, so after it the source's index
 * lists every sound pack it has.  The target's lock is the same lock
 * object any writer takes (lock.c on the target's store), so a second
 * sync, or a backup someone points at the mirror, waits its turn.
 *
 * Which objects count: the source's packs are those its index lists (an
 * unindexed pack left after the lock's recovery is damaged, and no index
 * needs it); its index files and manifests are what its directories
 * hold.  A target object counts only under its canonical name, so a
 * stray file is neither trusted nor removed.
 */
#include "actions/backup/sync_int.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actions/backup/store_s3.h"
#include "common/error.h"

#define CONFIG_MAX (64u << 10)

/* ---- the target ---- */

/* Whether two local paths name the same directory (both must exist). */
static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * Open the target store.  A local directory without a config is given a
 * repository's layout (directories only) so objects can be put into it,
 * except in a dry run, where a missing directory just means an empty
 * target (s->t stays NULL).
 */
static int target_open(struct bk_syncer *s)
{
	const char *to = s->o->target;
	char cfg[PATH_MAX], why[512] = "";
	struct stat st;
	bool create = false;

	if (!bk_store_is_offsite(to)) {
		if (snprintf(cfg, sizeof(cfg), "%s/config", to) >= (int)sizeof(cfg))
			return bk_sync_fail(s, "path too long");
		if (stat(cfg, &st) < 0 && errno == ENOENT) {
			if (s->o->dry_run && stat(to, &st) < 0 && errno == ENOENT)
				return 0;
			create = !s->o->dry_run;
		}
		if (!bk_store_is_offsite(s->r->store->where) && same_dir(to, s->r->store->where))
			return bk_sync_fail(s, "the target is the source repository itself");
	}
	s->t = bk_store_open(to, create, why, sizeof(why));
	if (!s->t)
		return bk_sync_fail(s, "%s", why);
	s->where = s->t->where;
	s->tlock.store = s->t;
	s->tlock.lock_stale_s = s->r->lock_stale_s;
	return 0;
}

/* The "id" of a config text, or NULL (the returned string lives in *j). */
static const char *config_id(const uint8_t *text, size_t len, json_t **j)
{
	const char *id = NULL;

	*j = json_loadb((const char *)text, len, 0, NULL);
	if (*j && json_unpack(*j, "{s:s}", "id", &id) < 0)
		id = NULL;
	return id;
}

/* Whether mine is theirs after `vigil upgrade`: a newer version, nothing else changed. */
static bool is_upgrade(json_t *mine, json_t *theirs)
{
	json_t *a = json_deep_copy(mine), *b = json_deep_copy(theirs);
	json_int_t va = json_integer_value(json_object_get(mine, "vigil_repository"));
	json_int_t vb = json_integer_value(json_object_get(theirs, "vigil_repository"));
	bool same;

	if (a && b) {
		json_object_del(a, "vigil_repository");
		json_object_del(b, "vigil_repository");
		json_object_del(a, "segment_size");
		json_object_del(b, "segment_size");
	}
	same = a && b && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return same && vb >= 1 && va > vb;
}

/*
 * The target's config must be absent (an empty target) or the source's,
 * byte for byte: a mirror is readable only with the source's key and
 * settings, and mixing two repositories' objects would corrupt both.  The
 * one difference allowed is an upgrade of the source (`vigil upgrade`),
 * which the mirror then follows.
 */
static int check_config(struct bk_syncer *s, const uint8_t *mine, size_t mine_len)
{
	uint8_t *theirs = NULL;
	size_t len = 0;
	char why[512] = "";
	json_t *a = NULL, *b = NULL;
	const char *ida, *idb;
	int rc = s->t ? s->t->ops->get(s->t, "config", CONFIG_MAX, &theirs, &len, why, sizeof(why))
		      : 1;

	if (rc < 0)
		return bk_sync_fail(s, "read its config: %s", why);
	s->has_config = rc == 0;
	if (rc == 1 || (len == mine_len && memcmp(theirs, mine, len) == 0)) {
		free(theirs);
		return 0;
	}
	ida = config_id(mine, mine_len, &a);
	idb = config_id(theirs, len, &b);
	if (!idb)
		rc = bk_sync_fail(s, "it holds a config that is not a vigil repository's; refusing "
				  "to write into it");
	else if (!ida || strcmp(ida, idb) != 0)
		rc = bk_sync_fail(s, "it holds another repository (id %.16s), not a mirror of %s "
				  "(id %.16s); refusing to mix them", idb, s->r->store->where,
				  ida ? ida : "?");
	else if (is_upgrade(a, b))
		s->config_upgrade = true; /* rc stays 0 */
	else
		rc = bk_sync_fail(s, "its config differs from the source's although both have id "
				  "%.16s; refusing to mirror into it", ida);
	json_decref(a);
	json_decref(b);
	free(theirs);
	return rc;
}

/* Both locks, source first (the order every sync uses), and the target's leftovers. */
static int take_locks(struct bk_syncer *s)
{
	char why[512] = "";

	if (bk_repo_lock(s->r, why, sizeof(why)) < 0)
		return bk_sync_fail(s, "lock the source: %s", why);
	s->source_locked = true;
	if (bk_lock_acquire(&s->tlock, why, sizeof(why)) < 0)
		return bk_sync_fail(s, "%s", why);
	/* As the one writer now, an interrupted put's temporary files may go. */
	if (s->t->ops->clean(s->t, why, sizeof(why)) < 0)
		return bk_sync_fail(s, "clean its temporary files: %s", why);
	return 0;
}

static void release_locks(struct bk_syncer *s)
{
	bk_lock_release(&s->tlock);
	if (s->source_locked)
		bk_repo_unlock(s->r);
	s->source_locked = false;
}

/* ---- listing and comparing ---- */

struct lister {
	struct bk_tab *tab;
	enum bk_sync_kind kind;
	bool oom;
};

/* Add a listed object when its name is the canonical one for its id. */
static int list_one(void *arg, const char *name)
{
	struct lister *l = arg;
	const char *base = strrchr(name, '/');
	uint8_t id[BK_ID_LEN];
	char canon[128];
	bool existed;

	if (!base || !bk_is_id_hex(base + 1) ||
	    bk_unhex(base + 1, 2 * BK_ID_LEN, id, BK_ID_LEN) < 0)
		return 0;
	bk_sync_name(l->kind, id, canon, sizeof(canon));
	if (strcmp(canon, name) != 0)
		return 0;
	if (!bk_tab_insert(l->tab, id, &existed)) {
		l->oom = true;
		return -1;
	}
	return 0;
}

static int list_kind(struct bk_syncer *s, struct bk_store *st, enum bk_sync_kind k,
		     struct bk_tab *tab, const char *side)
{
	struct lister l = { .tab = tab, .kind = k };
	char why[512] = "";

	if (st->ops->list(st, bk_sync_dir(k), list_one, &l, why, sizeof(why)) != 0)
		return bk_sync_fail(s, "list %s of %s: %s", bk_sync_dir(k), side,
				    l.oom ? "out of memory" : why);
	return 0;
}

/* The source's packs: those its index lists, with their sizes. */
static int source_packs(struct bk_syncer *s)
{
	const struct bk_index *x = &s->r->index;
	struct bk_sync_obj *e;
	bool existed;

	for (size_t i = 0; i < x->npacks; i++) {
		if (!(e = bk_tab_insert(&s->src[BK_SK_PACK], x->packs[i].id, &existed)))
			return bk_sync_fail(s, "out of memory");
		e->size = x->packs[i].size;
	}
	return 0;
}

static int list_all(struct bk_syncer *s)
{
	if (source_packs(s) < 0 || list_kind(s, s->r->store, BK_SK_INDEX, &s->src[BK_SK_INDEX],
					     "the source") < 0 ||
	    list_kind(s, s->r->store, BK_SK_SNAPSHOT, &s->src[BK_SK_SNAPSHOT], "the source") < 0)
		return -1;
	/* A dry run against a target without a config: nothing there counts. */
	if (!s->t || (s->o->dry_run && !s->has_config))
		return 0;
	for (int k = 0; k < BK_SK_N; k++)
		if (list_kind(s, s->t, (enum bk_sync_kind)k, &s->dst[k], "the target") < 0)
			return -1;
	return 0;
}

struct plan {
	struct bk_syncer *s;
	enum bk_sync_kind kind;
	const struct bk_tab *other;
	int failed;
};

/* A source object: missing from the target?  Then its size counts as pending. */
static int plan_missing(void *elem, void *arg)
{
	struct bk_sync_obj *e = elem;
	struct plan *p = arg;
	struct bk_syncer *s = p->s;
	char name[128], why[512] = "";
	int rc = 0;

	if (bk_tab_find(p->other, e->id))
		return 0;
	e->missing = true;
	bk_sync_name(p->kind, e->id, name, sizeof(name));
	if (p->kind != BK_SK_PACK)
		rc = s->r->store->ops->size(s->r->store, name, &e->size, why, sizeof(why));
	if (rc != 0) {
		p->failed = bk_sync_fail(s, "size of %s in the source: %s", name,
					 rc == 1 ? "it vanished" : why);
		return -1;
	}
	s->st->objects_pending++;
	s->st->bytes_pending += e->size;
	if (p->kind == BK_SK_SNAPSHOT)
		s->st->snapshots_pending++;
	return 0;
}

/* A target object the source does not have: one more to remove. */
static int plan_extra(void *elem, void *arg)
{
	struct bk_sync_obj *e = elem;
	struct plan *p = arg;

	if (!bk_tab_find(p->other, e->id))
		p->s->st->removed++;
	return 0;
}

static int plan(struct bk_syncer *s, size_t config_len)
{
	for (int k = 0; k < BK_SK_N; k++) {
		struct plan p = { .s = s, .kind = (enum bk_sync_kind)k, .other = &s->dst[k] };

		if (bk_tab_each(&s->src[k], plan_missing, &p) != 0)
			return -1;
		if (s->o->dry_run) {
			p.other = &s->src[k];
			bk_tab_each(&s->dst[k], plan_extra, &p);
		}
	}
	if (!s->has_config || s->config_upgrade) {
		s->st->objects_pending++;
		s->st->bytes_pending += config_len;
	}
	s->st->pending_known = true;
	return 0;
}

/* ---- the whole sync ---- */

static int run(struct bk_syncer *s)
{
	uint8_t *config = NULL;
	size_t len = 0;
	char why[512] = "";
	int rc = s->r->store->ops->get(s->r->store, "config", CONFIG_MAX, &config, &len, why,
				       sizeof(why));

	if (rc != 0) {
		free(config);
		return bk_sync_fail(s, "read the source's config: %s",
				    rc == 1 ? "it is missing" : why);
	}
	rc = target_open(s);
	if (rc == 0)
		rc = check_config(s, config, len);
	if (rc == 0 && !s->o->dry_run)
		rc = take_locks(s);
	if (rc == 0)
		rc = list_all(s);
	if (rc == 0 && !s->o->dry_run && !s->has_config)
		for (int k = 0; rc == 0 && k < BK_SK_N; k++)
			if (s->dst[k].n > 0)
				rc = bk_sync_fail(s, "it holds repository objects but no config: "
						  "not a mirror of %s; refusing to write into it",
						  s->r->store->where);
	if (rc == 0)
		rc = plan(s, len);
	if (rc == 0 && !s->o->dry_run)
		rc = bk_sync_upload(s, config, len);
	if (rc == 0 && !s->o->dry_run)
		rc = bk_sync_remove(s);
	free(config);
	return rc;
}

int bk_sync(struct bk_repo *r, const struct bk_sync_opts *o, struct bk_sync_stats *st,
	    char *err, size_t errlen)
{
	struct bk_sync_stats local;
	struct bk_syncer s = { .r = r, .o = o, .st = st ? st : &local, .where = o->target,
			       .err = err, .errlen = errlen };
	int rc;

	memset(s.st, 0, sizeof(*s.st));
	if (bk_store_is_offsite(o->target) && !bk_repo_encrypted(r))
		return bk_sync_fail(&s, "offsite repositories must be encrypted, and %s is not "
				    "(only a local directory may mirror it)", r->store->where);
	for (int k = 0; k < BK_SK_N; k++) {
		bk_tab_init(&s.src[k], sizeof(struct bk_sync_obj));
		bk_tab_init(&s.dst[k], sizeof(struct bk_sync_obj));
	}
	rc = run(&s);
	release_locks(&s);
	for (int k = 0; k < BK_SK_N; k++) {
		bk_tab_free(&s.src[k]);
		bk_tab_free(&s.dst[k]);
	}
	bk_store_free(s.t);
	return rc;
}
