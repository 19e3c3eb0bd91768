/*
 * monitor/failover.c — the steps of a failover (see failover.h).  Each
 * step's outcome goes back to the state machine; the job's record (cl->fo,
 * or cl->render for a plain render) is what status shows.
 */
#include "monitor/failover.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/event.h"
#include "monitor/machine.h"
#include "monitor/restore_step.h"
#include "common/template.h"

typedef void (*step_done_fn)(struct mon_cluster *cl, bool ok, const char *error);

static const char *node_name(const struct mon_cluster *cl, size_t i)
{
	return cl->nodes[i].conf->name;
}

/* Tell the state machine how the step went. */
static void step_done(struct mon_cluster *cl, bool ok, const char *error)
{
	machine_fire(cl, ok ? EV_STEP_OK : EV_STEP_FAILED, cl->fo.to,
		     ok ? "step done" : error ? error : "step failed");
}

static void job_event(struct mon_cluster *cl, const char *event, const char *node,
		      enum vlog_level lvl, const char *detail, int *rc)
{
	struct mon_failover *job = &cl->fo;
	struct mon_event_info ev = {
		.event = event, .node = node, .old_primary = node_name(cl, job->from),
		.new_primary = node_name(cl, job->to), .reason = job->reason,
		.detail = detail, .epoch = job->epoch,
	};
	int r = mon_event(cl, lvl, &ev);

	if (rc)
		*rc = r;
}

/* ---- balancers ---- */

/* One balancer's part of a step: which one, and whether it went well. */
static void balancers_settle(struct mon_cluster *cl)
{
	struct mon_failover *job = cl->job;
	size_t used;

	if (--job->balancers_pending != 0)
		return;
	/* With several balancers, say which ones did move: the operator fixes the rest. */
	for (size_t i = 0; job->balancers_failed && i < cl->conf->n_balancers; i++) {
		if (!cl->bal_slots[i].ok)
			continue;
		used = strlen(job->error);
		snprintf(job->error + used, sizeof(job->error) - used, "; %s: ok",
			 balancer_describe(cl->balancers[i]));
	}
	job->then(cl, !job->balancers_failed, job->error);
}

static void balancer_done(void *arg, bool ok, const char *error)
{
	struct bal_slot *slot = arg;
	struct mon_cluster *cl = slot->cl;
	struct mon_failover *job = cl->job;
	size_t used;

	slot->ok = ok;
	if (!ok) {
		job->balancers_failed = true;
		used = strlen(job->error);
		snprintf(job->error + used, sizeof(job->error) - used, "%s%s: %s",
			 used ? "; " : "", balancer_describe(cl->balancers[slot->idx]),
			 error ? error : "failed");
	} else if (error) {
		/* ok with a message: a drain that ran out of time; the switchover goes on. */
		vlog(VLOG_WARNING, "monitor", "drain incomplete", "cluster", cl->conf->name,
		     "detail", error, NULL);
	}
	balancers_settle(cl);
}

/* Apply roles (primary, and who is left out) to every balancer; then(). */
static void apply_balancers(struct mon_cluster *cl, size_t primary, const bool *out,
			    const bool *drain, step_done_fn then)
{
	struct mon_failover *job = cl->job;
	struct balancer_roles roles = { .primary = primary, .epoch = cl->epoch, .out = out,
					.drain = drain };
	size_t n = cl->conf->n_balancers;
	char err[512];

	job->then = then;
	job->balancers_pending = n + 1; /* +1 guards against finishing mid-loop */
	job->balancers_failed = false;
	job->error[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		cl->bal_slots[i].ok = false;
		if (balancer_apply(cl->balancers[i], cl->conf, &roles, balancer_done,
				   &cl->bal_slots[i], err, sizeof(err)) < 0)
			balancer_done(&cl->bal_slots[i], false, err);
	}
	balancers_settle(cl);
}

/* ---- hooks ---- */

static void hook_done(void *arg, bool ok, const char *error)
{
	struct mon_cluster *cl = arg;

	cl->fo.hook = NULL;
	cl->fo.then(cl, ok, error);
}

/* Run a hook of this failover against node, at most timeout_ms; none configured counts as done. */
static void run_hook_for(struct mon_cluster *cl, char *const *argv, const char *event,
			 size_t node, uint64_t timeout_ms, step_done_fn then)
{
	struct mon_failover *job = &cl->fo;
	struct act_env aenv = { cl->env.base, cl->env.children };
	struct hook_ctx ctx = {
		.cluster = cl->conf->name, .event = event, .node = node_name(cl, node),
		.address = cl->nodes[node].conf->address, .old_primary = node_name(cl, job->from),
		.new_primary = node_name(cl, job->to), .reason = job->reason, .epoch = job->epoch,
	};
	char err[512];

	job->then = then;
	if (!argv) {
		then(cl, true, NULL);
		return;
	}
	job->hook = hook_run(&aenv, argv, &ctx, timeout_ms, hook_done, cl, err, sizeof(err));
	if (!job->hook)
		then(cl, false, err);
}

static void run_hook(struct mon_cluster *cl, char *const *argv, const char *event, size_t node,
		     step_done_fn then)
{
	run_hook_for(cl, argv, event, node, cl->conf->hooks.timeout_ms, then);
}

/* ---- the steps ---- */

void failover_begin(struct mon_cluster *cl, size_t to, const char *reason, bool manual,
		    bool switchover)
{
	struct mon_failover *job = &cl->fo;
	struct mon_event_info ev = { 0 };

	memset(job, 0, sizeof(*job));
	job->result = FO_RUNNING;
	job->from = cl->primary;
	job->to = to;
	job->manual = manual || switchover;
	job->switchover = switchover;
	job->epoch = cl->epoch + 1;
	snprintf(job->reason, sizeof(job->reason), "%s", reason);
	clock_iso8601(job->started, sizeof(job->started));
	cl->job = job;
	cluster_note_failover(cl, job->manual);
	ev = (struct mon_event_info){ .event = "failover_started",
		.old_primary = node_name(cl, job->from), .new_primary = node_name(cl, to),
		.reason = reason, .epoch = job->epoch, .manual = job->manual,
		.switchover = switchover };
	/* The new epoch is durable before anything acts on it. */
	if (mon_event(cl, VLOG_WARNING, &ev) < 0) {
		step_done(cl, false, "cannot journal the failover: not acting");
		return;
	}
	/* The epoch is spent even if a step fails: a retry takes the next one. */
	cl->epoch = job->epoch;
	if (switchover)
		failover_drain(cl);
	else
		failover_fence(cl);
}

static void drained(struct mon_cluster *cl, bool ok, const char *error)
{
	if (ok)
		job_event(cl, "drained", node_name(cl, cl->fo.from), VLOG_INFO, NULL, NULL);
	step_done(cl, ok, error);
}

static void drain_wait(struct mon_cluster *cl, bool ok, const char *error)
{
	struct mon_failover *job = &cl->fo;
	size_t n = cl->conf->n_balancers;
	char err[512];

	if (!ok) {
		step_done(cl, false, error);
		return;
	}
	job->then = drained;
	job->balancers_pending = n + 1;
	job->balancers_failed = false;
	job->error[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		cl->bal_slots[i].ok = false;
		if (balancer_drain(cl->balancers[i], cl->conf->drain_timeout_ms, balancer_done,
				   &cl->bal_slots[i], err, sizeof(err)) < 0)
			balancer_done(&cl->bal_slots[i], false, err);
	}
	balancers_settle(cl);
}

void failover_drain(struct mon_cluster *cl)
{
	bool out[CONF_MAX_NODES], drain[CONF_MAX_NODES] = { false };

	/* New requests go to the new node; the old primary finishes what it has. */
	memcpy(out, cl->out, sizeof(out));
	out[cl->fo.from] = true;
	out[cl->fo.to] = false;
	drain[cl->fo.from] = true;
	apply_balancers(cl, cl->fo.to, out, drain, drain_wait);
}

static void fenced(struct mon_cluster *cl, bool ok, const char *error)
{
	int rc = 0;

	if (!ok && cl->conf->hooks.fence_required) {
		step_done(cl, false, error ? error : "fence hook failed");
		return;
	}
	if (!ok)
		vlog(VLOG_WARNING, "monitor", "fence hook failed; fence_required = false, promoting "
		     "anyway", "cluster", cl->conf->name, "node", node_name(cl, cl->fo.from),
		     "error", error, NULL);
	else
		job_event(cl, "fenced", node_name(cl, cl->fo.from), VLOG_NOTICE, NULL, &rc);
	step_done(cl, rc == 0, "cannot journal the fencing: not promoting");
}

void failover_fence(struct mon_cluster *cl)
{
	/* Fence the old primary first: two primaries at once is the outage to avoid. */
	run_hook(cl, cl->conf->hooks.fence, "fence", cl->fo.from, fenced);
}

static void promoted(struct mon_cluster *cl, bool ok, const char *error)
{
	struct mon_failover *job = &cl->fo;
	int rc;

	if (!ok) {
		step_done(cl, false, error ? error : "promote hook failed");
		return;
	}
	cl->primary = job->to;
	cl->out[job->from] = true;
	cl->out[job->to] = false;
	job->promoted = true;
	/*
	 * The node is promoted whatever happens next; if even this cannot be
	 * journaled a restart would not know it, so say so loudly and go on
	 * rerouting: leaving traffic on a dead primary helps nobody.
	 */
	job_event(cl, "promoted", NULL, VLOG_NOTICE, NULL, &rc);
	if (rc < 0)
		vlog(VLOG_ERR, "monitor", "promotion not journaled: a restart would not know it",
		     "cluster", cl->conf->name, "primary", node_name(cl, job->to), NULL);
	step_done(cl, true, NULL);
}

void failover_promote(struct mon_cluster *cl)
{
	int rc;

	/* Durable first: a restart must know the hook may have run, and never run it again. */
	job_event(cl, "promote_started", node_name(cl, cl->fo.to), VLOG_INFO, NULL, &rc);
	if (rc < 0) {
		step_done(cl, false, "cannot journal the promotion: not promoting");
		return;
	}
	run_hook(cl, cl->conf->hooks.promote, "promote", cl->fo.to, promoted);
}

void failover_reconfigure(struct mon_cluster *cl)
{
	cl->job = &cl->fo;
	cl->fo.result = FO_RUNNING;
	apply_balancers(cl, cl->primary, cl->out, NULL, step_done);
}

static void follow_next(struct mon_cluster *cl);

/* A standby that cannot follow is alerted, not a failed failover: traffic moved. */
static void followed(struct mon_cluster *cl, bool ok, const char *error)
{
	size_t node = cl->fo.follow_idx - 1;

	if (!ok)
		job_event(cl, "follow_failed", node_name(cl, node), VLOG_ERR,
			  error ? error : "follow hook failed", NULL);
	follow_next(cl);
}

/* Point every other standby (not fenced) at the new primary, one after another. */
static void follow_next(struct mon_cluster *cl)
{
	struct mon_failover *job = &cl->fo;

	while (cl->conf->hooks.follow && job->follow_idx < cl->conf->n_nodes) {
		size_t j = job->follow_idx++;

		if (j != cl->primary && !cl->out[j]) {
			run_hook(cl, cl->conf->hooks.follow, "follow", j, followed);
			return;
		}
	}
	step_done(cl, true, NULL);
}

static void restored(struct mon_cluster *cl, bool ok, const char *error)
{
	if (!ok) {
		step_done(cl, false, error ? error : "restore hook failed");
		return;
	}
	if (cl->conf->hooks.restore || cl->conf->restore.backup)
		job_event(cl, "restored", node_name(cl, cl->fo.to), VLOG_NOTICE, NULL, NULL);
	cl->fo.follow_idx = 0;
	follow_next(cl);
}

/* `vigil restore` of the configured backup job, run like a hook with the restore's timeout. */
static void run_builtin_restore(struct mon_cluster *cl)
{
	char **argv = restore_step_argv(&cl->conf->restore, "/proc/self/exe");

	if (!argv) {
		restored(cl, false, "restore: out of memory");
		return;
	}
	run_hook_for(cl, argv, "restore", cl->fo.to, cl->conf->restore.timeout_ms, restored);
	tmpl_argv_free(argv);
}

void failover_restore(struct mon_cluster *cl)
{
	int rc = 0;

	if (cl->fo.skip_restore) {
		vlog(VLOG_WARNING, "monitor", "the restore hook had started before a restart; not "
		     "running it twice", "cluster", cl->conf->name, NULL);
		cl->fo.follow_idx = 0;
		follow_next(cl);
		return;
	}
	if (cl->conf->hooks.restore || cl->conf->restore.backup)
		job_event(cl, "restore_started", node_name(cl, cl->fo.to), VLOG_INFO, NULL, &rc);
	if (rc < 0) {
		step_done(cl, false, "cannot journal the restore: not restoring");
		return;
	}
	if (cl->conf->restore.backup) {
		run_builtin_restore(cl);
		return;
	}
	run_hook(cl, cl->conf->hooks.restore, "restore", cl->fo.to, restored);
}

static void job_end(struct mon_cluster *cl, bool ok, const char *error)
{
	struct mon_failover *job = cl->job ? cl->job : &cl->fo;

	job->result = ok ? FO_OK : FO_FAILED;
	if (ok || !error)
		job->error[0] = '\0';
	else if (error != job->error)
		snprintf(job->error, sizeof(job->error), "%s", error);
	clock_iso8601(job->finished, sizeof(job->finished));
	job->hook = NULL;
	cl->job = NULL;
}

void failover_finish(struct mon_cluster *cl)
{
	job_end(cl, true, NULL);
	cl->alerted_hold = NULL;
	job_event(cl, cl->fo.switchover ? "switchover" : "failover", NULL, VLOG_NOTICE, NULL, NULL);
	/* The daemon may replace this cluster (a deferred reload) from here on. */
	if (cl->env.idle)
		cl->env.idle(cl->env.idle_arg);
}

void failover_fail(struct mon_cluster *cl, const char *error)
{
	job_end(cl, false, error);
	job_event(cl, "failover_failed", NULL, VLOG_ERR, cl->fo.error, NULL);
	if (cl->env.idle)
		cl->env.idle(cl->env.idle_arg);
}

/* ---- a plain render (start-up, reload, rejoin) ---- */

static void render_done(struct mon_cluster *cl, bool ok, const char *error)
{
	struct mon_event_info ev = { .event = "reroute_failed",
				     .new_primary = node_name(cl, cl->primary),
				     .reason = cl->render.reason, .detail = error };

	job_end(cl, ok, error);
	if (!ok)
		mon_event(cl, VLOG_ERR, &ev);
	else
		vlog(VLOG_INFO, "monitor", "balancers match the current roles", "cluster",
		     cl->conf->name, "primary", node_name(cl, cl->primary), NULL);
	cluster_evaluate(cl);
	if (!cl->job && cl->env.idle)
		cl->env.idle(cl->env.idle_arg);
}

void failover_reroute(struct mon_cluster *cl, const char *reason)
{
	struct mon_failover *job = &cl->render;

	memset(job, 0, sizeof(*job));
	job->result = FO_RUNNING;
	job->from = job->to = cl->primary;
	job->epoch = cl->epoch;
	snprintf(job->reason, sizeof(job->reason), "%s", reason);
	clock_iso8601(job->started, sizeof(job->started));
	cl->job = job;
	apply_balancers(cl, cl->primary, cl->out, NULL, render_done);
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
