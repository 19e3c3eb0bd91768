/*
 * actions/balancer.c — the type-independent half of a balancer: pick the
 * ops table for the configured type, allow one apply at a time, and make
 * sure the caller's callback never runs from inside balancer_apply (an
 * implementation may finish synchronously, e.g. when a command cannot be
 * started; the monitor must not see its own call re-entered).
 */
#include "actions/balancer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct balancer_ops *const ops_by_type[] = {
	[CONF_BALANCER_NGINX] = &balancer_nginx_ops,
};

struct balancer {
	const struct balancer_ops *ops;
	void *impl;
	char *describe;
	bool busy;
	bool in_apply;
	act_done_fn cb;
	void *arg;
	/* A result that arrived inside apply waits here for the next loop turn. */
	struct event *deferred;
	bool deferred_ok;
	char *deferred_error;
};

static void deliver(struct balancer *b, bool ok, const char *error)
{
	act_done_fn cb = b->cb;
	void *arg = b->arg;

	b->busy = false;
	b->cb = NULL;
	b->arg = NULL;
	/* Last statement: the callback may free the balancer. */
	cb(arg, ok, error);
}

static void deferred_fire(evutil_socket_t fd, short what, void *arg)
{
	struct balancer *b = arg;
	char *error = b->deferred_error;

	(void)fd;
	(void)what;
	b->deferred_error = NULL;
	/* deliver() may free b, so the copied error is freed after it. */
	deliver(b, b->deferred_ok, error);
	free(error);
}

static void impl_done(void *arg, bool ok, const char *error)
{
	struct balancer *b = arg;

	if (!b->in_apply) {
		deliver(b, ok, error);
		return;
	}
	b->deferred_ok = ok;
	free(b->deferred_error);
	b->deferred_error = error ? strdup(error) : NULL;
	if (error && !b->deferred_error)
		b->deferred_ok = false;
	event_active(b->deferred, 0, 0);
}

struct balancer *balancer_new(const struct act_env *env, const struct conf_balancer *conf,
			      char *err, size_t errlen)
{
	struct balancer *b;
	size_t n_types = sizeof(ops_by_type) / sizeof(ops_by_type[0]);

	if ((size_t)conf->type >= n_types || !ops_by_type[conf->type]) {
		snprintf(err, errlen, "balancer: unknown type %d", (int)conf->type);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "balancer: out of memory");
		return NULL;
	}
	b->ops = ops_by_type[conf->type];
	if (asprintf(&b->describe, "%s:%s", b->ops->name,
		     conf->upstream ? conf->upstream : "-") < 0) {
		b->describe = NULL;
		snprintf(err, errlen, "balancer: out of memory");
		balancer_free(b);
		return NULL;
	}
	b->deferred = event_new(env->base, -1, 0, deferred_fire, b);
	if (!b->deferred) {
		snprintf(err, errlen, "balancer %s: cannot create event", b->describe);
		balancer_free(b);
		return NULL;
	}
	b->impl = b->ops->new(env, conf, err, errlen);
	if (!b->impl) {
		balancer_free(b);
		return NULL;
	}
	return b;
}

int balancer_apply(struct balancer *b, const struct conf_cluster *cluster, size_t primary,
		   act_done_fn cb, void *arg, char *err, size_t errlen)
{
	int rc;

	if (b->busy) {
		snprintf(err, errlen, "balancer %s: busy with another apply", b->describe);
		return -1;
	}
	if (primary >= cluster->n_nodes) {
		snprintf(err, errlen, "balancer %s: primary index %zu out of range",
			 b->describe, primary);
		return -1;
	}
	b->busy = true;
	b->cb = cb;
	b->arg = arg;
	b->in_apply = true;
	rc = b->ops->apply(b->impl, cluster, primary, impl_done, b, err, errlen);
	b->in_apply = false;
	if (rc < 0) {
		/* A refused apply has no outcome to report: forget any stray one. */
		event_del(b->deferred);
		free(b->deferred_error);
		b->deferred_error = NULL;
		b->busy = false;
		b->cb = NULL;
		b->arg = NULL;
	}
	return rc;
}

bool balancer_busy(const struct balancer *b)
{
	return b->busy;
}

const char *balancer_describe(const struct balancer *b)
{
	return b->describe;
}

void balancer_free(struct balancer *b)
{
	if (!b)
		return;
	if (b->impl) {
		if (b->busy)
			b->ops->cancel(b->impl);
		b->ops->free(b->impl);
	}
	if (b->deferred)
		event_free(b->deferred);
	free(b->deferred_error);
	free(b->describe);
	free(b);
}
