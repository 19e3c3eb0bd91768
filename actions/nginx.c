/*
 * actions/nginx.c — the nginx balancer.  One apply is a small job:
 *
 *   read the current file (kept byte for byte) → write the new one
 *   atomically → run the check command → run the reload command
 *
 * Any failure after the write puts the previous bytes back (or removes
 * the file if there was none), so nginx never loads a file vigil could not
 * verify, and a later reload by the operator does not pick up a half-done
 * change.  The controller keeps its own copy of the balancer config so a
 * job in flight survives a config reload that frees the old one.
 *
 * The drain (nginx_drain.c) is told when a reload is about to run and when
 * it has succeeded, so it knows which old workers carry the old routing.
 */
#include "actions/nginx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/balancer.h"
#include "common/child.h"
#include "common/fsutil.h"
#include "common/log.h"

/* The upstream file is vigil's own and tiny; anything larger is not ours. */
#define NGX_MAX_FILE (1u << 20)
/* How much of a failing command's output goes into the error text. */
#define NGX_EXCERPT 300
/* Rendered server statements are padded so the comments line up. */
#define NGX_STMT_WIDTH 32

enum ngx_phase { NGX_IDLE, NGX_CHECK, NGX_RELOAD };

struct nginx_ctl {
	struct act_env env;
	struct conf_balancer conf; /* deep copy (without pid_file: the drain keeps that) */
	struct ngx_drain *drain;
	/* The job in flight. */
	enum ngx_phase phase;
	struct child *child;
	bool pending;  /* new file written, not yet confirmed by check + reload */
	bool had_prev; /* a file existed before: prev holds its bytes */
	char *prev;
	size_t prev_len;
	char *cluster;
	act_done_fn cb;
	void *arg;
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
	size_t primary = roles->primary;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (primary >= cluster->n_nodes || (roles->out && roles->out[primary]))
		return NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "# Managed by vigil: do not edit. Cluster %s, primary %s.\n",
		cluster->name, cluster->nodes[primary].name);
	fprintf(f, "upstream %s {\n", conf->upstream);
	for (size_t i = 0; i < cluster->n_nodes; i++) {
		if (i != primary && (conf->standby == CONF_STANDBY_OUT ||
				     (roles->out && roles->out[i])))
			continue;
		fputs("    ", f);
		render_server(f, conf, &cluster->nodes[i], i == primary);
	}
	fputs("}\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static const char *phase_name(enum ngx_phase phase)
{
	return phase == NGX_RELOAD ? "reload" : "check";
}

static void job_clear(struct nginx_ctl *n)
{
	n->phase = NGX_IDLE;
	n->child = NULL;
	n->pending = false;
	n->had_prev = false;
	free(n->prev);
	n->prev = NULL;
	n->prev_len = 0;
	free(n->cluster);
	n->cluster = NULL;
	n->cb = NULL;
	n->arg = NULL;
}

/* Put back what was there before this job: the old bytes, or no file. */
static int restore_previous(struct nginx_ctl *n, char *err, size_t errlen)
{
	int rc;

	if (n->had_prev)
		rc = fs_write_atomic(n->conf.file, n->prev, n->prev_len, 0644, err, errlen);
	else
		rc = fs_remove_durable(n->conf.file, err, errlen);
	if (rc < 0) {
		vlog(VLOG_ERR, "nginx", "restoring the previous upstream file failed",
		     "cluster", n->cluster, "file", n->conf.file, "error", err, NULL);
		return -1;
	}
	vlog(VLOG_NOTICE, "nginx", n->had_prev ? "previous upstream file restored"
		     : "upstream file removed (there was none before)",
	     "cluster", n->cluster, "file", n->conf.file, NULL);
	n->pending = false;
	return 0;
}

/* End the job and report; the callback is last since it may free n. */
static void job_finish(struct nginx_ctl *n, bool ok, const char *error)
{
	act_done_fn cb = n->cb;
	void *arg = n->arg;

	job_clear(n);
	cb(arg, ok, error);
}

/* The step in PHASE failed with WHY: roll back, log, report. */
static void job_fail(struct nginx_ctl *n, const char *why)
{
	char msg[1024], rerr[256];
	const char *phase = phase_name(n->phase);
	int len;

	len = snprintf(msg, sizeof(msg), "nginx %s failed: %s", phase, why);
	vlog(VLOG_ERR, "nginx", n->phase == NGX_RELOAD ? "reload failed" : "check failed",
	     "cluster", n->cluster, "upstream", n->conf.upstream, "error", why, NULL);
	if (restore_previous(n, rerr, sizeof(rerr)) < 0 && len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len,
			 "; restoring previous file failed: %s", rerr);
	job_finish(n, false, msg);
}

static void step_start(struct nginx_ctl *n, enum ngx_phase phase);

static void step_done(void *arg, const struct child_result *res)
{
	struct nginx_ctl *n = arg;
	char desc[128], out[NGX_EXCERPT], why[512];

	n->child = NULL;
	if (res->exited && res->exit_code == 0) {
		if (n->phase == NGX_CHECK) {
			vlog(VLOG_INFO, "nginx", "check passed", "cluster", n->cluster,
			     "upstream", n->conf.upstream, NULL);
			step_start(n, NGX_RELOAD);
			return;
		}
		vlog(VLOG_NOTICE, "nginx", "reloaded", "cluster", n->cluster,
		     "upstream", n->conf.upstream, "file", n->conf.file, NULL);
		ngx_drain_reloaded(n->drain);
		n->pending = false;
		job_finish(n, true, NULL);
		return;
	}
	child_result_describe(res, desc, sizeof(desc));
	child_output_excerpt(res->output, out, sizeof(out));
	if (out[0])
		snprintf(why, sizeof(why), "%s: %s", desc, out);
	else
		snprintf(why, sizeof(why), "%s", desc);
	job_fail(n, why);
}

static void step_start(struct nginx_ctl *n, enum ngx_phase phase)
{
	char *const *argv = phase == NGX_CHECK ? n->conf.check : n->conf.reload;
	char err[256];

	n->phase = phase;
	/* The workers serving now are the ones this reload retires. */
	if (phase == NGX_RELOAD)
		ngx_drain_note_workers(n->drain);
	vlog(VLOG_INFO, "nginx", phase == NGX_CHECK ? "running check" : "running reload",
	     "cluster", n->cluster, "upstream", n->conf.upstream, "command", argv[0], NULL);
	n->child = child_spawn(n->env.children, argv, NULL, n->conf.timeout_ms,
			       step_done, n, err, sizeof(err));
	if (!n->child) {
		char why[300];

		snprintf(why, sizeof(why), "cannot start %s: %s", argv[0], err);
		job_fail(n, why);
	}
}

static int ngx_apply(void *impl, const struct conf_cluster *cluster,
		     const struct balancer_roles *roles, act_done_fn cb, void *arg,
		     char *err, size_t errlen)
{
	struct nginx_ctl *n = impl;
	char e[512], *text;
	int rc;

	if (n->phase != NGX_IDLE) {
		snprintf(err, errlen, "nginx %s: a job is already running", n->conf.upstream);
		return -1;
	}
	text = nginx_render_upstream(&n->conf, cluster, roles);
	n->cluster = strdup(cluster->name);
	if (!text || !n->cluster) {
		snprintf(err, errlen, "nginx %s: render upstream: out of memory", n->conf.upstream);
		goto fail;
	}
	rc = fs_read_all(n->conf.file, NGX_MAX_FILE, &n->prev, &n->prev_len, e, sizeof(e));
	if (rc < 0) {
		snprintf(err, errlen, "nginx %s: keep previous file: %s", n->conf.upstream, e);
		goto fail;
	}
	n->had_prev = rc == 0;
	if (fs_write_atomic(n->conf.file, text, strlen(text), 0644, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "nginx %s: %s", n->conf.upstream, e);
		goto fail;
	}
	free(text);
	n->pending = true;
	n->cb = cb;
	n->arg = arg;
	ngx_drain_apply_started(n->drain);
	vlog(VLOG_INFO, "nginx", "upstream file written", "cluster", n->cluster,
	     "upstream", n->conf.upstream, "file", n->conf.file,
	     "primary", cluster->nodes[roles->primary].name, NULL);
	step_start(n, NGX_CHECK);
	return 0;
fail:
	free(text);
	job_clear(n);
	return -1;
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
	if (n->phase == NGX_IDLE)
		return;
	if (n->child)
		child_cancel(n->child);
	n->child = NULL;
	vlog(VLOG_WARNING, "nginx", "job cancelled", "cluster", n->cluster,
	     "upstream", n->conf.upstream, "phase", phase_name(n->phase), NULL);
	if (n->pending) {
		char err[256];

		/* Failure is logged inside; nobody is left to report it to. */
		restore_previous(n, err, sizeof(err));
	}
	job_clear(n);
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static char **argv_dup(char *const *argv)
{
	size_t n = 0;
	char **copy;

	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	for (size_t i = 0; copy && i < n; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			argv_free(copy);
			return NULL;
		}
	}
	return copy;
}

static void ngx_free(void *impl)
{
	struct nginx_ctl *n = impl;

	if (!n)
		return;
	ngx_cancel(n);
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
	*dst = *src;
	dst->upstream = strdup(src->upstream);
	dst->file = strdup(src->file);
	dst->check = argv_dup(src->check);
	dst->reload = argv_dup(src->reload);
	dst->server_options = src->server_options ? strdup(src->server_options) : NULL;
	dst->pid_file = NULL;
	if (!dst->upstream || !dst->file || !dst->check || !dst->reload ||
	    (src->server_options && !dst->server_options))
		return -1;
	return 0;
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
	if (!env->children) {
		snprintf(err, errlen, "nginx balancer: no child runner");
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "nginx balancer: out of memory");
		return NULL;
	}
	n->env = *env;
	if (conf_copy(&n->conf, conf) < 0) {
		snprintf(err, errlen, "nginx balancer: out of memory");
		ngx_free(n);
		return NULL;
	}
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
