/*
 * actions/nginx.c — the nginx balancer.  One apply renders the upstream
 * block and hands it to the file job (render_job.h): write atomically,
 * check, reload, and the previous bytes back on any failure.  The
 * controller keeps its own copy of the balancer config so a job in flight
 * survives a config reload that frees the old one.
 *
 * The drain (nginx_drain.c) is told when a reload is about to run and when
 * it has succeeded, so it knows which old workers carry the old routing.
 */
#include "actions/nginx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/balancer.h"
#include "actions/render_job.h"
#include "common/argv.h"

/* Rendered server statements are padded so the comments line up. */
#define NGX_STMT_WIDTH 32

struct nginx_ctl {
	struct conf_balancer conf; /* deep copy (without pid_file: the drain keeps that) */
	struct render_job *job;
	struct ngx_drain *drain;
};

static void render_server(FILE *f, const struct conf_balancer *conf,
			  const struct conf_node *node, bool primary)
{
	int n = fprintf(f, "server %s", node->address);

	if (conf->server_options && conf->server_options[0])
		n += fprintf(f, " %s", conf->server_options);
	if (!primary)
		n += fprintf(f, " backup");
	n += fprintf(f, ";");
	n = n < NGX_STMT_WIDTH ? NGX_STMT_WIDTH - n : 1;
	fprintf(f, "%*s# %s %s\n", n, "", node->name, primary ? "primary" : "standby");
}

char *nginx_render_upstream(const struct conf_balancer *conf,
			    const struct conf_cluster *cluster,
			    const struct balancer_roles *roles)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = render_text_open(cluster, roles, &buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "upstream %s {\n", conf->upstream);
	for (size_t i = 0; i < cluster->n_nodes; i++) {
		if (!render_text_lists(conf, roles, i))
			continue;
		fputs("    ", f);
		render_server(f, conf, &cluster->nodes[i], i == roles->primary);
	}
	fputs("}\n", f);
	return render_text_close(f, &buf);
}

/* Hooks of the file job: the drain learns which workers the reload retires. */
static void before_reload(void *arg)
{
	struct nginx_ctl *n = arg;

	/* The workers serving now are the ones this reload retires. */
	ngx_drain_note_workers(n->drain);
}

static void reloaded(void *arg)
{
	struct nginx_ctl *n = arg;

	ngx_drain_reloaded(n->drain);
}

static int ngx_apply(void *impl, const struct conf_cluster *cluster,
		     const struct balancer_roles *roles, act_done_fn cb, void *arg,
		     char *err, size_t errlen)
{
	struct nginx_ctl *n = impl;
	char *text = nginx_render_upstream(&n->conf, cluster, roles);
	int rc;

	if (!text) {
		snprintf(err, errlen, "nginx %s: render upstream: out of memory", n->conf.upstream);
		return -1;
	}
	rc = render_job_start(n->job, cluster->name, text, cluster->nodes[roles->primary].name,
			      true, cb, arg, err, errlen);
	free(text);
	/* Until this apply's reload has run, drains cannot see the old traffic. */
	if (rc == 0)
		ngx_drain_apply_started(n->drain);
	return rc;
}

static int ngx_drain(void *impl, uint64_t timeout_ms, act_done_fn cb, void *arg,
		     char *err, size_t errlen)
{
	struct nginx_ctl *n = impl;

	return ngx_drain_start(n->drain, timeout_ms, cb, arg, err, errlen);
}

static void ngx_cancel(void *impl)
{
	struct nginx_ctl *n = impl;

	ngx_drain_cancel(n->drain);
	/* The file job puts its previous file back itself. */
	render_job_cancel(n->job);
}

static void ngx_free(void *impl)
{
	struct nginx_ctl *n = impl;

	if (!n)
		return;
	ngx_cancel(n);
	render_job_free(n->job);
	ngx_drain_free(n->drain);
	free(n->conf.upstream);
	free(n->conf.file);
	argv_free(n->conf.check);
	argv_free(n->conf.reload);
	free(n->conf.server_options);
	free(n);
}

/* Copy what the controller uses from conf; -1 on allocation failure. */
static int conf_copy(struct conf_balancer *dst, const struct conf_balancer *src)
{
	int oom;

	*dst = *src;
	dst->upstream = strdup(src->upstream);
	dst->file = strdup(src->file);
	oom = argv_dup(src->check, &dst->check) < 0;
	oom |= argv_dup(src->reload, &dst->reload) < 0;
	dst->server_options = src->server_options ? strdup(src->server_options) : NULL;
	dst->pid_file = NULL;
	if (oom || !dst->upstream || !dst->file || !dst->check || !dst->reload ||
	    (src->server_options && !dst->server_options))
		return -1;
	return 0;
}

/* The file job, in nginx's words; it borrows n->conf. */
static struct render_job *job_new(struct nginx_ctl *n, const struct act_env *env,
				  char *err, size_t errlen)
{
	const struct render_job_conf jc = {
		.component = "nginx", .kind = "upstream", .job_noun = "job",
		.name = n->conf.upstream, .file = n->conf.file,
		.check = n->conf.check, .reload = n->conf.reload,
		.timeout_ms = n->conf.timeout_ms,
		.before_reload = before_reload, .reloaded = reloaded, .hook_arg = n,
	};

	return render_job_new(env, &jc, err, errlen);
}

static void *ngx_new(const struct act_env *env, const struct conf_balancer *conf,
		     char *err, size_t errlen)
{
	struct nginx_ctl *n;

	if (!conf->upstream || !conf->file || !conf->check || !conf->check[0] ||
	    !conf->reload || !conf->reload[0]) {
		snprintf(err, errlen, "nginx balancer: upstream, file, check and reload are required");
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "nginx balancer: out of memory");
		return NULL;
	}
	if (conf_copy(&n->conf, conf) < 0) {
		snprintf(err, errlen, "nginx balancer: out of memory");
		ngx_free(n);
		return NULL;
	}
	n->job = job_new(n, env, err, errlen);
	if (n->job)
		n->drain = ngx_drain_new(env->base, conf->upstream, conf->pid_file, err, errlen);
	if (!n->drain) {
		ngx_free(n);
		return NULL;
	}
	return n;
}

const struct balancer_ops balancer_nginx_ops = {
	.name = "nginx",
	.new = ngx_new,
	.apply = ngx_apply,
	.drain = ngx_drain,
	.cancel = ngx_cancel,
	.free = ngx_free,
};
