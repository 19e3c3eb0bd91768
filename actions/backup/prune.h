/*
 * actions/backup/prune.h — what prune.c (the plan, the deletions) and
 * repack.c (new packs, the new index) share.  Not for callers outside
 * actions/backup/: use bk_prune in backup.h.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_PRUNE_H
#define VIGIL_ACTIONS_BACKUP_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "actions/backup/backup.h"
#include "actions/backup/repo.h"

/* What becomes of each pack the index listed when the plan was made. */
enum { BK_FATE_KEEP, BK_FATE_DROP, BK_FATE_REPACK };

struct bk_prune {
	struct bk_repo *r;
	const struct bk_prune_opts *o;
	struct bk_prune_stats *st;
	struct bk_tab used;    /* ids of the chunks some snapshot needs */
	struct bk_tab trees;   /* hashes of tree id lists already walked */
	struct bk_tab written; /* ids of the index files this prune wrote */
	uint64_t *used_bytes;  /* per pack position: stored bytes of used chunks there */
	uint8_t *fate;         /* per pack position */
	size_t npacks;         /* positions planned; later ones are new packs, kept */
	char *err;
	size_t errlen;
};

/* Report a durable step to the caller's progress function, if any. */
void bk_prune_step(struct bk_prune *p, enum bk_prune_step step, const char *name);
/*
 * Copy the used chunks of every BK_FATE_REPACK pack into new packs (each
 * chunk re-hashed on the way), and make them durable and indexed.
 */
int bk_prune_repack(struct bk_prune *p);
/*
 * Write the index files listing every used chunk where the in-memory
 * index now places it (kept and new packs only); their ids go into
 * p->written.
 */
int bk_prune_write_index(struct bk_prune *p);

#endif
