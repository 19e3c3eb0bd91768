/*
 * probes/probe_int.h — what a probe type implements (one file per type).
 * probe.c owns the run: the timeout timer, the latency clock and the single
 * completion path; a type only starts, cancels and reports.
 */
#ifndef VIGIL_PROBES_PROBE_INT_H
#define VIGIL_PROBES_PROBE_INT_H

#include "common/template.h"
#include "probes/probe.h"

struct probe_ops {
	const char *name;
	/* Build the type's private state; via as in probe_new.  NULL with err set on failure. */
	void *(*new)(const struct probe_env *env, const struct conf_probe *conf,
		     const struct conf_node *node, const struct conf_node *via,
		     const char *cluster, char *err, size_t errlen);
	/*
	 * Start a run; report later with probe_report(owner, ...).  0, or -1
	 * with err when vigil could not even start it (no socket, pipe or
	 * process): probe.c reports that as PROBE_ERR_LOCAL, never the node's.
	 */
	int (*start)(void *impl, struct probe *owner, char *err, size_t errlen);
	/* Abort the run in flight; must not report afterwards. */
	void (*cancel)(void *impl);
	void (*free)(void *impl);
};

extern const struct probe_ops probe_tcp_ops;
extern const struct probe_ops probe_http_ops;
extern const struct probe_ops probe_exec_ops;

/* Called by a type exactly once per started run. */
void probe_report(struct probe *owner, enum probe_status st, const char *detail);
/* The same for a healthy run that also measured the node's replication lag. */
void probe_report_lag(struct probe *owner, int64_t lag, const char *detail);

/*
 * The placeholders of the URL and argv templates, and room for the values
 * that are not strings of the config.  {via_*} exist only with a via node,
 * so a template that needs one fails to expand without it.
 */
struct probe_vars {
	char port[8];
	char via_port[8];
	struct tmpl_var v[9];
	size_t n;
};

void probe_vars_init(struct probe_vars *pv, const struct conf_node *node,
		     const struct conf_node *via, const char *cluster);

#endif
