/* monitor/decide.c — the skeleton's failover decision (see decide.h). */
#include "monitor/decide.h"

#include <stdio.h>

static int first_up_standby(const struct decide_input *in)
{
	for (size_t i = 0; i < in->n_nodes; i++)
		if (i != in->primary && in->health[i] == HEALTH_UP)
			return (int)i;
	return -1;
}

struct decision decide(const struct decide_input *in)
{
	struct decision d = { DECIDE_NOTHING, 0, "nothing to do" };
	int cand;

	if (in->busy) {
		d.reason = "an action is running";
		return d;
	}
	if (in->tilt) {
		d.reason = "TILT: vigil suspects its own view";
		return d;
	}
	if (in->paused) {
		d.reason = "cluster paused by the operator";
		return d;
	}
	if (in->held) {
		d.reason = "cluster held after a failed action: operator must act";
		return d;
	}
	if (in->failback_due && in->health[in->primary] == HEALTH_UP &&
	    in->preferred != in->primary && in->preferred < in->n_nodes &&
	    in->health[in->preferred] == HEALTH_UP) {
		/* A planned move, not an emergency: anti-flap only delays it, silently. */
		if (in->cooling_down || in->over_limit) {
			d.reason = "failback waits for the anti-flap policy";
			return d;
		}
		d.verdict = DECIDE_FAILOVER;
		d.target = in->preferred;
		d.reason = "failback: the preferred primary has been up for failback_after";
		return d;
	}
	if (in->health[in->primary] != HEALTH_DOWN) {
		d.reason = in->health[in->primary] == HEALTH_UP ? "primary up"
								  : "primary health unknown";
		return d;
	}
	cand = first_up_standby(in);
	if (cand < 0) {
		d.verdict = DECIDE_NO_CANDIDATE;
		d.reason = "primary down and no standby is up";
		return d;
	}
	d.target = (size_t)cand;
	if (in->cooling_down) {
		d.verdict = DECIDE_SUPPRESSED;
		d.reason = "primary down, but the last failover was less than cooldown ago";
	} else if (in->over_limit) {
		d.verdict = DECIDE_LIMIT;
		d.reason = "primary down, but max_failovers were reached in failover_window";
	} else {
		d.verdict = DECIDE_FAILOVER;
		d.reason = "primary down, standby up";
	}
	return d;
}

int decide_manual(const struct decide_input *in, int target, char *why, size_t whylen,
		  int *http_status)
{
	*http_status = 409;
	if (in->paused) {
		snprintf(why, whylen, "the cluster is paused: resume it first");
		return -1;
	}
	if (in->tilt) {
		snprintf(why, whylen, "vigil is in TILT (it suspects its own view); wait for it to end");
		return -1;
	}
	if (in->busy) {
		snprintf(why, whylen, "a failover is already running");
		return -1;
	}
	if (target < 0) {
		target = first_up_standby(in);
		if (target < 0) {
			snprintf(why, whylen, "no standby is up");
			return -1;
		}
		return target;
	}
	if ((size_t)target >= in->n_nodes) {
		*http_status = 404;
		snprintf(why, whylen, "no such node");
		return -1;
	}
	if ((size_t)target == in->primary) {
		snprintf(why, whylen, "node is already the primary");
		return -1;
	}
	if (in->health[target] != HEALTH_UP) {
		snprintf(why, whylen, "node is %s, only an up node can be promoted",
			 health_state_name(in->health[target]));
		return -1;
	}
	return target;
}

const char *decide_verdict_name(enum decide_verdict v)
{
	switch (v) {
	case DECIDE_FAILOVER:
		return "failover";
	case DECIDE_NO_CANDIDATE:
		return "no_candidate";
	case DECIDE_SUPPRESSED:
		return "failover_suppressed";
	case DECIDE_LIMIT:
		return "failover_limit";
	case DECIDE_NOTHING:
		break;
	}
	return "nothing";
}
