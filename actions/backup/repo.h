/*
 * actions/backup/repo.h — the repository handle the backup library's
 * modules share (not for callers outside actions/backup/: use backup.h).
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_REPO_H
#define VIGIL_ACTIONS_BACKUP_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "actions/backup/backup.h"
#include "actions/backup/bkutil.h"
#include "actions/backup/chunker.h"
#include "actions/backup/crypto.h"
#include "actions/backup/index.h"
#include "actions/backup/segment.h"
#include "actions/backup/store.h"

/* The newest format this vigil writes; it reads every version up to it. */
#define BK_FORMAT_VERSION 2
/* How often a running writer rewrites its lock's time. */
#define BK_LOCK_REFRESH_S 120

struct bk_repo {
	struct bk_store *store;
	struct bk_codec *codec;
	struct bk_chunker chunker;
	struct bk_index index;
	char id[BK_ID_HEX];
	uint32_t pack_size;
	unsigned version;      /* of the format: what writers write into this repository */
	/* A writer's segment target, at most pack_size; 0 (version 1): one chunk each. */
	uint32_t segment_size;
	bool encrypted;
	struct bk_buf rbuf;      /* a stored segment being read */
	struct bk_segcache segs; /* segments decoded for bk_chunk_read */
	/* the writer lock */
	bool locked;
	char lock_token[33];
	unsigned lock_stale_s;
	int64_t lock_written; /* monotonic seconds */
	uint64_t packs_recovered; /* by the last bk_repo_lock */
};

/* ---- lock.c ---- */
/* Take the lock (a stale one is taken over); -1 with "locked by ..." otherwise. */
int bk_lock_acquire(struct bk_repo *r, char *err, size_t errlen);
/* Rewrite the lock's time when BK_LOCK_REFRESH_S passed; -1 if it is no longer ours. */
int bk_lock_refresh(struct bk_repo *r, char *err, size_t errlen);
void bk_lock_release(struct bk_repo *r);

/* ---- repo.c ---- */
/*
 * Read one chunk: look it up, read its bytes from its pack, decode, and
 * check its SHA-256.  -1 with "chunk <id>: why" (not in the index,
 * damaged, hash mismatch).
 */
int bk_chunk_read(struct bk_repo *r, const uint8_t id[BK_ID_LEN], struct bk_buf *out,
		  char *err, size_t errlen);
int64_t bk_now_ns(void);

#endif
