/*
 * actions/backup/sync_copy.c — the writing half of a sync (sync.h): what
 * the target lacks goes up, what the source no longer has comes off, in
 * the order that keeps the target a valid repository after a kill at any
 * point (docs/repository-format.md, "Mirrors"):
 *
 *   config (only into an empty target) → packs → index files → manifests
 *   → removed manifests → removed index files → removed packs
 *
 * The same rules as a backup's and a prune's: an index names only packs
 * already there, a manifest only chunks already indexed there, and
 * nothing is deleted until everything the source has is uploaded.
 *
 * Every object is read whole and re-hashed before it leaves: a mirror
 * must never receive local damage, which would then look like a good
 * copy.  A damaged pack stops the sync before any index file, because
 * an index naming a pack the target lacks (or holds damaged) would break
 * the snapshots using it there too.
 */
#include "actions/backup/sync_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

struct copy {
	struct bk_syncer *s;
	enum bk_sync_kind kind;
};

/*
 * Read a source object whole and check that it is what its name says:
 * 0 sound (*data malloc'd), 1 damaged or missing (why), -1 when it could
 * not be read (why).
 */
static int read_checked(struct bk_syncer *s, const char *name, const struct bk_sync_obj *e,
			uint8_t **data, size_t *len, char *why, size_t whylen)
{
	struct bk_store *src = s->r->store;
	uint8_t got[BK_ID_LEN];
	uint64_t size = 0;
	int rc = src->ops->size(src, name, &size, why, whylen);

	*data = NULL;
	if (rc == 0 && size != e->size) {
		snprintf(why, whylen, "it is %" PRIu64 " bytes, %" PRIu64 " expected", size, e->size);
		return 1;
	}
	if (rc == 0)
		rc = src->ops->get(src, name, (size_t)size, data, len, why, whylen);
	if (rc == 1)
		snprintf(why, whylen, "it is missing");
	if (rc != 0)
		return rc;
	bk_sha256(*data, *len, got);
	if (*len == size && memcmp(got, e->id, BK_ID_LEN) == 0)
		return 0;
	free(*data);
	*data = NULL;
	snprintf(why, whylen, "its content does not match its name");
	return 1;
}

/* A source object that must not go up: counted, logged, and remembered for the error. */
static void damaged(struct bk_syncer *s, enum bk_sync_kind k, struct bk_sync_obj *e,
		    const char *name, const char *why)
{
	s->st->damaged++;
	e->skipped = true;
	vlog(VLOG_WARNING, "backup", "damaged object in the source is not uploaded", "repository",
	     s->r->store->where, "object", name, "error", why, NULL);
	if (k == BK_SK_INDEX) {
		/*
		 * Not needed: taking the source's lock re-indexed that file's
		 * packs from their own headers into a new index file, which is
		 * uploaded instead.  So it is not pending either.
		 */
		s->st->objects_pending--;
		s->st->bytes_pending -= e->size;
		return;
	}
	if (!s->bad[0])
		snprintf(s->bad, sizeof(s->bad), "%s (%s)", name, why);
	if (k == BK_SK_PACK)
		s->bad_packs++;
	else
		s->bad_snapshots++;
}

static void uploaded(struct bk_syncer *s, enum bk_sync_kind k, struct bk_sync_obj *e)
{
	struct bk_sync_stats *st = s->st;

	e->missing = false;
	st->bytes_uploaded += e->size;
	st->objects_pending--;
	st->bytes_pending -= e->size;
	if (k == BK_SK_PACK) {
		st->packs_uploaded++;
	} else if (k == BK_SK_INDEX) {
		st->index_uploaded++;
	} else {
		st->snapshots_uploaded++;
		st->snapshots_pending--;
	}
}

static int upload_one(void *elem, void *arg)
{
	static const enum bk_sync_step steps[BK_SK_N] = { BK_SYNC_PACK, BK_SYNC_INDEX,
							  BK_SYNC_SNAPSHOT };
	struct bk_sync_obj *e = elem;
	struct copy *c = arg;
	struct bk_syncer *s = c->s;
	char name[128], why[512] = "";
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	if (!e->missing)
		return 0;
	bk_sync_name(c->kind, e->id, name, sizeof(name));
	if (bk_sync_refresh(s, false) < 0)
		return -1;
	rc = read_checked(s, name, e, &data, &len, why, sizeof(why));
	if (rc < 0)
		return bk_sync_fail(s, "read %s in the source: %s", name, why);
	if (rc == 1) {
		damaged(s, c->kind, e, name, why);
		return 0;
	}
	rc = s->t->ops->put(s->t, name, data, len, why, sizeof(why));
	free(data);
	if (rc < 0)
		return bk_sync_fail(s, "upload %s: %s", name, why);
	uploaded(s, c->kind, e);
	return bk_sync_step(s, steps[c->kind], name);
}

static int upload_kind(struct bk_syncer *s, enum bk_sync_kind k)
{
	struct copy c = { .s = s, .kind = k };

	return bk_tab_each(&s->src[k], upload_one, &c) != 0 ? -1 : 0;
}

/*
 * First of all, so that every later state of the target is a readable
 * repository: a new one only where there is none, an upgraded one (same
 * repository, newer format version) over the old before any object of the
 * new version arrives.
 */
static int put_config(struct bk_syncer *s, const uint8_t *config, size_t len)
{
	char why[512] = "";
	int rc = s->config_upgrade
			 ? s->t->ops->put(s->t, "config", config, len, why, sizeof(why))
			 : s->t->ops->put_new(s->t, "config", config, len, why, sizeof(why));

	if (rc == 1)
		return bk_sync_fail(s, "a config appeared in it during the sync; run it again");
	if (rc < 0)
		return bk_sync_fail(s, "upload config: %s", why);
	s->has_config = true;
	s->config_upgrade = false;
	s->st->bytes_uploaded += len;
	s->st->objects_pending--;
	s->st->bytes_pending -= len;
	return bk_sync_step(s, BK_SYNC_CONFIG, "config");
}

int bk_sync_upload(struct bk_syncer *s, const uint8_t *config, size_t config_len)
{
	if ((!s->has_config || s->config_upgrade) && put_config(s, config, config_len) < 0)
		return -1;
	if (upload_kind(s, BK_SK_PACK) < 0)
		return -1;
	if (s->bad_packs)
		return bk_sync_fail(s, "%" PRIu64 " pack(s) damaged or missing in the source (the "
				    "first: %s), so no index file or snapshot was uploaded; run "
				    "`vigil verify --read-data` on the source", s->bad_packs, s->bad);
	if (upload_kind(s, BK_SK_INDEX) < 0 || upload_kind(s, BK_SK_SNAPSHOT) < 0)
		return -1;
	if (s->bad_snapshots)
		return bk_sync_fail(s, "%" PRIu64 " snapshot manifest(s) damaged in the source were "
				    "not uploaded (the first: %s); run `vigil verify` on the source",
				    s->bad_snapshots, s->bad);
	return 0;
}

/* ---- removals ---- */

static int remove_one(void *elem, void *arg)
{
	struct bk_sync_obj *e = elem;
	struct copy *c = arg;
	struct bk_syncer *s = c->s;
	char name[128], why[512] = "";

	if (bk_tab_find(&s->src[c->kind], e->id))
		return 0;
	bk_sync_name(c->kind, e->id, name, sizeof(name));
	if (bk_sync_refresh(s, false) < 0)
		return -1;
	if (s->t->ops->remove(s->t, name, why, sizeof(why)) < 0)
		return bk_sync_fail(s, "remove %s: %s", name, why);
	s->st->removed++;
	return bk_sync_step(s, BK_SYNC_REMOVED, name);
}

int bk_sync_remove(struct bk_syncer *s)
{
	/* Prune's order: nothing is named by what remains once it is gone. */
	static const enum bk_sync_kind order[] = { BK_SK_SNAPSHOT, BK_SK_INDEX, BK_SK_PACK };

	/* Deleting under a lock that another writer has taken over would be a disaster. */
	if (bk_sync_refresh(s, true) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct copy c = { .s = s, .kind = order[i] };

		if (bk_tab_each(&s->dst[order[i]], remove_one, &c) != 0)
			return -1;
	}
	return 0;
}
