/*
 * probes/probe.h — turn a target into a result.  Probes only measure: they
 * never change state and never act.  Every run ends in exactly one call of
 * the owner's probe_done_fn with a probe_result.
 *
 * One probe watches one node with one configured check (tcp, http, exec);
 * the monitor schedules it and feeds its results to the node's rise/fall.
 */
#ifndef VIGIL_PROBES_PROBE_H
#define VIGIL_PROBES_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct event_base;
struct curl_loop;
struct child_runner;
struct probe;

/* Why a run failed; probe_status_str() gives the short name. */
enum probe_status {
	PROBE_OK,
	PROBE_ERR_CONNECT,  /* refused, unreachable, reset */
	PROBE_ERR_TIMEOUT,  /* no answer within timeout */
	PROBE_ERR_STATUS,   /* http status not expected */
	PROBE_ERR_BODY,     /* http body lacks expected substring */
	PROBE_ERR_TLS,      /* handshake or verification failed */
	PROBE_ERR_EXIT,     /* exec exited non-zero or was killed */
	PROBE_ERR_OUTPUT,   /* exec exited 0 but its output is not what it must say */
	/*
	 * vigil could not run the probe: its own descriptors, memory, ports or
	 * processes ran out (EMFILE, ENOMEM, fork...).  Says nothing about the
	 * node: the monitor never counts it as a failed check (see TILT).
	 */
	PROBE_ERR_LOCAL,
};

struct probe_result {
	bool ok;
	enum probe_status status;
	double latency_ms;  /* start to end on the monotonic clock */
	char detail[160];   /* "status 503", "connect: Connection refused", ... */
	/* Only from an exec probe with lag = true, and only when ok. */
	bool has_lag;
	int64_t lag;        /* the node's replication lag, in the operator's unit */
};

typedef void (*probe_done_fn)(void *arg, const struct probe_result *res);

/* What probes need from the daemon; all owned by the caller. */
struct probe_env {
	struct event_base *base;
	struct curl_loop *curl;
	struct child_runner *children;
};

/*
 * Build a probe of conf's type aimed at node (placeholders in the URL or
 * argv are expanded here, once).  via is the node it looks through
 * (conf->via), or NULL: only then may the templates use {via_*}.  NULL
 * with err set on failure.
 */
struct probe *probe_new(const struct probe_env *env, const struct conf_probe *conf,
			const struct conf_node *node, const struct conf_node *via,
			const char *cluster, char *err, size_t errlen);
/*
 * Start one run; cb fires once, never from inside probe_start.  Returns -1
 * if a run is already in flight.  The timeout is enforced here, for every
 * type, by one timer.
 */
int probe_start(struct probe *p, probe_done_fn cb, void *arg);
bool probe_running(const struct probe *p);
/* Abort a run in flight: no callback. */
void probe_cancel(struct probe *p);
void probe_free(struct probe *p);

const char *probe_status_str(enum probe_status st);
const char *probe_type_name(enum conf_probe_type t);

#endif
