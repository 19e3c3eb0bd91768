/*
 * monitor/cluster.c — a cluster at run time: its lifecycle (new, inherit
 * across a reload, recover from the journal, start, free), the facts the
 * decision needs, and node readmission (see cluster.h).  Observers live in
 * observer.c, the state machine in machine.c, the steps in failover.c.
 */
#include "monitor/cluster.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/event.h"
#include "monitor/failover.h"
#include "monitor/journal_roles.h"
#include "monitor/machine.h"
#include "monitor/observer.h"
#include "monitor/recover.h"

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
 * UP with a quorum of votes whose latest result passed.  A standby whose
 * observers have started failing is still UP by rise/fall but may be dying
 * with the primary (a shared cause, or vigil's own network): never promote it.
 */
static bool node_clean_up(const struct mon_cluster *cl, size_t node)
{
	size_t np = cl->conf->n_probes, clean = 0;
	size_t quorum = cl->conf->quorum > 0 ? (size_t)cl->conf->quorum : health_majority(np);

	for (size_t p = 0; p < np; p++) {
		const struct mon_observer *o = &cl->obs[node * np + p];

		clean += observer_vote(cl, o) == HEALTH_UP && o->health.fail_run == 0;
	}
	return clean >= quorum;
}

void cluster_decide_input(const struct mon_cluster *cl, struct decide_buf *buf,
			  struct decide_input *in)
{
	uint64_t now = clock_mono_ms();
	const struct mon_node *p = &cl->nodes[cl->primary], *pref = &cl->nodes[cl->preferred];

	for (size_t i = 0; i < cl->conf->n_nodes; i++) {
		buf->health[i] = cl->nodes[i].health;
		buf->lag[i] = cl->nodes[i].lag;
		buf->priority[i] = cl->nodes[i].conf->priority;
		if (i != cl->primary && buf->health[i] == HEALTH_UP && !node_clean_up(cl, i))
			buf->health[i] = HEALTH_UNKNOWN; /* for this decision only; status shows UP */
	}
	*in = (struct decide_input){
		.health = buf->health, .n_nodes = cl->conf->n_nodes, .primary = cl->primary,
		.out = cl->out, .lag = buf->lag, .priority = buf->priority, .check_lag = cl->conf->has_max_lag,
		.max_lag = cl->conf->max_lag, .primary_sdown = p->sdown,
		.delay_over = p->health == HEALTH_DOWN &&
			      now - p->down_ms >= cl->conf->failover_delay_ms,
		.cooling_down = cl->last_failover_ms != 0 &&
				now - cl->last_failover_ms < cl->conf->cooldown_ms,
		.over_limit = recent_failovers(cl, now) >= (size_t)cl->conf->max_failovers,
		.preferred = cl->preferred,
	};
	in->failback_due = cl->conf->failback_after_ms > 0 && pref->health == HEALTH_UP &&
			   now - pref->up_ms >= cl->conf->failback_after_ms;
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

/* ---- readmission of fenced nodes ---- */

static void rejoin(struct mon_cluster *cl, size_t idx, const char *reason)
{
	struct mon_event_info ev = { .event = "rejoined", .node = cl->nodes[idx].conf->name,
				     .reason = reason };

	if (mon_event(cl, VLOG_NOTICE, &ev) < 0)
		return; /* not journaled: a restart would fence it again, so do not readmit */
	cl->out[idx] = false;
	failover_reroute(cl, "rejoin: readmit the node as a standby");
}

int cluster_rejoin(struct mon_cluster *cl, const char *node, const char *reason, char *err,
		   size_t errlen, enum refusal *refusal)
{
	int idx = conf_cluster_find_node(cl->conf, node);

	*refusal = REFUSED_NOT_NOW;
	if (idx < 0) {
		*refusal = REFUSED_UNKNOWN;
		snprintf(err, errlen, "cluster %s has no node %s", cl->conf->name, node);
	} else if (!cl->out[idx]) {
		snprintf(err, errlen, "node %s is not fenced: nothing to readmit", node);
	} else if (cl->job || fsm_state_busy(cl->state)) {
		snprintf(err, errlen, "a failover or render is running: try again when it ends");
	} else if (cl->state == ST_HELD) {
		snprintf(err, errlen, "cluster %s is held: vigilctl resolve it first", cl->conf->name);
	} else {
		rejoin(cl, (size_t)idx, reason);
		return 0;
	}
	return -1;
}

void cluster_auto_rejoin(struct mon_cluster *cl, size_t idx)
{
	const struct mon_node *n = &cl->nodes[idx];

	if (!cl->out[idx] || cl->conf->rejoin_after_ms == 0 || n->health != HEALTH_UP ||
	    cl->job || fsm_state_busy(cl->state) || cl->state == ST_PAUSED || cl->state == ST_HELD ||
	    clock_mono_ms() - n->up_ms < cl->conf->rejoin_after_ms)
		return;
	rejoin(cl, idx, "up for rejoin_after");
}

/* ---- lifecycle ---- */

static void retry_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	machine_retry(arg);
}

static void hold_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	machine_hold_alert(arg);
}

static int cluster_init_actions(struct mon_cluster *cl, char *err, size_t errlen)
{
	struct act_env aenv = { cl->env.base, cl->env.children };
	size_t nb = cl->conf->n_balancers ? cl->conf->n_balancers : 1;

	cl->balancers = calloc(nb, sizeof(*cl->balancers));
	cl->bal_slots = calloc(nb, sizeof(*cl->bal_slots));
	cl->retry_timer = evtimer_new(cl->env.base, retry_due, cl);
	cl->hold.realert = evtimer_new(cl->env.base, hold_due, cl);
	if (!cl->balancers || !cl->bal_slots || !cl->retry_timer || !cl->hold.realert) {
		snprintf(err, errlen, "cluster %s: out of memory", cl->conf->name);
		return -1;
	}
	for (size_t i = 0; i < cl->conf->n_balancers; i++) {
		cl->bal_slots[i] = (struct bal_slot){ .cl = cl, .idx = i };
		cl->balancers[i] = balancer_new(&aenv, &cl->conf->balancers[i], err, errlen);
		if (!cl->balancers[i])
			return -1;
	}
	cl->alerter = alerter_new(cl->env.base, cl->env.curl, cl->env.children, cl->conf->alerts,
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
	machine_init(cl);
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
		cl->nodes[i].lag = DECIDE_NO_LAG;
		clock_iso8601(cl->nodes[i].since, sizeof(cl->nodes[i].since));
		if (conf->nodes[i].role == CONF_ROLE_PRIMARY)
			cl->primary = cl->preferred = i;
		for (size_t p = 0; p < np; p++)
			if (observer_init(cl, &cl->obs[i * np + p], i, p, err, errlen) < 0)
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
	return a->type == b->type && a->rise == b->rise && a->fall == b->fall &&
	       a->via_node == b->via_node && a->lag == b->lag;
}

static void inherit_node(struct mon_cluster *cl, size_t i, const struct mon_cluster *old, size_t oi)
{
	size_t np = cl->conf->n_probes, onp = old->conf->n_probes;
	struct mon_node *n = &cl->nodes[i];
	const struct mon_node *o = &old->nodes[oi];

	for (size_t p = 0; p < np && p < onp; p++) {
		if (same_probe(&cl->conf->probes[p], &old->conf->probes[p])) {
			cl->obs[i * np + p].health = old->obs[oi * onp + p].health;
			cl->obs[i * np + p].last = old->obs[oi * onp + p].last;
			cl->obs[i * np + p].has_last = old->obs[oi * onp + p].has_last;
		}
	}
	n->last = o->last;
	n->has_last = o->has_last;
	/* Recombined from the inherited observers; keep 'since' only if it holds. */
	n->health = o->health;
	memcpy(n->since, o->since, sizeof(n->since));
	n->up_ms = o->up_ms;
	n->down_ms = o->down_ms;
	cl->out[i] = old->out[oi];
}

void cluster_inherit(struct mon_cluster *cl, const struct mon_cluster *old)
{
	for (size_t i = 0; i < cl->conf->n_nodes; i++) {
		int oi = conf_cluster_find_node(old->conf, cl->conf->nodes[i].name);

		if (oi >= 0 && strcmp(old->conf->nodes[oi].address, cl->conf->nodes[i].address) == 0)
			inherit_node(cl, i, old, (size_t)oi);
	}
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		if (observer_node_update(cl, i))
			vlog(VLOG_INFO, "monitor", "node health re-derived after reload", "cluster",
			     cl->conf->name, "node", cl->nodes[i].conf->name, NULL);
	/* The running roles, in case the journal cannot be trusted on this reload. */
	int op = conf_cluster_find_node(cl->conf, old->nodes[old->primary].conf->name);

	if (op >= 0)
		cl->primary = (size_t)op;
	cl->epoch = old->epoch;
	memcpy(cl->hold.why, old->hold.why, sizeof(cl->hold.why));
	machine_inherit(cl, old);
	cl->alerted_hold = old->alerted_hold;
	cl->incident = old->incident;
	cl->incident_epoch = old->incident_epoch;
	alerter_inherit(cl->alerter, old->alerter);
	cl->retries_done = old->retries_done;
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
	if (cl->state == ST_FAILED && cl->retries_done < cl->conf->retries)
		machine_retry_arm(cl);
}

/* Wall-clock failover starts from the journal, back onto the monotonic clock. */
static void recover_history(struct mon_cluster *cl, const struct journal_roles *r)
{
	uint64_t now = clock_mono_ms(), wall = clock_real_ms();

	for (size_t i = 0; i < r->n_auto; i++) {
		uint64_t ago = wall > r->auto_wall_ms[i] ? wall - r->auto_wall_ms[i] : 0;

		if (ago < now && ago < cl->conf->failover_window_ms)
			cl->auto_ms[cl->n_auto++] = now - ago;
	}
	if (r->last_wall_ms && wall >= r->last_wall_ms && wall - r->last_wall_ms < now)
		cl->last_failover_ms = now - (wall - r->last_wall_ms);
}

static void cluster_recover(struct mon_cluster *cl, const struct journal_roles *r)
{
	int idx;

	cl->epoch = r->epoch;
	if (r->primary[0]) {
		idx = conf_cluster_find_node(cl->conf, r->primary);
		if (idx < 0)
			vlog(VLOG_WARNING, "monitor", "journaled primary is not in the config; using the config's",
			     "cluster", cl->conf->name, "journaled_primary", r->primary, NULL);
		else if ((size_t)idx != cl->primary)
			vlog(VLOG_NOTICE, "monitor", "recovered primary from the journal", "cluster",
			     cl->conf->name, "primary", r->primary, NULL);
		if (idx >= 0)
			cl->primary = (size_t)idx;
	}
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		cl->out[i] = i != cl->primary && journal_roles_is_out(r, cl->nodes[i].conf->name);
	recover_history(cl, r);
	/* Where the journal left the cluster (a reload's inherited state already is there). */
	if (r->paused)
		machine_fire(cl, EV_RECOVER_PAUSED, cl->primary,
			     "recovered from the journal: the operator paused it");
	else if (r->failed)
		machine_fire(cl, EV_RECOVER_FAILED, cl->primary,
			     "recovered from the journal: a failover failed and nobody resumed");
}

/*
 * The journal may not be trusted (recover.h): serve what the balancers
 * serve, take no action.  At start-up the cluster is held; on a reload the
 * running roles stand (they were right when the journal was read last) and
 * the damage is alerted, so that the next start does not surprise anyone.
 */
static void hold(struct mon_cluster *cl, const struct journal_roles *r,
		 const struct recover_mark *marks, const char *why)
{
	struct recover_evidence ev;
	struct mon_event_info info = { .event = "journal_damaged", .reason = why };

	if (cl->state != ST_STARTING && cl->state != ST_HELD) {
		mon_event(cl, VLOG_ERR, &info);
		return;
	}
	recover_evidence(cl->conf, r, marks, cl->conf->n_balancers, &ev);
	snprintf(cl->hold.why, sizeof(cl->hold.why), "%s", why);
	memcpy(cl->hold.named, ev.named, sizeof(cl->hold.named));
	cl->hold.trust_out = !r->damaged;
	cl->hold.epoch = ev.epoch;
	cl->epoch = ev.epoch;
	if (ev.likely >= 0)
		cl->primary = (size_t)ev.likely;
	for (size_t i = 0; cl->hold.trust_out && i < cl->conf->n_nodes; i++)
		cl->out[i] = i != cl->primary && journal_roles_is_out(r, cl->nodes[i].conf->name);
	if (cl->state == ST_HELD)
		machine_hold_alert(cl); /* a reload of a held cluster: alert on, from here */
	else
		machine_fire(cl, EV_HOLD, cl->primary, why);
}

/* Is the journal to be trusted?  NULL when yes, else why not (in buf). */
static const char *journal_doubt(struct mon_cluster *cl, const struct journal_roles *r,
				 struct recover_mark *marks, char *buf, size_t len)
{
	const char *sources[CONF_MAX_BALANCERS];

	for (size_t i = 0; i < cl->conf->n_balancers; i++)
		sources[i] = balancer_describe(cl->balancers[i]);
	recover_read_marks(cl->conf, sources, marks);
	return recover_conflict(cl->conf, r, marks, cl->conf->n_balancers, buf, len);
}

void cluster_start(struct mon_cluster *cl, const struct journal_roles *roles)
{
	struct recover_mark marks[CONF_MAX_BALANCERS];
	char why[320];

	if (journal_doubt(cl, roles, marks, why, sizeof(why))) {
		hold(cl, roles, marks, why);
	} else {
		cluster_recover(cl, roles);
		if (!machine_recover(cl, roles))
			failover_reroute(cl, "start-up: render current roles");
	}
	for (size_t i = 0; i < cl->n_obs; i++)
		observer_start(&cl->obs[i]);
}

void cluster_free(struct mon_cluster *cl)
{
	if (!cl)
		return;
	failover_abort(cl);
	for (size_t i = 0; cl->obs && i < cl->n_obs; i++)
		observer_free(&cl->obs[i]);
	for (size_t i = 0; cl->balancers && i < cl->conf->n_balancers; i++)
		balancer_free(cl->balancers[i]);
	if (cl->retry_timer)
		event_free(cl->retry_timer);
	if (cl->hold.realert)
		event_free(cl->hold.realert);
	alerter_free(cl->alerter);
	free(cl->balancers);
	free(cl->bal_slots);
	free(cl->obs);
	free(cl->nodes);
	free(cl);
}

const char *cluster_state_name(const struct mon_cluster *cl)
{
	return fsm_state_name(cl->state);
}

/*
 * The roles as the fields of a checkpoint: primary, paused, failed, the
 * fenced nodes and (with history) the recent failovers, whose monotonic
 * times do not survive a restart and are stored as wall-clock ms.
 */
static json_t *roles_fields(const struct mon_cluster *cl, size_t primary, const bool *out,
			    bool paused, bool failed, bool history)
{
	uint64_t mono = clock_mono_ms(), wall = clock_real_ms();
	json_t *fenced = json_array(), *hist = json_array();

	for (size_t i = 0; fenced && i < cl->conf->n_nodes; i++)
		if (out[i])
			json_array_append_new(fenced, json_string(cl->nodes[i].conf->name));
	for (size_t i = 0; history && hist && i < cl->n_auto; i++)
		json_array_append_new(hist, json_integer((json_int_t)(wall - (mono - cl->auto_ms[i]))));
	return json_pack("{s:s, s:b, s:b, s:o, s:o, s:I}", "primary",
			 cl->nodes[primary].conf->name, "paused", paused, "failed", failed,
			 "out", fenced, "auto_wall_ms", hist, "last_wall_ms",
			 (json_int_t)(history && cl->last_failover_ms ?
				      wall - (mono - cl->last_failover_ms) : 0));
}

json_t *cluster_checkpoint(const struct mon_cluster *cl)
{
	json_t *rec, *roles;
	char ts[40];

	clock_iso8601(ts, sizeof(ts));
	rec = json_pack("{s:s, s:s, s:I, s:s}", "ts", ts, "cluster", cl->conf->name, "epoch",
			(json_int_t)cl->epoch, "event", "checkpoint");
	roles = roles_fields(cl, cl->primary, cl->out, cl->state == ST_PAUSED,
			     cl->state == ST_FAILED, true);
	if (!rec || !roles || json_object_update(rec, roles) < 0) {
		json_decref(rec);
		rec = NULL;
	}
	json_decref(roles);
	return rec;
}

int cluster_resolve(struct mon_cluster *cl, const char *node, const char *reason, char *err,
		    size_t errlen, enum refusal *refusal)
{
	int idx = conf_cluster_find_node(cl->conf, node);
	struct mon_event_info ev = { .event = "hold_resolved", .new_primary = node,
				     .reason = reason, .epoch = cl->hold.epoch + 1 };
	bool out[CONF_MAX_NODES];
	json_t *fields;
	int rc;

	*refusal = REFUSED_UNKNOWN;
	if (idx < 0) {
		snprintf(err, errlen, "cluster %s has no node %s", cl->conf->name, node);
		return -1;
	}
	*refusal = REFUSED_NOT_NOW;
	if (cl->state != ST_HELD) {
		snprintf(err, errlen, "cluster %s is not held (it is %s): nothing to resolve",
			 cl->conf->name, cluster_state_name(cl));
		return -1;
	}
	/* Whoever else was named primary may still think it is one: fenced. */
	for (size_t i = 0; i < cl->conf->n_nodes; i++)
		out[i] = (int)i != idx && (cl->hold.named[i] || (cl->hold.trust_out && cl->out[i]));
	if (!(fields = roles_fields(cl, (size_t)idx, out, false, false, false))) {
		*refusal = REFUSED_FAULT;
		snprintf(err, errlen, "resolve: out of memory");
		return -1;
	}
	ev.fields = fields;
	rc = mon_event(cl, VLOG_NOTICE, &ev);
	json_decref(fields);
	if (rc < 0) {
		*refusal = REFUSED_FAULT;
		snprintf(err, errlen, "cannot journal the resolution: nothing changed");
		return -1;
	}
	/* A new epoch: the balancers' marks now tell this decision from all before it. */
	cl->epoch = ev.epoch;
	cl->primary = (size_t)idx;
	memcpy(cl->out, out, sizeof(cl->out));
	machine_fire(cl, EV_RESOLVE, (size_t)idx, reason);
	return 0;
}
