/* monitor/decide.c — the observers' verdict as one event (see decide.h). */
#include "monitor/decide.h"

#include <inttypes.h>
#include <stdio.h>

static int64_t lag_of(const struct decide_input *in, size_t i)
{
	return in->lag ? in->lag[i] : DECIDE_NO_LAG;
}

static bool lag_ok(const struct decide_input *in, size_t i)
{
	return !in->check_lag || lag_of(in, i) <= in->max_lag;
}

static bool is_out(const struct decide_input *in, size_t i)
{
	return in->out && in->out[i];
}

static int priority_of(const struct decide_input *in, size_t i)
{
	return in->priority ? in->priority[i] : 100;
}

static bool candidate(const struct decide_input *in, size_t i)
{
	return i != in->primary && in->health[i] == HEALTH_UP && !is_out(in, i) && lag_ok(in, i) &&
	       priority_of(in, i) > 0;
}

/* Is node i a better choice than node j?  Least lag, then priority, then config order. */
static bool better(const struct decide_input *in, size_t i, size_t j)
{
	if (lag_of(in, i) != lag_of(in, j))
		return lag_of(in, i) < lag_of(in, j);
	return priority_of(in, i) > priority_of(in, j);
}

static int best_candidate(const struct decide_input *in)
{
	int best = -1;

	for (size_t i = 0; i < in->n_nodes; i++)
		if (candidate(in, i) && (best < 0 || better(in, i, (size_t)best)))
			best = (int)i;
	return best;
}

static struct decision primary_up(const struct decide_input *in)
{
	struct decision d = { EV_ALL_UP, 0, "primary up, a standby can take over", NULL };
	size_t pref = in->preferred;

	if (in->failback_due && pref != in->primary && pref < in->n_nodes && candidate(in, pref)) {
		/* A planned move, not an emergency: anti-flap only delays it, silently. */
		if (!in->cooling_down && !in->over_limit) {
			d.event = EV_FAILBACK;
			d.target = pref;
			d.reason = "failback: the preferred primary has been up for failback_after";
			return d;
		}
	}
	if (best_candidate(in) < 0) {
		d.event = EV_NO_STANDBY;
		d.reason = "primary up, but no standby can take over";
	}
	return d;
}

struct decision decide(const struct decide_input *in)
{
	struct decision d = { EV_UNKNOWN, 0, "primary health unknown", NULL };
	enum health_state ph = in->health[in->primary];
	int cand;

	if (ph == HEALTH_UP && !in->primary_sdown)
		return primary_up(in);
	if (ph != HEALTH_DOWN) {
		if (in->primary_sdown) {
			d.event = EV_SDOWN;
			d.reason = "some observers see the primary down, not a quorum";
		}
		return d;
	}
	d.event = EV_ODOWN;
	cand = best_candidate(in);
	if (cand < 0) {
		d.reason = "primary down and no standby can take over";
		d.hold = "no_candidate";
		return d;
	}
	d.target = (size_t)cand;
	if (!in->delay_over) {
		d.reason = "primary down, waiting for failover_delay";
	} else if (in->cooling_down) {
		d.reason = "primary down, but the last failover was less than cooldown ago";
		d.hold = "failover_suppressed";
	} else if (in->over_limit) {
		d.event = EV_ODOWN_LIMIT;
		d.reason = "primary down, but max_failovers were reached in failover_window";
	} else {
		d.event = EV_ODOWN_ACT;
		d.reason = "primary down, standby up";
	}
	return d;
}

int decide_manual(const struct decide_input *in, int target, bool force, char *why,
		  size_t whylen, enum refusal *refusal)
{
	*refusal = REFUSED_NOT_NOW;
	if (target < 0) {
		struct decide_input any = *in;

		any.check_lag = in->check_lag && !force;
		target = best_candidate(&any);
		if (target < 0)
			snprintf(why, whylen, "no standby can take over (up, not fenced, within max_lag)");
		return target;
	}
	if ((size_t)target >= in->n_nodes) {
		*refusal = REFUSED_UNKNOWN;
		snprintf(why, whylen, "no such node");
	} else if ((size_t)target == in->primary) {
		snprintf(why, whylen, "node is already the primary");
	} else if (in->health[target] != HEALTH_UP) {
		snprintf(why, whylen, "node is %s, only an up node can be promoted",
			 health_state_name(in->health[target]));
	} else if (is_out(in, (size_t)target)) {
		snprintf(why, whylen, "node is fenced out of the balancers: vigilctl rejoin it first");
	} else if (!force && lag_of(in, (size_t)target) == DECIDE_NO_LAG && in->check_lag) {
		snprintf(why, whylen, "node's lag is not known and max_lag is set; --force to "
			 "promote anyway");
	} else if (!force && !lag_ok(in, (size_t)target)) {
		snprintf(why, whylen, "node's lag %" PRId64 " is over max_lag %" PRId64 "; --force "
			 "to promote anyway", lag_of(in, (size_t)target), in->max_lag);
	} else {
		return target;
	}
	return -1;
}
