/*
 * actions/haproxy.c — the haproxy balancer's ops (see haproxy.h): with a
 * socket an apply is the Runtime API chain of haproxy_live.c, without one
 * the file job (render_job.h) of haproxy_render.c.  The controller
 * keeps its own copy of the balancer config, so a job in flight survives
 * a config reload that frees the old one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"
#include "common/argv.h"

struct haproxy_ctl {
	struct conf_balancer conf; /* deep copy of what is used */
	bool live;                 /* a socket is configured */
	struct hap_addr addr;
	struct render_job *render;
	struct hap_drain *drain;
	struct hap_live *job;      /* live only */
};

static int hap_apply(void *impl, const struct conf_cluster *cluster,
		     const struct balancer_roles *roles, act_done_fn cb, void *arg,
		     char *err, size_t errlen)
{
	struct haproxy_ctl *h = impl;
	char *text;
	int rc;

	if (h->live)
		return hap_live_start(h->job, cluster, roles, cb, arg, err, errlen);
	text = haproxy_render_backend(&h->conf, cluster, roles);
	if (!text) {
		snprintf(err, errlen, "haproxy %s: render backend: out of memory",
			 h->conf.backend);
		return -1;
	}
	rc = render_job_start(h->render, cluster->name, text, NULL, true, cb, arg, err, errlen);
	free(text);
	return rc;
}

static int hap_drain_op(void *impl, uint64_t timeout_ms, act_done_fn cb, void *arg,
			char *err, size_t errlen)
{
	struct haproxy_ctl *h = impl;

	return hap_drain_start(h->drain, timeout_ms, cb, arg, err, errlen);
}

static void hap_cancel(void *impl)
{
	struct haproxy_ctl *h = impl;

	hap_drain_cancel(h->drain);
	hap_live_cancel(h->job);
	/* The file job puts its previous file back itself. */
	render_job_cancel(h->render);
}

static int str_dup(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -1 : 0;
}

static void hap_free(void *impl)
{
	struct haproxy_ctl *h = impl;

	if (!h)
		return;
	hap_cancel(h);
	hap_live_free(h->job);
	render_job_free(h->render);
	hap_drain_free(h->drain);
	free(h->conf.backend);
	free(h->conf.socket);
	free(h->conf.state_file);
	free(h->conf.file);
	argv_free(h->conf.check);
	argv_free(h->conf.reload);
	free(h->conf.server_options);
	free(h);
}

static int conf_copy(struct conf_balancer *dst, const struct conf_balancer *src)
{
	int rc = 0;

	*dst = *src;
	dst->upstream = NULL;
	dst->pid_file = NULL;
	rc |= str_dup(src->backend, &dst->backend);
	rc |= str_dup(src->socket, &dst->socket);
	rc |= str_dup(src->state_file, &dst->state_file);
	rc |= str_dup(src->file, &dst->file);
	rc |= str_dup(src->server_options, &dst->server_options);
	rc |= argv_dup(src->check, &dst->check);
	rc |= argv_dup(src->reload, &dst->reload);
	return rc;
}

/* What the loader checks too, for callers that build a conf by hand. */
static int conf_valid(const struct conf_balancer *c, char *err, size_t errlen)
{
	if (!c->backend) {
		snprintf(err, errlen, "haproxy balancer: backend is required");
		return -1;
	}
	if (!c->socket && (!c->file || !c->check || !c->check[0] || !c->reload ||
			   !c->reload[0])) {
		snprintf(err, errlen, "haproxy balancer %s: without socket, file, check and "
			 "reload are required", c->backend);
		return -1;
	}
	if (!c->socket && c->state_file) {
		snprintf(err, errlen, "haproxy balancer %s: state_file needs socket", c->backend);
		return -1;
	}
	return 0;
}

static void *hap_new(const struct act_env *env, const struct conf_balancer *conf,
		     char *err, size_t errlen)
{
	struct haproxy_ctl *h;

	if (conf_valid(conf, err, errlen) < 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "haproxy balancer: out of memory");
		return NULL;
	}
	if (conf_copy(&h->conf, conf) < 0) {
		snprintf(err, errlen, "haproxy balancer: out of memory");
		hap_free(h);
		return NULL;
	}
	h->live = conf->socket != NULL;
	if (h->live && hap_addr_parse(conf->socket, &h->addr, err, errlen) < 0) {
		hap_free(h);
		return NULL;
	}
	h->render = hap_render_new(env, &h->conf, err, errlen);
	if (h->render)
		h->drain = hap_drain_new(env->base, &h->conf, h->live ? &h->addr : NULL,
					 err, errlen);
	if (h->render && h->drain && h->live) {
		h->job = hap_live_new(env->base, &h->conf, &h->addr, h->render, h->drain);
		if (!h->job)
			snprintf(err, errlen, "haproxy balancer: out of memory");
	}
	if (!h->render || !h->drain || (h->live && !h->job)) {
		hap_free(h);
		return NULL;
	}
	return h;
}

const struct balancer_ops balancer_haproxy_ops = {
	.name = "haproxy",
	.new = hap_new,
	.apply = hap_apply,
	.drain = hap_drain_op,
	.cancel = hap_cancel,
	.free = hap_free,
};
