/*
 * monitor/machine.c — drive a cluster's state machine (see machine.h).
 *
 * The table (fsm.c) says what happens; this file only makes it happen:
 * every state change is logged and journaled with its reason before the
 * action of the transition starts.
 */
#include "monitor/machine.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/decide.h"
#include "monitor/event.h"
#include "monitor/failover.h"
#include "monitor/journal_roles.h"

#define RETRY_BACKOFF_CAP_MS 60000

static bool tilted(const struct mon_cluster *cl)
{
	return cl->env.tilt && *cl->env.tilt;
}

/* What the observers call for now, as a calm state, and why. */
static enum fsm_state settle(const struct mon_cluster *cl, const char **why)
{
	struct decide_buf buf;
	struct decide_input in;
	struct decision d;

	cluster_decide_input(cl, &buf, &in);
	d = decide(&in);
	*why = tilted(cl) ? "vigil suspects its own view" : d.reason;
	return fsm_settle(d.event, tilted(cl), false);
}

/*
 * Healthy again (a primary serving, a standby ready) after someone was
 * paged: close the incident (PagerDuty resolves its dedup_key).
 */
static void resolve_incident(struct mon_cluster *cl)
{
	struct mon_event_info ev = {
		.event = "resolved", .new_primary = cl->nodes[cl->primary].conf->name,
		.reason = "primary up, a standby can take over again",
		.epoch = cl->incident_epoch,
	};

	cl->incident = false;
	mon_event(cl, VLOG_NOTICE, &ev);
}

/* The one place a cluster's state is written. */
static void set_state(struct mon_cluster *cl, enum fsm_state to, const char *since,
		      const char *reason)
{
	cl->state = to;
	if (since)
		snprintf(cl->state_since, sizeof(cl->state_since), "%s", since);
	else
		clock_iso8601(cl->state_since, sizeof(cl->state_since));
	snprintf(cl->state_reason, sizeof(cl->state_reason), "%s", reason ? reason : "");
}

void machine_init(struct mon_cluster *cl)
{
	set_state(cl, ST_STARTING, NULL, "");
}

void machine_inherit(struct mon_cluster *cl, const struct mon_cluster *old)
{
	/* A reload never happens mid-job (the daemon waits): the state carries over as it was. */
	set_state(cl, old->state, old->state_since, old->state_reason);
}

static void transition(struct mon_cluster *cl, enum fsm_state to, enum fsm_event ev,
		       const char *reason)
{
	struct mon_event_info info = {
		.event = "transition", .from = fsm_state_name(cl->state), .to = fsm_state_name(to),
		.reason = reason, .detail = fsm_event_name(ev),
	};
	/* Job states are where vigil acts: worth a notice; the rest is routine. */
	enum vlog_level lvl = fsm_state_busy(to) || to == ST_FAILED ? VLOG_NOTICE : VLOG_INFO;

	set_state(cl, to, NULL, reason);
	mon_event(cl, lvl, &info);
	if (to == ST_HEALTHY && cl->incident)
		resolve_incident(cl);
}

void machine_retry_arm(struct mon_cluster *cl)
{
	uint64_t delay = cl->conf->retry_backoff_ms;
	struct timeval tv;

	if (cl->fo.switchover || cl->retries_done >= cl->conf->retries || !cl->retry_timer)
		return;
	for (int i = 0; i < cl->retries_done && delay < RETRY_BACKOFF_CAP_MS; i++)
		delay *= 2;
	if (delay > RETRY_BACKOFF_CAP_MS)
		delay = RETRY_BACKOFF_CAP_MS;
	tv = clock_tv_ms(delay);
	evtimer_add(cl->retry_timer, &tv);
}

/* Journal an operator's pause/resume (the state already changed). */
static void operator_word(struct mon_cluster *cl, const char *event, const char *reason)
{
	struct mon_event_info ev = { .event = event, .reason = reason };

	mon_event(cl, VLOG_NOTICE, &ev);
}

static void limit_reached(struct mon_cluster *cl, size_t target, const char *reason)
{
	struct mon_event_info ev = {
		.event = "failover_limit", .old_primary = cl->nodes[cl->primary].conf->name,
		.new_primary = cl->nodes[target].conf->name, .reason = reason,
	};

	mon_event(cl, VLOG_ERR, &ev);
	operator_word(cl, "paused", "max_failovers reached in failover_window");
}

void machine_hold_alert(struct mon_cluster *cl)
{
	struct mon_event_info ev = { .event = "held", .reason = cl->hold.why };
	struct timeval tv = clock_tv_ms(MACHINE_HOLD_REALERT_MS);

	if (cl->state != ST_HELD)
		return;
	mon_event(cl, VLOG_ERR, &ev);
	evtimer_add(cl->hold.realert, &tv);
}

static void act(struct mon_cluster *cl, enum fsm_action a, enum fsm_event ev, size_t target,
		const char *reason)
{
	switch (a) {
	case ACT_NONE:
		break;
	case ACT_BEGIN_FAILOVER:
	case ACT_BEGIN_SWITCHOVER:
		cl->retries_done += ev == EV_RETRY_FAILOVER;
		failover_begin(cl, target, reason, ev == EV_FAILOVER_CMD,
			       a == ACT_BEGIN_SWITCHOVER);
		break;
	case ACT_DRAIN:
		failover_drain(cl);
		break;
	case ACT_FENCE:
		failover_fence(cl);
		break;
	case ACT_PROMOTE:
		failover_promote(cl);
		break;
	case ACT_RECONFIGURE:
		cl->retries_done += ev == EV_RETRY_REROUTE;
		failover_reconfigure(cl);
		break;
	case ACT_RESTORE:
		failover_restore(cl);
		break;
	case ACT_FINISH:
		cl->retries_done = 0;
		failover_finish(cl);
		break;
	case ACT_FAIL:
		failover_fail(cl, reason);
		machine_retry_arm(cl);
		break;
	case ACT_LIMIT:
		limit_reached(cl, target, reason);
		break;
	case ACT_PAUSE:
		operator_word(cl, "paused", reason);
		break;
	case ACT_RESUME:
		/* Resuming acknowledges what happened: the anti-flap history starts over. */
		cl->n_auto = 0;
		cl->retries_done = 0;
		cl->alerted_hold = NULL;
		if (cl->retry_timer)
			evtimer_del(cl->retry_timer);
		operator_word(cl, "resumed", reason);
		break;
	case ACT_HOLD:
		machine_hold_alert(cl);
		break;
	case ACT_RESOLVE:
		/* cluster_resolve journaled the roles and took them; now the balancers. */
		evtimer_del(cl->hold.realert);
		cl->hold.why[0] = '\0';
		failover_reroute(cl, "resolved by the operator: render the roles they named");
		break;
	}
}

bool machine_fire(struct mon_cluster *cl, enum fsm_event ev, size_t target, const char *reason)
{
	const struct fsm_transition *t = fsm_lookup(cl->state, ev);
	const char *why = reason;
	enum fsm_state to;

	if (!t)
		return false;
	to = t->to == ST_SETTLE ? settle(cl, &why) : t->to;
	if (to != cl->state)
		transition(cl, to, ev, why);
	act(cl, t->action, ev, target, reason);
	/* A settled cluster may have to act at once (the primary died meanwhile). */
	if (t->to == ST_SETTLE && !fsm_state_busy(cl->state))
		cluster_evaluate(cl);
	return true;
}

/* Alert why a down primary waits, once per reason per primary-down episode. */
static void alert_hold(struct mon_cluster *cl, const struct decision *d)
{
	struct mon_event_info ev = { 0 };

	if (!d->hold || (cl->alerted_hold && strcmp(cl->alerted_hold, d->hold) == 0))
		return;
	cl->alerted_hold = d->hold;
	ev.event = d->hold;
	ev.old_primary = cl->nodes[cl->primary].conf->name;
	if (strcmp(d->hold, "no_candidate") != 0)
		ev.new_primary = cl->nodes[d->target].conf->name;
	ev.reason = d->reason;
	mon_event(cl, VLOG_ERR, &ev);
}

void cluster_evaluate(struct mon_cluster *cl)
{
	struct decide_buf buf;
	struct decide_input in;
	struct decision d;

	/* A start-up or rejoin render in flight: act once the balancers agree. */
	if (cl->job == &cl->render)
		return;
	if (tilted(cl)) {
		machine_fire(cl, EV_TILT, 0, "vigil suspects its own view");
		return;
	}
	if (cl->state == ST_TILT && !machine_fire(cl, EV_TILT_END, 0, "TILT is over"))
		return;
	cluster_decide_input(cl, &buf, &in);
	d = decide(&in);
	if (d.event == EV_ALL_UP || d.event == EV_NO_STANDBY)
		cl->alerted_hold = NULL;
	if (machine_fire(cl, d.event, d.target, d.reason) && d.event == EV_ODOWN)
		alert_hold(cl, &d);
}

int cluster_set_paused(struct mon_cluster *cl, bool paused, const char *reason)
{
	if (machine_fire(cl, paused ? EV_PAUSE : EV_RESUME, cl->primary, reason))
		return 0;
	/* Already as asked is not an error; anything else (a job runs) is. */
	return (cl->state == ST_PAUSED) == paused ? 0 : -1;
}

void machine_retry(struct mon_cluster *cl)
{
	struct decide_buf buf;
	struct decide_input in;
	struct decision d;

	if (cl->state != ST_FAILED)
		return;
	if (cl->fo.promoted) {
		machine_fire(cl, EV_RETRY_REROUTE, cl->fo.to, "retry: reroute to the promoted node");
		return;
	}
	/* Anti-flap guards against flapping between nodes, not against finishing a failover. */
	cluster_decide_input(cl, &buf, &in);
	in.cooling_down = in.over_limit = false;
	in.delay_over = true;
	d = decide(&in);
	if (d.event == EV_ODOWN_ACT) {
		machine_fire(cl, EV_RETRY_FAILOVER, d.target, "retry: the primary is still down");
		return;
	}
	vlog(VLOG_WARNING, "monitor", "retry not started: the failover is no longer possible or "
	     "needed; vigilctl resume when checked", "cluster", cl->conf->name, "why", d.reason,
	     NULL);
	if (d.event == EV_ODOWN && ++cl->retries_done < cl->conf->retries)
		machine_retry_arm(cl); /* no candidate yet: look again later */
}

/* The first step still to do, by the last durable record of the failover. */
static enum fsm_event recover_event(struct mon_cluster *cl, const struct journal_roles *r)
{
	struct mon_event_info ev = { .event = "promoted", .old_primary = r->fo_from,
				     .new_primary = r->fo_to, .epoch = r->fo_epoch };

	switch (r->step) {
	case JSTEP_STARTED:
		return r->fo_switchover ? EV_RECOVER_DRAIN : EV_RECOVER_FENCE;
	case JSTEP_FENCED:
		return EV_RECOVER_PROMOTE;
	case JSTEP_PROMOTE_STARTED:
		/*
		 * The promote hook may have finished, or may still be running on
		 * its own: running it again could promote twice.  Roll forward.
		 */
		ev.reason = "rolled forward after a restart: the promote hook had started "
			    "and is never run twice for one epoch";
		cl->primary = cl->fo.to;
		cl->out[cl->fo.from] = true;
		cl->fo.promoted = true;
		mon_event(cl, VLOG_WARNING, &ev);
		return EV_RECOVER_REROUTE;
	default:
		return EV_RECOVER_REROUTE;
	}
}

bool machine_recover(struct mon_cluster *cl, const struct journal_roles *r)
{
	int from = conf_cluster_find_node(cl->conf, r->fo_from);
	int to = conf_cluster_find_node(cl->conf, r->fo_to);
	struct mon_event_info ev = { .event = "failover_resumed", .old_primary = r->fo_from,
				     .new_primary = r->fo_to, .epoch = r->fo_epoch };
	struct mon_failover *job = &cl->fo;
	char why[256];

	if (r->step == JSTEP_NONE)
		return false;
	if (from < 0 || to < 0 || from == to) {
		ev.event = "failover_interrupted";
		ev.reason = "vigil stopped during a failover whose nodes are no longer in the "
			    "config; check them, then vigilctl resume";
		machine_fire(cl, EV_RECOVER_FAILED, cl->primary, ev.reason);
		mon_event(cl, VLOG_ERR, &ev);
		return false;
	}
	*job = (struct mon_failover){ .result = FO_RUNNING, .epoch = r->fo_epoch,
				      .from = (size_t)from, .to = (size_t)to,
				      .manual = r->fo_manual, .switchover = r->fo_switchover,
				      .promoted = r->step >= JSTEP_PROMOTED,
				      .skip_restore = r->step == JSTEP_RESTORE_STARTED };
	snprintf(job->reason, sizeof(job->reason), "%s", r->fo_reason);
	clock_iso8601(job->started, sizeof(job->started));
	cl->job = job;
	snprintf(why, sizeof(why), "vigil stopped during the %s of epoch %llu; finishing it",
		 r->fo_switchover ? "switchover" : "failover", (unsigned long long)r->fo_epoch);
	ev.reason = why;
	mon_event(cl, VLOG_ERR, &ev);
	machine_fire(cl, recover_event(cl, r), job->to, why);
	return true;
}
