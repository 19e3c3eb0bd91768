/*
 * monitor/cluster.c — a cluster at run time: schedule every observer's
 * probe, fold results into rise/fall, combine observers into node health,
 * and after every change ask decide() (see cluster.h).
 */
#include "monitor/cluster.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/decide.h"
#include "monitor/event.h"
#include "monitor/failover.h"
#include "monitor/journal.h"

static void obs_run(evutil_socket_t fd, short what, void *arg);

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

	evtimer_add(o->timer, &tv);
}

int cluster_set_paused(struct mon_cluster *cl, bool paused, const char *reason)
{
	struct mon_event_info ev = { 0 };

	if (cl->paused == paused && !(!paused && cl->held))
		return 0;
	ev.event = paused ? "paused" : "resumed";
	ev.reason = reason;
	/* Journaled first: a restart must come back paused (or not) as the operator left it. */
	if (mon_event(cl, VLOG_NOTICE, &ev) < 0)
		return -1;
	cl->paused = paused;
	if (!paused) {
		/* Resuming acknowledges what happened: the anti-flap history starts over. */
		cl->held = false;
		cl->n_auto = 0;
		cl->alerted_verdict = DECIDE_NOTHING;
		cluster_evaluate(cl);
	}
	return 0;
}

static void cluster_health_vector(const struct mon_cluster *cl, enum health_state *out)
{
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		out[i] = cl->nodes[i].health;
}

/* How many automatic failovers started within the window, up to now. */
static size_t recent_failovers(const struct mon_cluster *cl, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < cl->n_auto; i++)
		if (now - cl->auto_ms[i] < cl->conf->failover_window_ms)
			n++;
	return n;
}

/*
 * UP with a quorum of observers whose latest result passed.  A standby whose
 * observers have started failing is still UP by rise/fall but may be dying
 * with the primary (a shared cause, or vigil's own network): never promote it.
 */
static bool node_clean_up(const struct mon_cluster *cl, size_t node)
{
	size_t np = cl->conf->n_probes, clean = 0;
	size_t quorum = cl->conf->quorum > 0 ? (size_t)cl->conf->quorum : health_majority(np);

	for (size_t p = 0; p < np; p++) {
		const struct health *h = &cl->obs[node * np + p].health;

		clean += h->state == HEALTH_UP && h->fail_run == 0;
	}
	return clean >= quorum;
}

void cluster_decide_input(const struct mon_cluster *cl, enum health_state *h,
			  struct decide_input *in)
{
	uint64_t now = clock_mono_ms();

	cluster_health_vector(cl, h);
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		if (i != cl->primary && h[i] == HEALTH_UP && !node_clean_up(cl, i))
			h[i] = HEALTH_UNKNOWN; /* for this decision only; status shows UP */
	*in = (struct decide_input){
		.health = h, .n_nodes = cl->conf->n_nodes, .primary = cl->primary,
		.busy = cl->job != NULL, .held = cl->held, .paused = cl->paused,
		.tilt = cl->env.tilt && *cl->env.tilt,
		.cooling_down = cl->last_failover_ms != 0 &&
				now - cl->last_failover_ms < cl->conf->cooldown_ms,
		.over_limit = recent_failovers(cl, now) >= (size_t)cl->conf->max_failovers,
		.preferred = cl->preferred,
	};
	in->failback_due = cl->conf->failback_after_ms > 0 &&
			   cl->nodes[cl->preferred].health == HEALTH_UP &&
			   now - cl->nodes[cl->preferred].up_ms >= cl->conf->failback_after_ms;
}

void cluster_note_failover(struct mon_cluster *cl, bool manual)
{
	uint64_t now = clock_mono_ms();

	cl->last_failover_ms = now ? now : 1;
	if (manual)
		return;
	if (cl->n_auto < CONF_MAX_FAILOVERS) {
		cl->auto_ms[cl->n_auto++] = now;
		return;
	}
	memmove(cl->auto_ms, cl->auto_ms + 1, sizeof(cl->auto_ms) - sizeof(cl->auto_ms[0]));
	cl->auto_ms[CONF_MAX_FAILOVERS - 1] = now;
}

/* Alert a verdict that holds a down primary back, once per primary-down episode. */
static void alert_once(struct mon_cluster *cl, const struct decision *d)
{
	struct mon_event_info ev = { 0 };
	bool limit = d->verdict == DECIDE_LIMIT;

	if (cl->alerted_verdict == d->verdict)
		return;
	cl->alerted_verdict = d->verdict;
	ev.event = decide_verdict_name(d->verdict);
	ev.old_primary = cl->nodes[cl->primary].conf->name;
	if (d->verdict != DECIDE_NO_CANDIDATE)
		ev.new_primary = cl->nodes[d->target].conf->name;
	ev.reason = d->reason;
	if (mon_event(cl, VLOG_ERR, &ev) == 0 && limit)
		cluster_set_paused(cl, true, "max_failovers reached in failover_window");
}

void cluster_evaluate(struct mon_cluster *cl)
{
	enum health_state h[CONF_MAX_NODES];
	struct decide_input in;
	struct decision d;

	cluster_decide_input(cl, h, &in);
	d = decide(&in);
	if (h[cl->primary] == HEALTH_UP)
		cl->alerted_verdict = DECIDE_NOTHING;
	switch (d.verdict) {
	case DECIDE_FAILOVER:
		failover_begin(cl, d.target, d.reason, false);
		break;
	case DECIDE_NO_CANDIDATE:
	case DECIDE_SUPPRESSED:
	case DECIDE_LIMIT:
		alert_once(cl, &d);
		break;
	case DECIDE_NOTHING:
		break;
	}
}

/* Recombine a node's observers; emit node_up/node_down on a change. */
static bool node_update(struct mon_cluster *cl, size_t idx)
{
	struct mon_node *n = &cl->nodes[idx];
	size_t np = cl->conf->n_probes;
	enum health_state obs[CONF_MAX_PROBES], before = n->health;
	struct mon_event_info ev = { 0 };

	for (size_t p = 0; p < np; p++)
		obs[p] = cl->obs[idx * np + p].health.state;
	n->sdown = health_any_down(obs, np);
	n->health = health_combine(obs, np, (size_t)cl->conf->quorum);
	if (n->health == before)
		return false;
	clock_iso8601(n->since, sizeof(n->since));
	ev.node = n->conf->name;
	ev.detail = n->has_last ? n->last.detail : NULL;
	if (n->health == HEALTH_DOWN) {
		n->down_ms = clock_mono_ms();
		ev.event = "node_down";
		ev.reason = "fall threshold reached";
		mon_event(cl, VLOG_WARNING, &ev);
		if (cl->env.node_down)
			cl->env.node_down(cl->env.idle_arg);
	} else if (n->health == HEALTH_UP) {
		n->up_ms = clock_mono_ms();
		ev.event = "node_up";
		ev.reason = "rise threshold reached";
		mon_event(cl, VLOG_NOTICE, &ev);
	}
	return true;
}

static void obs_done(void *arg, const struct probe_result *res)
{
	struct mon_observer *o = arg;
	struct mon_cluster *cl = o->cl;
	uint64_t elapsed = clock_mono_ms() - o->started_ms;
	uint64_t interval = o->conf->interval_ms;

	cl->nodes[o->node].last = *res;
	cl->nodes[o->node].has_last = true;
	o->last = *res;
	o->has_last = true;
	if (health_feed(&o->health, res->ok))
		vlog(VLOG_DEBUG, "monitor", "observer changed", "cluster", cl->conf->name,
		     "node", cl->nodes[o->node].conf->name, "probe", probe_type_name(o->conf->type),
		     "health", health_state_name(o->health.state), "detail", res->detail, NULL);
	/* Schedule before deciding: a failover must never stop the probing. */
	obs_schedule(o, next_delay(interval, elapsed, o->conf->jitter_ms));
	node_update(cl, o->node);
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

static int obs_init(struct mon_cluster *cl, struct mon_observer *o, size_t node, size_t p,
		    char *err, size_t errlen)
{
	struct probe_env penv = { cl->env.base, cl->env.curl, cl->env.children };

	o->cl = cl;
	o->node = node;
	o->conf = &cl->conf->probes[p];
	health_init(&o->health, o->conf->rise, o->conf->fall);
	o->timer = evtimer_new(cl->env.base, obs_run, o);
	if (!o->timer) {
		snprintf(err, errlen, "create probe timer: out of memory");
		return -1;
	}
	o->probe = probe_new(&penv, o->conf, &cl->conf->nodes[node], cl->conf->name, err, errlen);
	return o->probe ? 0 : -1;
}

static int cluster_init_actions(struct mon_cluster *cl, char *err, size_t errlen)
{
	struct act_env aenv = { cl->env.base, cl->env.children };

	cl->balancers = calloc(cl->conf->n_balancers ? cl->conf->n_balancers : 1,
			       sizeof(*cl->balancers));
	if (!cl->balancers) {
		snprintf(err, errlen, "cluster %s: out of memory", cl->conf->name);
		return -1;
	}
	for (size_t i = 0; i < cl->conf->n_balancers; i++) {
		cl->balancers[i] = balancer_new(&aenv, &cl->conf->balancers[i], err, errlen);
		if (!cl->balancers[i])
			return -1;
	}
	cl->alerter = alerter_new(cl->env.base, cl->env.curl, cl->conf->alerts,
				  cl->conf->n_alerts, err, errlen);
	return cl->alerter ? 0 : -1;
}

struct mon_cluster *cluster_new(const struct mon_env *env, const struct conf_cluster *conf,
				char *err, size_t errlen)
{
	struct mon_cluster *cl = calloc(1, sizeof(*cl));
	size_t np = conf->n_probes;

	if (!cl) {
		snprintf(err, errlen, "cluster %s: out of memory", conf->name);
		return NULL;
	}
	cl->conf = conf;
	cl->env = *env;
	cl->n_obs = conf->n_nodes * np;
	cl->nodes = calloc(conf->n_nodes, sizeof(*cl->nodes));
	cl->obs = calloc(cl->n_obs ? cl->n_obs : 1, sizeof(*cl->obs));
	if (!cl->nodes || !cl->obs) {
		snprintf(err, errlen, "cluster %s: out of memory", conf->name);
		goto fail;
	}
	for (size_t i = 0; i < conf->n_nodes; i++) {
		cl->nodes[i].conf = &conf->nodes[i];
		cl->nodes[i].health = HEALTH_UNKNOWN;
		clock_iso8601(cl->nodes[i].since, sizeof(cl->nodes[i].since));
		if (conf->nodes[i].role == CONF_ROLE_PRIMARY)
			cl->primary = cl->preferred = i;
		for (size_t p = 0; p < np; p++)
			if (obs_init(cl, &cl->obs[i * np + p], i, p, err, errlen) < 0)
				goto fail;
	}
	if (cluster_init_actions(cl, err, errlen) < 0)
		goto fail;
	return cl;
fail:
	cluster_free(cl);
	return NULL;
}

static bool same_probe(const struct conf_probe *a, const struct conf_probe *b)
{
	return a->type == b->type && a->rise == b->rise && a->fall == b->fall;
}

void cluster_inherit(struct mon_cluster *cl, const struct mon_cluster *old)
{
	size_t np = cl->conf->n_probes, onp = old->conf->n_probes;

	for (size_t i = 0; i < cl->conf->n_nodes; i++) {
		int oi = conf_cluster_find_node(old->conf, cl->conf->nodes[i].name);

		if (oi < 0 || strcmp(old->conf->nodes[oi].address, cl->conf->nodes[i].address) != 0)
			continue;
		for (size_t p = 0; p < np && p < onp; p++) {
			if (same_probe(&cl->conf->probes[p], &old->conf->probes[p]))
				cl->obs[i * np + p].health = old->obs[(size_t)oi * onp + p].health;
		}
		cl->nodes[i].last = old->nodes[oi].last;
		cl->nodes[i].has_last = old->nodes[oi].has_last;
		/* Recombined from the inherited observers; keep 'since' only if it holds. */
		cl->nodes[i].health = old->nodes[oi].health;
		memcpy(cl->nodes[i].since, old->nodes[oi].since, sizeof(cl->nodes[i].since));
		cl->nodes[i].up_ms = old->nodes[oi].up_ms;
		cl->nodes[i].down_ms = old->nodes[oi].down_ms;
		if (node_update(cl, i))
			vlog(VLOG_INFO, "monitor", "node health re-derived after reload", "cluster",
			     cl->conf->name, "node", cl->nodes[i].conf->name, NULL);
	}
	cl->held = old->held;
	cl->paused = old->paused;
	cl->alerted_verdict = old->alerted_verdict;
	cl->last_failover_ms = old->last_failover_ms;
	cl->n_auto = old->n_auto;
	memcpy(cl->auto_ms, old->auto_ms, sizeof(cl->auto_ms));
	if (old->fo.result != FO_NONE && old->fo.from < cl->conf->n_nodes &&
	    old->fo.to < cl->conf->n_nodes &&
	    strcmp(old->nodes[old->fo.from].conf->name, cl->nodes[old->fo.from].conf->name) == 0 &&
	    strcmp(old->nodes[old->fo.to].conf->name, cl->nodes[old->fo.to].conf->name) == 0) {
		cl->fo = old->fo;
		cl->fo.hook = NULL;
	}
}

/* A failover that started but never recorded an outcome: vigil died mid-way. */
static void cluster_hold_interrupted(struct mon_cluster *cl, const struct journal_roles *roles)
{
	struct mon_event_info ev = { 0 };
	int to = conf_cluster_find_node(cl->conf, roles->interrupted_to);
	char why[256];

	/*
	 * The promote hook may or may not have run to the end: running it again
	 * could promote twice, so hold the cluster and let the operator decide.
	 */
	snprintf(why, sizeof(why), "vigil stopped during the failover of epoch %llu to %s; "
		 "check that node, then run vigilctl failover",
		 (unsigned long long)roles->interrupted_epoch, roles->interrupted_to);
	cl->held = true;
	cl->fo = (struct mon_failover){ .result = FO_FAILED, .epoch = roles->interrupted_epoch,
					.from = cl->primary, .to = to >= 0 ? (size_t)to : cl->primary };
	snprintf(cl->fo.reason, sizeof(cl->fo.reason), "interrupted");
	snprintf(cl->fo.error, sizeof(cl->fo.error), "%s", why);
	clock_iso8601(cl->fo.finished, sizeof(cl->fo.finished));
	ev.event = "failover_interrupted";
	ev.new_primary = roles->interrupted_to;
	ev.old_primary = cl->nodes[cl->primary].conf->name;
	ev.reason = why;
	mon_event(cl, VLOG_ERR, &ev);
}

static void cluster_recover(struct mon_cluster *cl, const struct journal_roles *roles)
{
	int idx;

	cl->epoch = roles->epoch;
	if (roles->primary[0]) {
		idx = conf_cluster_find_node(cl->conf, roles->primary);
		if (idx < 0)
			vlog(VLOG_WARNING, "monitor", "journaled primary is not in the config; using the config's",
			     "cluster", cl->conf->name, "journaled_primary", roles->primary, NULL);
		else if ((size_t)idx != cl->primary)
			vlog(VLOG_NOTICE, "monitor", "recovered primary from the journal", "cluster",
			     cl->conf->name, "primary", roles->primary, NULL);
		if (idx >= 0)
			cl->primary = (size_t)idx;
	}
	cl->paused = roles->paused;
	cl->held = roles->held;
	if (cl->paused)
		vlog(VLOG_NOTICE, "monitor", "cluster stays paused (journal)", "cluster",
		     cl->conf->name, NULL);
	if (roles->interrupted)
		cluster_hold_interrupted(cl, roles);
}

void cluster_start(struct mon_cluster *cl, const struct journal_roles *roles)
{
	cluster_recover(cl, roles);
	failover_reroute(cl, "start-up: render current roles");
	/* Spread first runs over one interval so N targets do not fire at once. */
	for (size_t i = 0; i < cl->n_obs; i++)
		obs_schedule(&cl->obs[i], jitter(cl->obs[i].conf->interval_ms));
}

void cluster_free(struct mon_cluster *cl)
{
	if (!cl)
		return;
	failover_abort(cl);
	for (size_t i = 0; cl->obs && i < cl->n_obs; i++) {
		probe_free(cl->obs[i].probe);
		if (cl->obs[i].timer)
			event_free(cl->obs[i].timer);
	}
	for (size_t i = 0; cl->balancers && i < cl->conf->n_balancers; i++)
		balancer_free(cl->balancers[i]);
	alerter_free(cl->alerter);
	free(cl->balancers);
	free(cl->obs);
	free(cl->nodes);
	free(cl);
}

const char *cluster_state_name(const struct mon_cluster *cl)
{
	enum health_state ph = cl->nodes[cl->primary].health;

	if (cl->job == &cl->fo)
		return "failing_over";
	if (cl->env.tilt && *cl->env.tilt)
		return "tilt";
	if (cl->paused)
		return "paused";
	if (cl->held)
		return "failed";
	if (ph == HEALTH_DOWN)
		return "down";
	if (ph == HEALTH_UNKNOWN)
		return "starting";
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		if (i != cl->primary && cl->nodes[i].health != HEALTH_UP)
			return "degraded";
	return "healthy";
}
