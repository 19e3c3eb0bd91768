/*
 * monitor/observer.c — a cluster's observers: schedule every probe, fold
 * its results into rise/fall, count the votes into each node's health
 * (DOWN by quorum = objectively down), and after every result ask the
 * state machine to evaluate (see cluster.h).
 */
#include "monitor/observer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/event.h"

static uint64_t jitter(uint64_t max_ms)
{
	return max_ms ? (uint64_t)random() % (max_ms + 1) : 0;
}

/*
 * Delay until an observer's next run: one interval after this run started,
 * moved by a random amount within +-jitter/2 so that observers drift apart
 * while the average rate stays exactly one run per interval.
 */
static uint64_t next_delay(uint64_t interval, uint64_t elapsed, uint64_t jitter_ms)
{
	uint64_t due = interval + jitter(jitter_ms), half = jitter_ms / 2;

	due = due > half ? due - half : 0;
	return due > elapsed ? due - elapsed : 0;
}

static void obs_schedule(struct mon_observer *o, uint64_t delay_ms)
{
	struct timeval tv = clock_tv_ms(delay_ms);

	if (o->probe)
		evtimer_add(o->timer, &tv);
}

enum health_state observer_vote(const struct mon_cluster *cl, const struct mon_observer *o)
{
	int via = o->conf->via_node;

	if (via >= 0 && ((size_t)via == o->node || cl->nodes[via].health == HEALTH_DOWN))
		return HEALTH_UNKNOWN; /* abstains: its vantage point is itself, or gone */
	return o->health.state;
}

/* The node's lag, from its lag observer's last passing run. */
static void node_lag(struct mon_cluster *cl, size_t idx)
{
	size_t np = cl->conf->n_probes;

	cl->nodes[idx].lag = DECIDE_NO_LAG;
	for (size_t p = 0; p < np; p++) {
		const struct mon_observer *o = &cl->obs[idx * np + p];

		if (o->conf->lag && o->has_last && o->last.ok && o->last.has_lag)
			cl->nodes[idx].lag = o->last.lag;
	}
}

static void node_changed(struct mon_cluster *cl, size_t idx)
{
	struct mon_node *n = &cl->nodes[idx];
	struct mon_event_info ev = { .node = n->conf->name,
				     .detail = n->has_last ? n->last.detail : NULL };

	clock_iso8601(n->since, sizeof(n->since));
	if (n->health == HEALTH_DOWN) {
		n->down_ms = clock_mono_ms();
		ev.event = "node_down";
		ev.reason = "a quorum of observers reached their fall threshold";
		mon_event(cl, VLOG_WARNING, &ev);
		if (cl->env.node_down)
			cl->env.node_down(cl->env.idle_arg);
	} else if (n->health == HEALTH_UP) {
		n->up_ms = clock_mono_ms();
		ev.event = "node_up";
		ev.reason = "a quorum of observers reached their rise threshold";
		mon_event(cl, VLOG_NOTICE, &ev);
	}
}

bool observer_node_update(struct mon_cluster *cl, size_t idx)
{
	struct mon_node *n = &cl->nodes[idx];
	size_t np = cl->conf->n_probes;
	enum health_state votes[CONF_MAX_PROBES], before = n->health;

	for (size_t p = 0; p < np; p++)
		votes[p] = observer_vote(cl, &cl->obs[idx * np + p]);
	n->sdown = health_any_down(votes, np);
	n->health = health_combine(votes, np, (size_t)cl->conf->quorum);
	node_lag(cl, idx);
	if (n->health == before)
		return false;
	node_changed(cl, idx);
	/* Observers looking via this node vote again (one pass: no cascade). */
	for (size_t j = 0; j < cl->conf->n_nodes; j++) {
		if (j == idx)
			continue;
		for (size_t p = 0; p < np; p++) {
			if (cl->conf->probes[p].via_node != (int)idx)
				continue;
			n = &cl->nodes[j];
			before = n->health;
			for (size_t q = 0; q < np; q++)
				votes[q] = observer_vote(cl, &cl->obs[j * np + q]);
			n->sdown = health_any_down(votes, np);
			n->health = health_combine(votes, np, (size_t)cl->conf->quorum);
			if (n->health != before)
				node_changed(cl, j);
			break;
		}
	}
	return true;
}

/*
 * vigil could not run the probe (no descriptor, memory, process): that is
 * vigil's fault, not the node's.  The observer keeps its rise/fall as it
 * was, status shows why, and the daemon goes into TILT rather than act on
 * a view it cannot refresh.
 */
static void obs_local_fault(struct mon_observer *o, const struct probe_result *res)
{
	struct mon_cluster *cl = o->cl;
	char what[320];

	o->last = *res;
	o->has_last = true;
	if (!cl->env.local_fault)
		return;
	snprintf(what, sizeof(what), "vigil cannot run its own probes (%s probe of %s/%s: %s)",
		 probe_type_name(o->conf->type), cl->conf->name, cl->nodes[o->node].conf->name,
		 res->detail);
	cl->env.local_fault(cl->env.idle_arg, what);
}

static void obs_done(void *arg, const struct probe_result *res)
{
	struct mon_observer *o = arg;
	struct mon_cluster *cl = o->cl;
	uint64_t elapsed = clock_mono_ms() - o->started_ms;

	if (res->status == PROBE_ERR_LOCAL) {
		obs_schedule(o, next_delay(o->conf->interval_ms, elapsed, o->conf->jitter_ms));
		obs_local_fault(o, res);
		return;
	}
	cl->nodes[o->node].last = *res;
	cl->nodes[o->node].has_last = true;
	o->last = *res;
	o->has_last = true;
	if (health_feed(&o->health, res->ok))
		vlog(VLOG_DEBUG, "monitor", "observer changed", "cluster", cl->conf->name,
		     "node", cl->nodes[o->node].conf->name, "probe", probe_type_name(o->conf->type),
		     "health", health_state_name(o->health.state), "detail", res->detail, NULL);
	/* Schedule before deciding: a failover must never stop the probing. */
	obs_schedule(o, next_delay(o->conf->interval_ms, elapsed, o->conf->jitter_ms));
	observer_node_update(cl, o->node);
	cluster_auto_rejoin(cl, o->node);
	/* Every result, not only changes: a cooldown that ran out is noticed here. */
	cluster_evaluate(cl);
}

static void obs_run(evutil_socket_t fd, short what, void *arg)
{
	struct mon_observer *o = arg;

	(void)fd;
	(void)what;
	o->started_ms = clock_mono_ms();
	if (probe_start(o->probe, obs_done, o) < 0)
		obs_schedule(o, o->conf->interval_ms); /* still running: try next interval */
}

int observer_init(struct mon_cluster *cl, struct mon_observer *o, size_t node, size_t p,
		  char *err, size_t errlen)
{
	struct probe_env penv = { cl->env.base, cl->env.curl, cl->env.children };
	const struct conf_cluster *cc = cl->conf;
	int via;

	o->cl = cl;
	o->node = node;
	o->conf = &cc->probes[p];
	via = o->conf->via_node;
	health_init(&o->health, o->conf->rise, o->conf->fall);
	o->timer = evtimer_new(cl->env.base, obs_run, o);
	if (!o->timer) {
		snprintf(err, errlen, "create probe timer: out of memory");
		return -1;
	}
	if (via >= 0 && (size_t)via == node)
		return 0; /* a node is not observed via itself: no probe, never a vote */
	o->probe = probe_new(&penv, o->conf, &cc->nodes[node], via >= 0 ? &cc->nodes[via] : NULL,
			     cc->name, err, errlen);
	return o->probe ? 0 : -1;
}

void observer_start(struct mon_observer *o)
{
	/* Spread first runs over one interval so N targets do not fire at once. */
	obs_schedule(o, jitter(o->conf->interval_ms));
}

void observer_free(struct mon_observer *o)
{
	probe_free(o->probe);
	if (o->timer)
		event_free(o->timer);
}
