/*
 * monitor/failover.c — carry out a decided failover as one job on the loop
 * (see failover.h).  Steps report back through callbacks; the job's record
 * (cl->fo, or cl->render for a plain render) is what status shows.
 */
#include "monitor/failover.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/template.h"
#include "common/log.h"
#include "monitor/decide.h"
#include "monitor/event.h"

static const char *node_name(const struct mon_cluster *cl, size_t i)
{
	return cl->nodes[i].conf->name;
}

static void job_start(struct mon_cluster *cl, struct mon_failover *job, size_t from, size_t to,
		      const char *reason, bool manual)
{
	memset(job, 0, sizeof(*job));
	job->result = FO_RUNNING;
	job->from = from;
	job->to = to;
	job->manual = manual;
	snprintf(job->reason, sizeof(job->reason), "%s", reason);
	clock_iso8601(job->started, sizeof(job->started));
	cl->job = job;
}

static void job_finish(struct mon_cluster *cl, bool ok, const char *error)
{
	struct mon_failover *job = cl->job;
	struct mon_event_info ev = { 0 };
	bool is_failover = job == &cl->fo;

	job->result = ok ? FO_OK : FO_FAILED;
	if (ok || !error)
		job->error[0] = '\0';
	else if (error != job->error)
		snprintf(job->error, sizeof(job->error), "%s", error);
	clock_iso8601(job->finished, sizeof(job->finished));
	cl->job = NULL;
	ev.old_primary = node_name(cl, job->from);
	ev.new_primary = node_name(cl, job->to);
	ev.reason = job->reason;
	ev.detail = ok ? NULL : job->error;
	ev.epoch = job->epoch;
	if (is_failover) {
		ev.event = ok ? "failover" : "failover_failed";
		cl->held = !ok;
		if (ok)
			cl->alerted_verdict = DECIDE_NOTHING;
		mon_event(cl, ok ? VLOG_NOTICE : VLOG_ERR, &ev);
	} else if (!ok) {
		ev.event = "reroute_failed";
		mon_event(cl, VLOG_ERR, &ev);
	} else {
		vlog(VLOG_INFO, "monitor", "balancers match the current roles", "cluster",
		     cl->conf->name, "primary", node_name(cl, cl->primary), NULL);
	}
	cluster_evaluate(cl);
	/* Last: the daemon may replace this cluster (a deferred reload) from here on. */
	if (!cl->job && cl->env.idle)
		cl->env.idle(cl->env.idle_arg);
}

static void balancer_done(void *arg, bool ok, const char *error)
{
	struct mon_cluster *cl = arg;
	struct mon_failover *job = cl->job;
	size_t used;

	if (!ok) {
		job->balancers_failed = true;
		used = strlen(job->error);
		snprintf(job->error + used, sizeof(job->error) - used, "%s%s", used ? "; " : "",
			 error ? error : "balancer failed");
	}
	if (--job->balancers_pending == 0)
		job_finish(cl, !job->balancers_failed, job->error);
}

/* Apply the current roles to every balancer; the last completion finishes the job. */
static void apply_balancers(struct mon_cluster *cl)
{
	struct mon_failover *job = cl->job;
	size_t n = cl->conf->n_balancers;
	char err[512];

	if (n == 0) {
		job_finish(cl, true, NULL);
		return;
	}
	job->balancers_pending = n + 1; /* +1 guards against finishing mid-loop */
	job->error[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (balancer_apply(cl->balancers[i], cl->conf, cl->primary, balancer_done, cl,
				   err, sizeof(err)) < 0)
			balancer_done(cl, false, err);
	}
	balancer_done(cl, true, NULL);
}

static void promote_done(void *arg, bool ok, const char *error)
{
	struct mon_cluster *cl = arg;
	struct mon_failover *job = cl->job;
	struct mon_event_info ev = { 0 };

	job->hook = NULL;
	if (!ok) {
		job_finish(cl, false, error ? error : "promote hook failed");
		return;
	}
	cl->epoch = job->epoch;
	cl->primary = job->to;
	ev.event = "promoted";
	ev.old_primary = node_name(cl, job->from);
	ev.new_primary = node_name(cl, job->to);
	ev.reason = job->reason;
	/*
	 * The node is promoted whatever happens next; if even this cannot be
	 * journaled a restart would not know it, so say so loudly and go on
	 * rerouting: leaving traffic on a dead primary helps nobody.
	 */
	if (mon_event(cl, VLOG_NOTICE, &ev) < 0)
		vlog(VLOG_ERR, "monitor", "promotion not journaled: a restart would not know it",
		     "cluster", cl->conf->name, "primary", ev.new_primary, NULL);
	apply_balancers(cl);
}

/* Run a hook of this failover: event "fence" acts on the old primary, "promote" on the new. */
static void run_hook(struct mon_cluster *cl, char *const *argv, const char *event,
		     act_done_fn done)
{
	struct mon_failover *job = cl->job;
	struct act_env aenv = { cl->env.base, cl->env.children };
	size_t node = strcmp(event, "fence") == 0 ? job->from : job->to;
	struct hook_ctx ctx = {
		.cluster = cl->conf->name, .event = event, .node = node_name(cl, node),
		.address = cl->nodes[node].conf->address, .old_primary = node_name(cl, job->from),
		.new_primary = node_name(cl, job->to), .reason = job->reason, .epoch = job->epoch,
	};
	char err[512];

	if (!argv) {
		done(cl, true, NULL);
		return;
	}
	job->hook = hook_run(&aenv, argv, &ctx, cl->conf->hooks.timeout_ms, done, cl, err,
			     sizeof(err));
	if (!job->hook)
		done(cl, false, err);
}

static void fence_done(void *arg, bool ok, const char *error)
{
	struct mon_cluster *cl = arg;
	struct mon_failover *job = cl->job;
	struct mon_event_info ev = { .old_primary = node_name(cl, job->from),
				     .new_primary = node_name(cl, job->to),
				     .reason = job->reason, .epoch = job->epoch };

	job->hook = NULL;
	if (!ok && cl->conf->hooks.fence_required) {
		job_finish(cl, false, error ? error : "fence hook failed");
		return;
	}
	if (ok && cl->conf->hooks.fence) {
		ev.event = "fenced";
		ev.node = ev.old_primary;
		if (mon_event(cl, VLOG_NOTICE, &ev) < 0) {
			job_finish(cl, false, "cannot journal the fencing: not promoting");
			return;
		}
	} else if (!ok) {
		vlog(VLOG_WARNING, "monitor", "fence hook failed; fence_required = false, promoting anyway",
		     "cluster", cl->conf->name, "node", ev.old_primary, "error", error, NULL);
	}
	run_hook(cl, cl->conf->hooks.promote, "promote", promote_done);
}

void failover_begin(struct mon_cluster *cl, size_t to, const char *reason, bool manual)
{
	struct mon_failover *job = &cl->fo;
	struct mon_event_info ev = { 0 };

	job_start(cl, job, cl->primary, to, reason, manual);
	job->epoch = cl->epoch + 1;
	cluster_note_failover(cl, manual);
	ev.event = "failover_started";
	ev.old_primary = node_name(cl, job->from);
	ev.new_primary = node_name(cl, to);
	ev.reason = reason;
	ev.epoch = job->epoch;
	/* The new epoch is durable before anything acts on it. */
	if (mon_event(cl, VLOG_WARNING, &ev) < 0) {
		job_finish(cl, false, "cannot journal the failover: not acting");
		return;
	}
	/* Fence the old primary first: two primaries at once is the outage to avoid. */
	run_hook(cl, cl->conf->hooks.fence, "fence", fence_done);
}

void failover_reroute(struct mon_cluster *cl, const char *reason)
{
	job_start(cl, &cl->render, cl->primary, cl->primary, reason, false);
	cl->render.epoch = cl->epoch;
	apply_balancers(cl);
}

void failover_abort(struct mon_cluster *cl)
{
	if (!cl->job)
		return;
	if (cl->job->hook)
		hook_cancel(cl->job->hook);
	cl->job->hook = NULL;
	cl->job->result = FO_FAILED;
	snprintf(cl->job->error, sizeof(cl->job->error), "aborted by shutdown or reload");
	cl->job = NULL;
}

/* One hook step of a plan: its argv expanded exactly as hook_run would. */
static json_t *plan_hook(const struct mon_cluster *cl, char *const *argv, const char *event,
			 size_t node, size_t from, size_t to, uint64_t epoch)
{
	char ep[24], err[256], **v;
	const struct tmpl_var vars[] = {
		{ "cluster", cl->conf->name }, { "node", node_name(cl, node) },
		{ "address", cl->nodes[node].conf->address },
		{ "old_primary", node_name(cl, from) }, { "new_primary", node_name(cl, to) },
		{ "epoch", ep },
	};
	json_t *args;

	snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
	v = tmpl_expand_argv(argv, vars, sizeof(vars) / sizeof(vars[0]), err, sizeof(err));
	args = json_array();
	for (size_t i = 0; v && args && v[i]; i++)
		json_array_append_new(args, json_string(v[i]));
	tmpl_argv_free(v);
	return json_pack("{s:s, s:s, s:o*}", "step", event, "node", node_name(cl, node),
			 "argv", args);
}

static json_t *failover_plan(const struct mon_cluster *cl, size_t to)
{
	uint64_t epoch = cl->epoch + 1;
	size_t from = cl->primary;
	json_t *steps = json_array();

	json_array_append_new(steps, json_pack("{s:s, s:I}", "step", "journal failover_started",
					       "epoch", (json_int_t)epoch));
	if (cl->conf->hooks.fence)
		json_array_append_new(steps, plan_hook(cl, cl->conf->hooks.fence, "fence", from,
						       from, to, epoch));
	if (cl->conf->hooks.promote)
		json_array_append_new(steps, plan_hook(cl, cl->conf->hooks.promote, "promote", to,
						       from, to, epoch));
	json_array_append_new(steps, json_pack("{s:s, s:I}", "step", "journal promoted",
					       "epoch", (json_int_t)epoch));
	for (size_t i = 0; i < cl->conf->n_balancers; i++)
		json_array_append_new(steps, json_pack("{s:s, s:s, s:s}", "step", "reroute",
			"balancer", balancer_describe(cl->balancers[i]), "primary", node_name(cl, to)));
	return json_pack("{s:s, s:b, s:I, s:s, s:s, s:o}", "cluster", cl->conf->name,
			 "dry_run", 1, "epoch", (json_int_t)epoch, "from", node_name(cl, from),
			 "to", node_name(cl, to), "steps", steps);
}

int failover_request(struct mon_cluster *cl, const char *to, json_t **plan, uint64_t *epoch,
		     char *err, size_t errlen, int *http_status)
{
	enum health_state h[CONF_MAX_NODES];
	struct decide_input in;
	char why[256];
	int target = -1;

	if (to) {
		target = conf_cluster_find_node(cl->conf, to);
		if (target < 0) {
			*http_status = 404;
			snprintf(err, errlen, "cluster %s has no node %s", cl->conf->name, to);
			return -1;
		}
	}
	cluster_decide_input(cl, h, &in);
	target = decide_manual(&in, target, why, sizeof(why), http_status);
	if (target < 0) {
		snprintf(err, errlen, "cannot fail over %s%s%s: %s", cl->conf->name,
			 to ? " to " : "", to ? to : "", why);
		return -1;
	}
	if (plan) {
		*plan = failover_plan(cl, (size_t)target);
		*epoch = cl->epoch + 1;
		if (!*plan) {
			*http_status = 500;
			snprintf(err, errlen, "cannot build the plan: out of memory");
			return -1;
		}
		return 0;
	}
	failover_begin(cl, (size_t)target, "operator request", true);
	*epoch = cl->fo.epoch;
	return 0;
}
