/* monitor/request.c — operator failover/switchover orders (see request.h). */
#include "monitor/request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/template.h"
#include "monitor/restore_step.h"
#include "monitor/decide.h"
#include "monitor/fsm.h"
#include "monitor/machine.h"

static const char *node_name(const struct mon_cluster *cl, size_t i)
{
	return cl->nodes[i].conf->name;
}

/* Why the current state does not take the order, in the operator's words. */
static const char *state_refusal(const struct mon_cluster *cl, bool switchover)
{
	switch (cl->state) {
	case ST_PAUSED:
		return "the cluster is paused: resume it first";
	case ST_TILT:
		return "vigil is in TILT (it suspects its own view); wait for it to end";
	case ST_HELD:
		return "the cluster is held (its journal is damaged or disagrees with the "
		       "balancers): vigilctl resolve it first";
	default:
		break;
	}
	if (cl->job == &cl->render)
		return "the balancers are being rendered (start-up, reload or rejoin); try again";
	if (fsm_state_busy(cl->state) || cl->job)
		return "a failover is already running";
	if (switchover)
		return "a switchover needs a serving primary (healthy or degraded); use failover";
	return "the cluster cannot take it now";
}

/* One hook step of a plan: its argv expanded exactly as hook_run would. */
static json_t *plan_hook(const struct mon_cluster *cl, char *const *argv, const char *state,
			 const char *step, size_t node, size_t to, uint64_t epoch)
{
	char ep[24], err[256], **v;
	const struct tmpl_var vars[] = {
		{ "cluster", cl->conf->name }, { "node", node_name(cl, node) },
		{ "address", cl->nodes[node].conf->address },
		{ "old_primary", node_name(cl, cl->primary) }, { "new_primary", node_name(cl, to) },
		{ "epoch", ep },
	};
	json_t *args = json_array();

	snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
	v = tmpl_expand_argv(argv, vars, sizeof(vars) / sizeof(vars[0]), err, sizeof(err));
	for (size_t i = 0; v && args && v[i]; i++)
		json_array_append_new(args, json_string(v[i]));
	tmpl_argv_free(v);
	return json_pack("{s:s, s:s, s:s, s:o*}", "state", state, "step", step,
			 "node", node_name(cl, node), "argv", args);
}

static void add_step(json_t *steps, const char *state, const char *step)
{
	json_array_append_new(steps, json_pack("{s:s, s:s}", "state", state, "step", step));
}

/* The built-in restore's command line, as the RESTORING step will run it. */
static void add_builtin_restore(json_t *steps, const struct mon_cluster *cl, size_t to,
				uint64_t epoch)
{
	char **argv = restore_step_argv(&cl->conf->restore, "/proc/self/exe");

	if (!argv) {
		add_step(steps, "restoring", "restore (out of memory describing it)");
		return;
	}
	json_array_append_new(steps, plan_hook(cl, argv, "restoring", "restore", to, to, epoch));
	tmpl_argv_free(argv);
}

static json_t *plan(const struct mon_cluster *cl, size_t to, bool switchover)
{
	uint64_t epoch = cl->epoch + 1;
	const struct conf_hooks *h = &cl->conf->hooks;
	json_t *steps = json_array();

	add_step(steps, switchover ? "draining" : "fencing", "journal failover_started");
	if (switchover) {
		add_step(steps, "draining", "route new requests to the new primary");
		add_step(steps, "draining", "wait for the old primary's in-flight requests");
	}
	if (h->fence)
		json_array_append_new(steps, plan_hook(cl, h->fence, "fencing", "fence", cl->primary, to, epoch));
	add_step(steps, "promoting", "journal promote_started");
	if (h->promote)
		json_array_append_new(steps, plan_hook(cl, h->promote, "promoting", "promote", to, to, epoch));
	add_step(steps, "promoting", "journal promoted");
	for (size_t i = 0; i < cl->conf->n_balancers; i++)
		json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "state",
			"reconfiguring", "step", "reroute", "balancer",
			balancer_describe(cl->balancers[i]), "primary", node_name(cl, to),
			"out", node_name(cl, cl->primary)));
	if (h->restore)
		json_array_append_new(steps, plan_hook(cl, h->restore, "restoring", "restore", to, to, epoch));
	if (cl->conf->restore.backup)
		add_builtin_restore(steps, cl, to, epoch);
	add_step(steps, "restoring", switchover ? "journal switchover" : "journal failover");
	return json_pack("{s:s, s:b, s:s, s:I, s:s, s:s, s:o}", "cluster", cl->conf->name,
			 "dry_run", 1, "kind", switchover ? "switchover" : "failover",
			 "epoch", (json_int_t)epoch, "from", node_name(cl, cl->primary),
			 "to", node_name(cl, to), "steps", steps);
}

int op_request_run(struct mon_cluster *cl, const struct op_request *req, json_t **out,
		   uint64_t *epoch, char *err, size_t errlen, enum refusal *refusal)
{
	enum fsm_event ev = req->switchover ? EV_SWITCHOVER_CMD : EV_FAILOVER_CMD;
	const char *kind = req->switchover ? "switch over" : "fail over";
	struct decide_buf buf;
	struct decide_input in;
	char why[256];
	int target = -1;

	if (req->to && (target = conf_cluster_find_node(cl->conf, req->to)) < 0) {
		*refusal = REFUSED_UNKNOWN;
		snprintf(err, errlen, "cluster %s has no node %s", cl->conf->name, req->to);
		return -1;
	}
	*refusal = REFUSED_NOT_NOW;
	if (!fsm_lookup(cl->state, ev) || cl->job) {
		snprintf(err, errlen, "cannot %s %s: %s", kind, cl->conf->name,
			 state_refusal(cl, req->switchover));
		return -1;
	}
	cluster_decide_input(cl, &buf, &in);
	target = decide_manual(&in, target, req->force, why, sizeof(why), refusal);
	if (target < 0) {
		snprintf(err, errlen, "cannot %s %s%s%s: %s", kind, cl->conf->name,
			 req->to ? " to " : "", req->to ? req->to : "", why);
		return -1;
	}
	*epoch = cl->epoch + 1;
	if (req->dry_run) {
		*out = plan(cl, (size_t)target, req->switchover);
		*refusal = REFUSED_FAULT;
		if (!*out)
			snprintf(err, errlen, "cannot build the plan: out of memory");
		return *out ? 0 : -1;
	}
	machine_fire(cl, ev, (size_t)target, req->switchover ? "operator switchover" :
		     "operator request");
	return 0;
}
