/*
 * actions/backup/repack.h — a prune's second half (repack.c): the used
 * chunks of packs worth rewriting go into new packs, then the new index.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_REPACK_H
#define VIGIL_ACTIONS_BACKUP_REPACK_H

#include "actions/backup/prune_run.h"

/*
 * Copy the used chunks of every BK_FATE_REPACK pack into new packs (each
 * chunk re-hashed on the way), and make them durable and indexed.
 */
int bk_prune_repack(struct bk_prune_run *p);
/*
 * Write the index files listing every used chunk where the in-memory
 * index now places it (kept and new packs only); their ids go into
 * p->written.
 */
int bk_prune_write_index(struct bk_prune_run *p);

#endif

