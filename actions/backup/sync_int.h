/*
 * actions/backup/sync_int.h — what sync.c (opening the target, the locks,
 * the comparison) and sync_copy.c (uploads and removals) share; the
 * helpers both call live in sync_base.c, so neither calls the other back.  Not for
 * callers outside actions/backup/: use sync.h.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_SYNC_INT_H
#define VIGIL_ACTIONS_BACKUP_SYNC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/repo.h"
#include "actions/backup/sync.h"

/* The kinds of content-addressed object, in upload order. */
enum bk_sync_kind { BK_SK_PACK, BK_SK_INDEX, BK_SK_SNAPSHOT, BK_SK_N };

struct bk_sync_obj {
	uint8_t id[BK_ID_LEN];
	uint64_t size;  /* source objects the target lacks: their size */
	bool missing;   /* a source object the target lacks */
	bool skipped;   /* damaged in the source, not uploaded */
};

struct bk_syncer {
	struct bk_repo *r;
	const struct bk_sync_opts *o;
	struct bk_sync_stats *st;
	struct bk_store *t;   /* NULL: a local target that does not exist yet (dry run) */
	const char *where;    /* the target, for messages */
	/* lock.c works on a repository handle; only its store and lock fields are used. */
	struct bk_repo tlock;
	bool source_locked;
	bool has_config;      /* the target has one (identical to the source's) */
	bool config_upgrade;  /* the target's is the source's before `vigil upgrade`: replaced first */
	struct bk_tab src[BK_SK_N], dst[BK_SK_N]; /* of struct bk_sync_obj */
	char bad[384];        /* the first damaged pack or manifest, and why */
	uint64_t bad_packs, bad_snapshots;
	char *err;
	size_t errlen;
};

/* ---- sync_base.c ---- */

/* The directory a kind of object lives in: "data", "index", "snapshots". */
const char *bk_sync_dir(enum bk_sync_kind k);

/* "data/ab/<id>", "index/<id>" or "snapshots/<id>". */
void bk_sync_name(enum bk_sync_kind k, const uint8_t id[BK_ID_LEN], char *out, size_t len);
/* err = "sync to <target>: <fmt>"; returns -1. */
int bk_sync_fail(struct bk_syncer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tell the caller; -1 (with err) when it asks to stop. */
int bk_sync_step(struct bk_syncer *s, enum bk_sync_step step, const char *name);
/* Rewrite both locks' time when due (force: now); -1 when either is lost. */
int bk_sync_refresh(struct bk_syncer *s, bool force);

/* ---- sync_copy.c ---- */

/* The config (when the target has none), then missing packs, index files, manifests. */
int bk_sync_upload(struct bk_syncer *s, const uint8_t *config, size_t config_len);
/* Manifests, then index files, then packs the source no longer has. */
int bk_sync_remove(struct bk_syncer *s);

#endif
