/*
 * actions/backup/snapshot.h — snapshot manifests: snapshots/<id>, a stored
 * blob (zstd, encrypted when the repository is) of a JSON object naming
 * the tree's chunks, the parent, the time, host, job and source.  Written
 * last of all a backup's files: a manifest exists only when everything it
 * points to does.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_SNAPSHOT_H
#define VIGIL_ACTIONS_BACKUP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/backup.h"
#include "actions/backup/repo.h"

struct bk_snapshot {
	char id[BK_ID_HEX];
	char parent[BK_ID_HEX]; /* "" when none */
	int64_t time_ns;
	char *host, *job, *source;
	bool full;
	uint8_t *tree; /* ntree chunk ids */
	size_t ntree;
	uint64_t tree_size;
	uint64_t files, dirs, symlinks, bytes, bytes_read, chunks_new, bytes_new;
};

void bk_snapshot_clear(struct bk_snapshot *s);
/* Write s (its id is ignored); the new id into id, stored bytes into *stored. */
int bk_snapshot_write(struct bk_repo *r, const struct bk_snapshot *s, char id[BK_ID_HEX],
		      size_t *stored, char *err, size_t errlen);
/* Load snapshots/<id>; 1 when there is no such snapshot. */
int bk_snapshot_load(struct bk_repo *r, const char *id, struct bk_snapshot *s, char *err,
		     size_t errlen);
/*
 * Every snapshot, oldest first (malloc'd array, clear each and free it).
 * A manifest that cannot be read is an error naming it.
 */
int bk_snapshot_all(struct bk_repo *r, struct bk_snapshot **all, size_t *n, char *err,
		    size_t errlen);
void bk_snapshot_all_free(struct bk_snapshot *all, size_t n);
/*
 * Which snapshot spec means: a full id, a unique prefix (4+ digits), or
 * NULL/"latest" for the newest one with this job (and source, when not
 * NULL; job NULL matches any).  1 when none matches, -1 with err.
 */
int bk_snapshot_resolve(struct bk_repo *r, const char *spec, const char *job,
			const char *source, char id[BK_ID_HEX], char *err, size_t errlen);

#endif
