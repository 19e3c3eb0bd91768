/*
 * monitor/decide.h — what the observers say, as one state-machine event
 * (fsm.h).  Pure: cluster.c gathers the facts, decide() classifies them,
 * machine.c fires the event at the table, which alone knows whether the
 * current state acts on it (PAUSED, TILT and a running job never do).
 *
 * Rules:
 *  - a standby is a *candidate* when it is UP by a quorum of its observers
 *    (none of them failing), not fenced out of the balancers, and its lag
 *    (where max_lag is set) is known and within max_lag;
 *  - the primary DOWN by quorum (ODOWN) is acted on only once it has been
 *    down for failover_delay, a candidate exists, and the anti-flap policy
 *    allows: else EV_ODOWN with the reason it waits (alerted once);
 *  - within `cooldown` of the last failover: wait (failover_suppressed);
 *    `max_failovers` already in the window: EV_ODOWN_LIMIT;
 *  - the candidate promoted is the most advanced (least lag, where lags
 *    are known), then the highest priority, then the first in config
 *    order (repmgr's order); priority 0 is never promoted automatically;
 *  - with the primary UP, fail back to the preferred node once it has been
 *    UP for failback_after (failback_due), under the same anti-flap rules.
 */
#ifndef VIGIL_MONITOR_DECIDE_H
#define VIGIL_MONITOR_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/fsm.h"
#include "monitor/refusal.h"
#include "monitor/health.h"

#define DECIDE_NO_LAG INT64_MAX /* a node's lag is not known */

struct decide_input {
	const enum health_state *health; /* one per node, config order */
	size_t n_nodes;
	size_t primary;                  /* index of the current primary */
	const bool *out;                 /* fenced out of the balancers; NULL = none */
	const int64_t *lag;              /* per node or DECIDE_NO_LAG; NULL = none known */
	const int *priority;             /* per node (0 = never automatically); NULL = all equal */
	bool check_lag;                  /* max_lag is set */
	int64_t max_lag;
	bool primary_sdown;              /* some observer sees the primary DOWN */
	bool delay_over;                 /* the primary has been DOWN for failover_delay */
	bool cooling_down;               /* the last failover was less than cooldown ago */
	bool over_limit;                 /* max_failovers already happened in the window */
	bool failback_due;               /* the preferred node has been UP for failback_after */
	size_t preferred;                /* the config's primary, with failback_due */
};

struct decision {
	enum fsm_event event;
	size_t target;      /* node to promote, with EV_ODOWN_ACT, EV_ODOWN_LIMIT, EV_FAILBACK */
	const char *reason; /* static text for logs and alerts */
	/* With EV_ODOWN: the alert for why it waits ("no_candidate", ...), or NULL. */
	const char *hold;
};

struct decision decide(const struct decide_input *in);

/*
 * Validate an operator's failover or switchover target.  target < 0 means
 * "choose" (the best candidate).  force skips the lag check only.  Returns
 * the node index, or -1 with a message in why and *refusal (unknown node, or not now).
 */
int decide_manual(const struct decide_input *in, int target, bool force, char *why,
		  size_t whylen, enum refusal *refusal);

#endif
