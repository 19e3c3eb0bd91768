/*
 * actions/backup/sync.h — mirroring a repository onto another store
 * (`vigil sync`): an offsite copy in S3, or a second local disk.
 *
 * The mirror holds the source's objects byte for byte: the same config,
 * so the same key, and the same packs, index files and manifests.
 * Objects are named by their hash and never change, so a sync only
 * uploads what the target lacks and removes what the source no longer
 * has; the mirror is an ordinary repository (`vigil restore -r
 * s3://...` reads it directly).  docs/repository-format.md, "Mirrors",
 * gives the order that keeps the target valid after an interruption at
 * any point.
 *
 * Synchronous and slow (it uploads packs): for the CLI or a child
 * process, never the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_SYNC_H
#define VIGIL_ACTIONS_BACKUP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "actions/backup/backup.h"

/* What a progress call reports, once the object is safely there (or gone). */
enum bk_sync_step {
	BK_SYNC_CONFIG,   /* the config, put first into an empty target */
	BK_SYNC_PACK,     /* a pack uploaded */
	BK_SYNC_INDEX,    /* an index file uploaded */
	BK_SYNC_SNAPSHOT, /* a snapshot manifest uploaded */
	BK_SYNC_REMOVED,  /* an object the source no longer has, removed from the target */
};

/* Non-zero stops the sync, which then fails with "stopped" (the target stays valid). */
typedef int (*bk_sync_fn)(void *arg, enum bk_sync_step step, const char *name);

struct bk_sync_opts {
	/* A local directory, or s3://BUCKET/PREFIX?... (store_s3.h, bk_store_open). */
	const char *target;
	/* Only compare and count what is pending: no lock taken, nothing written. */
	bool dry_run;
	bk_sync_fn progress; /* may be NULL */
	void *arg;
};

struct bk_sync_stats {
	uint64_t packs_uploaded, index_uploaded, snapshots_uploaded;
	uint64_t bytes_uploaded; /* every object uploaded, the config included */
	uint64_t removed;        /* objects removed from the target (would be, with dry_run) */
	/*
	 * What the source has and the target does not (yet): counted before
	 * the first upload and brought down by each one, so after a failure
	 * it is what is still missing.  pending_known is false when the sync
	 * failed before it could compare the two.
	 */
	bool pending_known;
	uint64_t snapshots_pending, objects_pending, bytes_pending;
	/* Source objects whose bytes do not match their name: never uploaded. */
	uint64_t damaged;
};

/*
 * Mirror the open repository r onto o->target.  Refuses an unencrypted
 * source for an S3 target ("offsite repositories must be encrypted"),
 * and a target that holds another repository or objects without a
 * config.  Holds r's writer lock and the target's lock throughout.  Every
 * object is re-hashed before it leaves; a damaged or missing pack fails
 * the sync before any index file or manifest is uploaded, a damaged
 * manifest is skipped and fails it at the end.  Nothing is removed from
 * the target unless every upload succeeded.  st (may be NULL) is filled
 * on failure too.
 */
int bk_sync(struct bk_repo *r, const struct bk_sync_opts *o, struct bk_sync_stats *st,
	    char *err, size_t errlen);

#endif
