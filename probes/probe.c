/*
 * probes/probe.c — the run of a probe, whatever its type.
 *
 * A type only starts, cancels and reports; this file owns what every run
 * shares: the one timeout timer, the latency clock, and the single path by
 * which a result reaches the owner.  The owner's callback may start the
 * probe again or free it, so in-flight state is cleared before the call and
 * the probe is never touched after it.
 */
#include "probes/probe_int.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct probe {
	const struct probe_ops *ops;
	void *impl;
	uint64_t timeout_ms;
	struct event *timer; /* the run's timeout */
	struct event *defer; /* delivers a result reported during probe_start */
	probe_done_fn cb;
	void *arg;
	uint64_t start_us;
	bool running;  /* a run is in flight (started, not yet delivered) */
	bool reported; /* this run has its result; later reports are dropped */
	bool starting; /* inside ops->start: results must wait for the loop */
	struct probe_result result;
};

static const struct probe_ops *const ops_by_type[] = {
	[CONF_PROBE_TCP] = &probe_tcp_ops,
	[CONF_PROBE_HTTP] = &probe_http_ops,
	[CONF_PROBE_EXEC] = &probe_exec_ops,
};

static const char *const status_names[] = {
	[PROBE_OK] = "ok",
	[PROBE_ERR_CONNECT] = "connect",
	[PROBE_ERR_TIMEOUT] = "timeout",
	[PROBE_ERR_STATUS] = "status",
	[PROBE_ERR_BODY] = "body",
	[PROBE_ERR_TLS] = "tls",
	[PROBE_ERR_EXIT] = "exit",
	[PROBE_ERR_OUTPUT] = "output",
	[PROBE_ERR_LOCAL] = "local",
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *probe_status_str(enum probe_status st)
{
	if ((size_t)st >= N_ELEMS(status_names) || status_names[st] == NULL)
		return "unknown";
	return status_names[st];
}

const char *probe_type_name(enum conf_probe_type t)
{
	if ((size_t)t >= N_ELEMS(ops_by_type) || ops_by_type[t] == NULL)
		return "unknown";
	return ops_by_type[t]->name;
}

/* Hand the stored result to the owner; the probe may be gone afterwards. */
static void deliver(struct probe *p)
{
	probe_done_fn cb = p->cb;
	void *arg = p->arg;
	struct probe_result res = p->result;

	evtimer_del(p->timer);
	event_del(p->defer);
	p->running = false;
	p->cb = NULL;
	p->arg = NULL;
	cb(arg, &res);
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg);
}

/* The one way a run's result is stored; lag is NULL when none was measured. */
static void report(struct probe *p, enum probe_status st, const char *detail,
		   const int64_t *lag)
{
	if (!p->running || p->reported)
		return;
	p->reported = true;
	/* Latency ends now, not when a deferred result is delivered. */
	p->result.latency_ms = (double)(clock_mono_us() - p->start_us) / 1000.0;
	p->result.ok = st == PROBE_OK;
	p->result.status = st;
	snprintf(p->result.detail, sizeof(p->result.detail), "%s", detail ? detail : "");
	/* A lag is only worth believing from a run that succeeded. */
	p->result.has_lag = lag != NULL && st == PROBE_OK;
	p->result.lag = p->result.has_lag ? *lag : 0;
	if (p->starting) {
		struct timeval zero = { 0, 0 };
		evtimer_del(p->timer);
		/* A zero-delay timer cannot fail once created; report if it does. */
		if (event_add(p->defer, &zero) == 0)
			return;
	}
	deliver(p);
}

void probe_report(struct probe *p, enum probe_status st, const char *detail)
{
	report(p, st, detail, NULL);
}

void probe_report_lag(struct probe *p, int64_t lag, const char *detail)
{
	report(p, PROBE_OK, detail, &lag);
}

void probe_vars_init(struct probe_vars *pv, const struct conf_node *node,
		     const struct conf_node *via, const char *cluster)
{
	size_t n = 0;

	memset(pv, 0, sizeof(*pv));
	snprintf(pv->port, sizeof(pv->port), "%u", (unsigned)node->port);
	pv->v[n++] = (struct tmpl_var){ "address", node->address };
	pv->v[n++] = (struct tmpl_var){ "host", node->host };
	pv->v[n++] = (struct tmpl_var){ "port", pv->port };
	pv->v[n++] = (struct tmpl_var){ "node", node->name };
	pv->v[n++] = (struct tmpl_var){ "cluster", cluster };
	if (via != NULL) {
		snprintf(pv->via_port, sizeof(pv->via_port), "%u", (unsigned)via->port);
		pv->v[n++] = (struct tmpl_var){ "via_address", via->address };
		pv->v[n++] = (struct tmpl_var){ "via_host", via->host };
		pv->v[n++] = (struct tmpl_var){ "via_port", pv->via_port };
		pv->v[n++] = (struct tmpl_var){ "via_node", via->name };
	}
	pv->n = n;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char detail[64];

	(void)fd;
	(void)what;
	p->ops->cancel(p->impl);
	snprintf(detail, sizeof(detail), "no answer within %llu ms",
		 (unsigned long long)p->timeout_ms);
	probe_report(p, PROBE_ERR_TIMEOUT, detail);
}

struct probe *probe_new(const struct probe_env *env, const struct conf_probe *conf,
			const struct conf_node *node, const struct conf_node *via,
			const char *cluster, char *err, size_t errlen)
{
	if ((size_t)conf->type >= N_ELEMS(ops_by_type) || ops_by_type[conf->type] == NULL) {
		snprintf(err, errlen, "probe: unknown type %d", (int)conf->type);
		return NULL;
	}
	struct probe *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "probe: out of memory");
		return NULL;
	}
	p->ops = ops_by_type[conf->type];
	p->timeout_ms = conf->timeout_ms;
	p->timer = evtimer_new(env->base, on_timeout, p);
	p->defer = evtimer_new(env->base, on_defer, p);
	if (p->timer == NULL || p->defer == NULL) {
		snprintf(err, errlen, "probe: cannot create timers");
		probe_free(p);
		return NULL;
	}
	p->impl = p->ops->new(env, conf, node, via, cluster, err, errlen);
	if (p->impl == NULL) {
		probe_free(p);
		return NULL;
	}
	return p;
}

int probe_start(struct probe *p, probe_done_fn cb, void *arg)
{
	char err[160];

	if (p->running || cb == NULL)
		return -1;
	p->running = true;
	p->reported = false;
	p->cb = cb;
	p->arg = arg;
	memset(&p->result, 0, sizeof(p->result));
	p->start_us = clock_mono_us();
	if (p->timeout_ms > 0) {
		struct timeval tv = clock_tv_ms(p->timeout_ms);
		if (evtimer_add(p->timer, &tv) < 0) {
			p->running = false;
			return -1;
		}
	}
	err[0] = '\0';
	p->starting = true;
	int rc = p->ops->start(p->impl, p, err, sizeof(err));
	if (rc < 0)
		probe_report(p, PROBE_ERR_LOCAL, err[0] ? err : "cannot start");
	p->starting = false;
	return 0;
}

bool probe_running(const struct probe *p)
{
	return p->running;
}

void probe_cancel(struct probe *p)
{
	if (p == NULL || !p->running)
		return;
	/* A type that already reported has nothing in flight; cancel is a no-op there. */
	if (!p->reported)
		p->ops->cancel(p->impl);
	evtimer_del(p->timer);
	event_del(p->defer);
	p->running = false;
	p->cb = NULL;
	p->arg = NULL;
}

void probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	probe_cancel(p);
	if (p->impl != NULL)
		p->ops->free(p->impl);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->defer != NULL)
		event_free(p->defer);
	free(p);
}
