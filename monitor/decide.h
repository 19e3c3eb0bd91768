/*
 * monitor/decide.h — the walking skeleton's whole decision, in one pure
 * function behind one interface.  The quorum state machine (a later issue)
 * replaces it; nothing else in the daemon decides.
 *
 * Rules:
 *  - nothing happens while an action job runs, the cluster is held after a
 *    failed action, or an operator paused it (probe, report, never act);
 *  - the primary must be DOWN (UNKNOWN is not enough) to fail over;
 *  - only an UP standby is ever promoted, the first UP one in config order;
 *  - primary DOWN and no standby UP: report NO_CANDIDATE (alert, keep the
 *    last good balancer config);
 *  - with the primary UP, fail back to the preferred node once it has been
 *    UP for failback_after (failback_due), under the same anti-flap rules;
 *  - anti-flap: within `cooldown` of the last failover report SUPPRESSED;
 *    when the window already holds `max_failovers` automatic failovers,
 *    report LIMIT (the cluster pauses itself and alerts).
 */
#ifndef VIGIL_MONITOR_DECIDE_H
#define VIGIL_MONITOR_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "monitor/health.h"

struct decide_input {
	const enum health_state *health; /* one per node, config order */
	size_t n_nodes;
	size_t primary;                  /* index of the current primary */
	bool busy;                       /* an action job is running */
	bool held;                       /* a failed action: act only on operator command */
	bool paused;                     /* maintenance: never act, not even on command */
	bool cooling_down;               /* the last failover was less than cooldown ago */
	bool over_limit;                 /* max_failovers already happened in the window */
	bool tilt;                       /* vigil suspects itself: observe, never act */
	bool failback_due;               /* the preferred node has been UP for failback_after */
	size_t preferred;                /* the config's primary, with failback_due */
};

enum decide_verdict {
	DECIDE_NOTHING,
	DECIDE_FAILOVER,
	DECIDE_NO_CANDIDATE,
	DECIDE_SUPPRESSED,
	DECIDE_LIMIT,
};

struct decision {
	enum decide_verdict verdict;
	size_t target;      /* node to promote, with DECIDE_FAILOVER */
	const char *reason; /* static text for logs and alerts */
};

struct decision decide(const struct decide_input *in);

/*
 * Validate an operator's failover request.  target < 0 means "choose":
 * the first UP standby.  Returns the node index to promote, or -1 with a
 * message in why (and *http_status 404/409 for the control API).
 */
int decide_manual(const struct decide_input *in, int target, char *why, size_t whylen,
		  int *http_status);

const char *decide_verdict_name(enum decide_verdict v);

#endif
