/*
 * monitor/recover.h — may a cluster's journal be trusted at start-up?
 *
 * The journal says who is primary; the files vigil rendered for the
 * balancers say whom they route to (actions/render_mark.h), and they are
 * written only after the journal records that decided it.  So the journal
 * may be ahead of a balancer (a failover whose reroute had not run), never
 * behind it.  A cluster is held (fsm.h: HELD, no action, alerted until
 * `vigilctl resolve`) when
 *   - the journal holds damage since the cluster's last resolution;
 *   - its primary is not in the config;
 *   - a balancer's mark has a later epoch than any the journal recorded
 *     (records are missing: a truncated, emptied or older journal);
 *   - a mark has the journal's epoch but another primary, which no
 *     failover of that epoch in flight explains;
 *   - a mark from before epochs were written names another primary;
 *   - a balancer's file cannot be read.
 * A mark of another cluster name (the file was someone else's) says nothing.
 */
#ifndef VIGIL_MONITOR_RECOVER_H
#define VIGIL_MONITOR_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/render_mark.h"
#include "conf/config.h"
#include "monitor/journal_roles.h"

/* What one balancer's file says it serves. */
struct recover_mark {
	const char *source;       /* "nginx:web_backend", for messages */
	int found;                /* render_mark_read: 1 mark, 0 none, -1 error */
	struct render_mark mark;
	char error[256];          /* with found -1 */
};

/* The marks of conf's balancers (one per balancer, in order; n = conf->n_balancers). */
void recover_read_marks(const struct conf_cluster *conf, const char *const *sources,
			struct recover_mark *marks);

/* NULL when the journal may be trusted; else why the cluster is held, in buf. */
const char *recover_conflict(const struct conf_cluster *conf, const struct journal_roles *r,
			     const struct recover_mark *marks, size_t n, char *buf, size_t len);

/* What a held cluster knows: who was named primary, and the highest epoch seen. */
struct recover_evidence {
	bool named[CONF_MAX_NODES]; /* named primary by the journal or a balancer */
	int likely;                 /* the primary of the newest evidence, or -1 */
	uint64_t epoch;
};

void recover_evidence(const struct conf_cluster *conf, const struct journal_roles *r,
		      const struct recover_mark *marks, size_t n, struct recover_evidence *ev);

#endif
