/* monitor/status.c — status as JSON, and as a table for vigilctl (see status.h). */
#include "monitor/status.h"

#include <string.h>

const char *fo_result_name(enum fo_result r)
{
	switch (r) {
	case FO_RUNNING:
		return "running";
	case FO_OK:
		return "ok";
	case FO_FAILED:
		return "failed";
	case FO_NONE:
		break;
	}
	return "none";
}

static json_t *job_json(const struct mon_cluster *cl, const struct mon_failover *job)
{
	if (job->result == FO_NONE)
		return json_null();
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s*, s:s*}",
			 "epoch", (json_int_t)job->epoch,
			 "from", cl->nodes[job->from].conf->name,
			 "to", cl->nodes[job->to].conf->name,
			 "reason", job->reason,
			 "result", fo_result_name(job->result),
			 "manual", job->manual,
			 "switchover", job->switchover,
			 "started", job->started,
			 "finished", job->finished[0] ? job->finished : NULL,
			 "error", job->error[0] ? job->error : NULL);
}

static json_t *result_json(bool has, const struct probe_result *r)
{
	if (!has)
		return json_null();
	return json_pack("{s:b, s:f, s:s, s:s}", "ok", r->ok, "latency_ms", r->latency_ms,
			 "status", probe_status_str(r->status), "detail", r->detail);
}

/* Each observer's own view of the node: the quorum is counted over these. */
static json_t *observers_json(const struct mon_cluster *cl, size_t node)
{
	size_t np = cl->conf->n_probes;
	json_t *arr = json_array();

	for (size_t p = 0; arr && p < np; p++) {
		const struct mon_observer *o = &cl->obs[node * np + p];

		if (json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:s*, s:o*}",
				"probe", (int)p, "type", probe_type_name(o->conf->type),
				"health", health_state_name(o->health.state),
				"vote", health_state_name(observer_vote(cl, o)), "via", o->conf->via,
				"last_probe", result_json(o->has_last, &o->last))) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *node_json(const struct mon_cluster *cl, size_t i)
{
	const struct mon_node *n = &cl->nodes[i];
	const char *role = i == cl->primary ? "primary" : cl->out[i] ? "fenced" : "standby";

	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:s, s:o*, s:o*}",
			 "name", n->conf->name,
			 "address", n->conf->address,
			 "role", role,
			 "health", health_state_name(n->health),
			 "sdown", n->sdown,
			 "lag", n->lag == DECIDE_NO_LAG ? json_null() : json_integer(n->lag),
			 "since", n->since,
			 "last_probe", result_json(n->has_last, &n->last),
			 "observers", cl->obs ? observers_json(cl, i) : NULL);
}

json_t *status_cluster_json(const struct mon_cluster *cl)
{
	json_t *nodes = json_array();

	if (!nodes)
		return NULL;
	for (size_t i = 0; i < cl->conf->n_nodes; i++) {
		if (json_array_append_new(nodes, node_json(cl, i)) < 0) {
			json_decref(nodes);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o*, s:o*}",
			 "name", cl->conf->name,
			 "state", cluster_state_name(cl),
			 "state_since", cl->state_since,
			 "state_reason", cl->state_reason,
			 "primary", cl->nodes[cl->primary].conf->name,
			 "epoch", (json_int_t)cl->epoch,
			 "nodes", nodes,
			 "last_failover", job_json(cl, &cl->fo),
			 "last_render", job_json(cl, &cl->render));
}

json_t *status_json(struct mon_cluster *const *clusters, size_t n)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(arr, status_cluster_json(clusters[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:s, s:o}", "version", PACKAGE_VERSION, "clusters", arr);
}

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : dflt;
}

/* Each observer's view, "http:up tcp:up exec:down": what the quorum counts. */
static void print_observers(FILE *out, const json_t *observers)
{
	const json_t *o;
	size_t i;

	json_array_foreach(observers, i, o)
		fprintf(out, "%s%s:%s", i ? " " : "", str_or(o, "type", "?"), str_or(o, "health", "?"));
	if (json_array_size(observers) == 0)
		fputc('-', out);
	fputc('\n', out);
}

static void print_node_row(FILE *out, const char *cluster, const json_t *node)
{
	const json_t *last = json_object_get(node, "last_probe");
	char latency[32] = "-";

	if (json_is_object(last) && json_is_number(json_object_get(last, "latency_ms")))
		snprintf(latency, sizeof(latency), "%.1fms",
			 json_number_value(json_object_get(last, "latency_ms")));
	fprintf(out, "%-12s %-10s %-8s %-8s %-9s %-24s ", cluster, str_or(node, "name", "?"),
		str_or(node, "role", "?"), str_or(node, "health", "?"), latency,
		str_or(node, "since", "-"));
	print_observers(out, json_object_get(node, "observers"));
}

static void print_cluster_line(FILE *out, const json_t *cl)
{
	const json_t *fo = json_object_get(cl, "last_failover");

	const char *why = str_or(cl, "state_reason", "");

	fprintf(out, "  %s: state %s%s%s%s, primary %s, epoch %lld", str_or(cl, "name", "?"),
		str_or(cl, "state", "?"), why[0] ? " (" : "", why, why[0] ? ")" : "",
		str_or(cl, "primary", "?"),
		(long long)json_integer_value(json_object_get(cl, "epoch")));
	if (json_is_object(fo))
		fprintf(out, "; last failover %s -> %s %s%s%s", str_or(fo, "from", "?"),
			str_or(fo, "to", "?"), str_or(fo, "result", "?"),
			json_object_get(fo, "error") ? ": " : "", str_or(fo, "error", ""));
	fputc('\n', out);
}

int status_print_table(FILE *out, const json_t *status, char *err, size_t errlen)
{
	const json_t *clusters = json_object_get(status, "clusters");
	const json_t *cl, *node;
	size_t i, j;

	if (!json_is_array(clusters)) {
		snprintf(err, errlen, "status document has no clusters array");
		return -1;
	}
	fprintf(out, "%-12s %-10s %-8s %-8s %-9s %-24s %s\n", "CLUSTER", "NODE", "ROLE", "HEALTH",
		"LATENCY", "SINCE", "OBSERVERS");
	json_array_foreach(clusters, i, cl) {
		json_array_foreach(json_object_get(cl, "nodes"), j, node)
			print_node_row(out, str_or(cl, "name", "?"), node);
	}
	json_array_foreach(clusters, i, cl)
		print_cluster_line(out, cl);
	return 0;
}
