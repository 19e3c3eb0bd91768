/*
 * actions/balancer.h — a load balancer vigil steers.  Actions carry out,
 * they never decide: the monitor says which node is primary and which
 * nodes are out, the balancer makes the world match and reports ok or an
 * error.  A drain then waits for the traffic the old routing still carries.
 *
 * One ops table per balancer type: nginx (render, check, reload) and haproxy
 * (Runtime API live, or render, check, reload).
 */
#ifndef VIGIL_ACTIONS_BALANCER_H
#define VIGIL_ACTIONS_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct event_base;
struct child_runner;
struct balancer;

/* Completion of any action job: ok, or error text ("check failed: ..."). */
typedef void (*act_done_fn)(void *arg, bool ok, const char *error);

struct act_env {
	struct event_base *base;
	struct child_runner *children;
};

/*
 * What a balancer should route: all traffic to primary; nodes with out[i]
 * are left out entirely (fenced, or being drained).  Of those, drain[i]
 * marks the ones whose current sessions may finish (a switchover's old
 * primary); the others are cut off at once where the balancer can tell
 * (haproxy: maint rather than drain).
 */
struct balancer_roles {
	size_t primary;
	uint64_t epoch;    /* the cluster's epoch: rendered files carry it (render_mark.h) */
	const bool *out;   /* cluster->n_nodes flags, or NULL = none out; out[primary] must be false */
	const bool *drain; /* a subset of out, or NULL = none */
};

/*
 * The generic layer has validated the arguments and guarantees one apply
 * and one drain at a time; an implementation may call cb synchronously.
 */
struct balancer_ops {
	const char *name;
	void *(*new)(const struct act_env *env, const struct conf_balancer *conf,
		     char *err, size_t errlen);
	/* Make the balancer route per roles; async. 0 or -1 with err. */
	int (*apply)(void *impl, const struct conf_cluster *cluster,
		     const struct balancer_roles *roles, act_done_fn cb, void *arg,
		     char *err, size_t errlen);
	/* Wait for the traffic from before the last apply (see balancer_drain). */
	int (*drain)(void *impl, uint64_t timeout_ms, act_done_fn cb, void *arg,
		     char *err, size_t errlen);
	/* Abort the apply and the drain in flight (shutdown): no callback; leave files consistent. */
	void (*cancel)(void *impl);
	void (*free)(void *impl);
};

extern const struct balancer_ops balancer_nginx_ops;
extern const struct balancer_ops balancer_haproxy_ops;

struct balancer *balancer_new(const struct act_env *env, const struct conf_balancer *conf,
			      char *err, size_t errlen);
/*
 * One apply at a time: -1 if busy, or if roles are invalid (primary out of
 * range or marked out).  cb never runs from inside apply.  An apply may
 * start while a drain runs: the drain keeps waiting for what it waited for.
 */
int balancer_apply(struct balancer *b, const struct conf_cluster *cluster,
		   const struct balancer_roles *roles, act_done_fn cb, void *arg,
		   char *err, size_t errlen);
/*
 * Wait until the traffic the balancer was carrying before its last apply
 * has finished (in-flight requests to nodes that apply removed), at most
 * timeout_ms.  cb(ok=true, NULL) when drained; cb(ok=true, text) when the
 * wait ran out or could not see the traffic and waited the whole timeout
 * ("drain timed out after 5000 ms: 2 old nginx worker(s) still running"),
 * so the caller can log it; cb(false, why) only when the wait could not
 * even start.  One drain at a time, and not while an apply is in flight
 * (-1 with err).  cb never runs from inside drain.
 *
 * nginx: with pid_file set, the apply notes the master's workers just
 * before its reload, and the drain waits until they have exited (a
 * graceful reload lets the old workers finish their requests first).
 * Without pid_file, or when the pid file could not be read, or when the
 * last apply did not reload, the drain waits the whole timeout.
 * haproxy (with a socket): the apply set the old primary `drain`; the
 * drain polls `show stat` until its current and queued sessions are 0, then
 * sets it `maint`.  Without a socket it waits the whole timeout.
 */
int balancer_drain(struct balancer *b, uint64_t timeout_ms, act_done_fn cb, void *arg,
		   char *err, size_t errlen);
bool balancer_busy(const struct balancer *b);     /* an apply is in flight */
bool balancer_draining(const struct balancer *b); /* a drain is in flight */
void balancer_free(struct balancer *b);
const char *balancer_describe(const struct balancer *b); /* "nginx:web_backend" */

#endif
