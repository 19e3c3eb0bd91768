/*
 * probes/probe_int.h — what a probe type implements (one file per type).
 * probe.c owns the run: the timeout timer, the latency clock and the single
 * completion path; a type only starts, cancels and reports.
 */
#ifndef VIGIL_PROBES_PROBE_INT_H
#define VIGIL_PROBES_PROBE_INT_H

#include "probes/probe.h"

struct probe_ops {
	const char *name;
	/* Build the type's private state. NULL with err set on failure. */
	void *(*new)(const struct probe_env *env, const struct conf_probe *conf,
		     const struct conf_node *node, const char *cluster,
		     char *err, size_t errlen);
	/* Start a run; report later with probe_report(owner, ...). 0 or -1 with err. */
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

#endif
