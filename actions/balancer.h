/*
 * actions/balancer.h — a load balancer vigil steers.  Actions carry out,
 * they never decide: the monitor says which node is primary, the balancer
 * makes the world match and reports ok or an error.
 *
 * One ops table per balancer type (nginx now; haproxy later).
 */
#ifndef VIGIL_ACTIONS_BALANCER_H
#define VIGIL_ACTIONS_BALANCER_H

#include <stdbool.h>
#include <stddef.h>

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

struct balancer_ops {
	const char *name;
	void *(*new)(const struct act_env *env, const struct conf_balancer *conf,
		     char *err, size_t errlen);
	/* Make the balancer send traffic to nodes[primary]; async. 0 or -1 with err. */
	int (*apply)(void *impl, const struct conf_cluster *cluster, size_t primary,
		     act_done_fn cb, void *arg, char *err, size_t errlen);
	/* Abort a job in flight (shutdown): no callback; leave files consistent. */
	void (*cancel)(void *impl);
	void (*free)(void *impl);
};

extern const struct balancer_ops balancer_nginx_ops;

struct balancer *balancer_new(const struct act_env *env, const struct conf_balancer *conf,
			      char *err, size_t errlen);
/* One apply at a time: -1 if busy.  cb never runs from inside apply. */
int balancer_apply(struct balancer *b, const struct conf_cluster *cluster, size_t primary,
		   act_done_fn cb, void *arg, char *err, size_t errlen);
bool balancer_busy(const struct balancer *b);
void balancer_free(struct balancer *b);
const char *balancer_describe(const struct balancer *b); /* "nginx:web_backend" */

#endif
