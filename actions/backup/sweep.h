/*
 * actions/backup/sweep.h — after a restore into a directory that already
 * held files, remove what the snapshot does not hold, so the directory is
 * the snapshot and nothing more (a data directory must not keep a stale
 * lock or WAL file from its former life).
 *
 * Paths are compared by the SHA-256 of their bytes relative to the target
 * ("dir/file"); the walk works through directory descriptors and never
 * follows a symlink, so nothing outside the target is touched, and it
 * never crosses into another file system (a mount point inside the target
 * is left whole and reported).
 */
#ifndef VIGIL_ACTIONS_BACKUP_SWEEP_H
#define VIGIL_ACTIONS_BACKUP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "actions/backup/backup.h"
#include "actions/backup/bkutil.h"

/* The key a relative path is kept under (SHA-256 of its bytes). */
void bk_sweep_key(const char *rel, uint8_t key[BK_ID_LEN]);
/*
 * Remove everything under target whose relative path is not in keep (a
 * table of bk_sweep_key ids); their count into *removed.  problem (may be
 * NULL) hears of each mount point left alone.  -1 with err on the first
 * entry that cannot be read or removed.
 */
int bk_sweep(const char *target, const struct bk_tab *keep, bk_problem_fn problem, void *arg,
	     uint64_t *removed, char *err, size_t errlen);

#endif
