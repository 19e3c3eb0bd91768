/*
 * actions/balancer.c — the type-independent half of a balancer: pick the
 * ops table for the configured type, check the roles, allow one apply and
 * one drain at a time, and make sure the caller's callback never runs from
 * inside balancer_apply or balancer_drain (an implementation may finish
 * synchronously, e.g. when a command cannot be started; the monitor must
 * not see its own call re-entered).
 */
#include "actions/balancer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"

static const struct balancer_ops *const ops_by_type[] = {
	[CONF_BALANCER_NGINX] = &balancer_nginx_ops,
	[CONF_BALANCER_HAPROXY] = &balancer_haproxy_ops,
};

/* One kind of job (apply or drain) and the caller waiting for it. */
struct job_slot {
	bool busy;
	bool in_call;
	act_done_fn cb;
	void *arg;
	/* A result that arrived inside the call waits here for the next loop turn. */
	struct event *deferred;
	bool deferred_ok;
	char *deferred_error;
};

struct balancer {
	const struct balancer_ops *ops;
	void *impl;
	char *describe;
	struct job_slot apply;
	struct job_slot drain;
};

static void slot_deliver(struct job_slot *s, bool ok, const char *error)
{
	act_done_fn cb = s->cb;
	void *arg = s->arg;

	s->busy = false;
	s->cb = NULL;
	s->arg = NULL;
	/* Last statement: the callback may free the balancer. */
	cb(arg, ok, error);
}

static void deferred_fire(evutil_socket_t fd, short what, void *arg)
{
	struct job_slot *s = arg;
	char *error = s->deferred_error;

	(void)fd;
	(void)what;
	s->deferred_error = NULL;
	/* slot_deliver() may free the balancer, so the copied error is freed after it. */
	slot_deliver(s, s->deferred_ok, error);
	free(error);
}

static void slot_done(void *arg, bool ok, const char *error)
{
	struct job_slot *s = arg;

	if (!s->in_call) {
		slot_deliver(s, ok, error);
		return;
	}
	s->deferred_ok = ok;
	free(s->deferred_error);
	s->deferred_error = error ? strdup(error) : NULL;
	if (error && !s->deferred_error)
		s->deferred_ok = false;
	event_active(s->deferred, 0, 0);
}

static int slot_init(struct job_slot *s, struct event_base *base)
{
	s->deferred = event_new(base, -1, 0, deferred_fire, s);
	return s->deferred ? 0 : -1;
}

static void slot_claim(struct job_slot *s, act_done_fn cb, void *arg)
{
	s->busy = true;
	s->cb = cb;
	s->arg = arg;
	s->in_call = true;
}

/* After the implementation's call returned rc. */
static void slot_settle(struct job_slot *s, int rc)
{
	s->in_call = false;
	if (rc == 0)
		return;
	/* A refused job has no outcome to report: forget any stray one. */
	event_del(s->deferred);
	free(s->deferred_error);
	s->deferred_error = NULL;
	s->busy = false;
	s->cb = NULL;
	s->arg = NULL;
}

static void slot_release(struct job_slot *s)
{
	if (s->deferred)
		event_free(s->deferred);
	free(s->deferred_error);
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
	/* nginx names an upstream, haproxy a backend. */
	if (asprintf(&b->describe, "%s:%s", b->ops->name, conf->upstream ? conf->upstream
		     : conf->backend ? conf->backend : "-") < 0) {
		b->describe = NULL;
		snprintf(err, errlen, "balancer: out of memory");
		balancer_free(b);
		return NULL;
	}
	if (slot_init(&b->apply, env->base) < 0 || slot_init(&b->drain, env->base) < 0) {
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

static int check_roles(const struct balancer *b, const struct conf_cluster *cluster,
		       const struct balancer_roles *roles, char *err, size_t errlen)
{
	if (!roles) {
		snprintf(err, errlen, "balancer %s: no roles given", b->describe);
		return -1;
	}
	if (roles->primary >= cluster->n_nodes) {
		snprintf(err, errlen, "balancer %s: primary index %zu out of range",
			 b->describe, roles->primary);
		return -1;
	}
	if (roles->out && roles->out[roles->primary]) {
		snprintf(err, errlen, "balancer %s: primary %s is marked out",
			 b->describe, cluster->nodes[roles->primary].name);
		return -1;
	}
	return 0;
}

int balancer_apply(struct balancer *b, const struct conf_cluster *cluster,
		   const struct balancer_roles *roles, act_done_fn cb, void *arg,
		   char *err, size_t errlen)
{
	int rc;

	if (b->apply.busy) {
		snprintf(err, errlen, "balancer %s: busy with another apply", b->describe);
		return -1;
	}
	if (check_roles(b, cluster, roles, err, errlen) < 0)
		return -1;
	slot_claim(&b->apply, cb, arg);
	rc = b->ops->apply(b->impl, cluster, roles, slot_done, &b->apply, err, errlen);
	slot_settle(&b->apply, rc);
	return rc;
}

int balancer_drain(struct balancer *b, uint64_t timeout_ms, act_done_fn cb, void *arg,
		   char *err, size_t errlen)
{
	int rc;

	if (b->drain.busy) {
		snprintf(err, errlen, "balancer %s: a drain is already running", b->describe);
		return -1;
	}
	/* Until its reload has run, the apply has not said what to wait for. */
	if (b->apply.busy) {
		snprintf(err, errlen, "balancer %s: cannot drain while an apply is running",
			 b->describe);
		return -1;
	}
	slot_claim(&b->drain, cb, arg);
	rc = b->ops->drain(b->impl, timeout_ms, slot_done, &b->drain, err, errlen);
	slot_settle(&b->drain, rc);
	return rc;
}

bool balancer_busy(const struct balancer *b)
{
	return b->apply.busy;
}

bool balancer_draining(const struct balancer *b)
{
	return b->drain.busy;
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
		if (b->apply.busy || b->drain.busy)
			b->ops->cancel(b->impl);
		b->ops->free(b->impl);
	}
	slot_release(&b->apply);
	slot_release(&b->drain);
	free(b->describe);
	free(b);
}
