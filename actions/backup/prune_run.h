/*
 * actions/backup/prune_run.h — one prune's state, which prune.c (the plan,
 * the deletions) fills and repack.c (new packs, the new index, repack.h)
 * works on.  Not for callers outside actions/backup/: use bk_prune in
 * backup.h.
 *
 * Synchronous; never on the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_PRUNE_RUN_H
#define VIGIL_ACTIONS_BACKUP_PRUNE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "actions/backup/backup.h"
#include "actions/backup/repo.h"

/* What becomes of each pack the index listed when the plan was made. */
enum { BK_FATE_KEEP, BK_FATE_DROP, BK_FATE_REPACK };

struct bk_prune_run {
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
static inline void bk_prune_step(struct bk_prune_run *p, enum bk_prune_step step,
				 const char *name)
{
	if (p->o->progress)
		p->o->progress(p->o->arg, step, name);
}

#endif
