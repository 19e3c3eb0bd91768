/*
 * actions/haproxy_render.c — the backend section vigil renders, and the
 * job that puts it in place:
 *
 *   keep the current file's bytes → write the new one atomically → run
 *   check → run reload (without a socket only)
 *
 * Any failure after the write puts the previous bytes back (or removes the
 * file if there was none), so haproxy never loads a file vigil could not
 * verify, and a later reload by the operator does not pick up a
 * half-done change.  The same promise as the nginx controller, kept here
 * for haproxy's own messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"
#include "common/child.h"
#include "common/fsutil.h"
#include "common/log.h"

/* The backend file is vigil's own and tiny; anything larger is not ours. */
#define REN_MAX_FILE (1u << 20)
#define REN_EXCERPT 300

enum ren_phase { REN_IDLE, REN_CHECK, REN_RELOAD };

struct hap_render {
	struct act_env env;
	/* Borrowed from the controller, which outlives the job. */
	const char *backend;
	const char *file;
	char *const *check;  /* NULL: no check */
	char *const *reload; /* NULL: never reload */
	uint64_t timeout_ms;
	/* The job in flight. */
	enum ren_phase phase;
	struct child *child;
	bool do_reload;
	bool pending;  /* new file written, not yet confirmed */
	bool had_prev; /* a file existed before: prev holds its bytes */
	char *prev;
	size_t prev_len;
	char *cluster;
	act_done_fn cb;
	void *arg;
};

char *haproxy_render_backend(const struct conf_balancer *conf,
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
	fprintf(f, "backend %s\n", conf->backend);
	for (size_t i = 0; i < cluster->n_nodes; i++) {
		const struct conf_node *node = &cluster->nodes[i];

		if (i != primary && (conf->standby == CONF_STANDBY_OUT ||
				     (roles->out && roles->out[i])))
			continue;
		fprintf(f, "    server %s %s", node->name, node->address);
		if (conf->server_options && conf->server_options[0])
			fprintf(f, " %s", conf->server_options);
		fputs(i == primary ? "\n" : " backup\n", f);
	}
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

static const char *phase_name(enum ren_phase phase)
{
	return phase == REN_RELOAD ? "reload" : "check";
}

static void job_clear(struct hap_render *r)
{
	r->phase = REN_IDLE;
	r->child = NULL;
	r->pending = false;
	r->had_prev = false;
	free(r->prev);
	r->prev = NULL;
	r->prev_len = 0;
	free(r->cluster);
	r->cluster = NULL;
	r->cb = NULL;
	r->arg = NULL;
}

/* Put back what was there before this job: the old bytes, or no file. */
static int restore_previous(struct hap_render *r, char *err, size_t errlen)
{
	int rc;

	if (r->had_prev)
		rc = fs_write_atomic(r->file, r->prev, r->prev_len, 0644, err, errlen);
	else
		rc = fs_remove_durable(r->file, err, errlen);
	if (rc < 0) {
		vlog(VLOG_ERR, "haproxy", "restoring the previous backend file failed",
		     "cluster", r->cluster, "file", r->file, "error", err, NULL);
		return -1;
	}
	vlog(VLOG_NOTICE, "haproxy", r->had_prev ? "previous backend file restored"
	     : "backend file removed (there was none before)",
	     "cluster", r->cluster, "file", r->file, NULL);
	r->pending = false;
	return 0;
}

/* End the job and report; the callback is last since it may free r. */
static void job_finish(struct hap_render *r, bool ok, const char *error)
{
	act_done_fn cb = r->cb;
	void *arg = r->arg;

	job_clear(r);
	cb(arg, ok, error);
}

static void job_fail(struct hap_render *r, const char *why)
{
	char msg[1024], rerr[256];
	int len;

	len = snprintf(msg, sizeof(msg), "haproxy %s failed: %s", phase_name(r->phase), why);
	vlog(VLOG_ERR, "haproxy", r->phase == REN_RELOAD ? "reload failed" : "check failed",
	     "cluster", r->cluster, "backend", r->backend, "error", why, NULL);
	if (restore_previous(r, rerr, sizeof(rerr)) < 0 && len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len,
			 "; restoring previous file failed: %s", rerr);
	job_finish(r, false, msg);
}

static void step_start(struct hap_render *r, enum ren_phase phase);

/* The file is in place and checked (and reloaded when asked). */
static void job_done(struct hap_render *r)
{
	vlog(VLOG_NOTICE, "haproxy", r->do_reload ? "reloaded" : "backend file written",
	     "cluster", r->cluster, "backend", r->backend, "file", r->file, NULL);
	r->pending = false;
	job_finish(r, true, NULL);
}

static void step_done(void *arg, const struct child_result *res)
{
	struct hap_render *r = arg;
	char desc[128], out[REN_EXCERPT], why[512];
	const char *alert;

	r->child = NULL;
	if (res->exited && res->exit_code == 0) {
		if (r->phase == REN_CHECK && r->do_reload) {
			vlog(VLOG_INFO, "haproxy", "check passed", "cluster", r->cluster,
			     "backend", r->backend, NULL);
			step_start(r, REN_RELOAD);
			return;
		}
		job_done(r);
		return;
	}
	child_result_describe(res, desc, sizeof(desc));
	/* haproxy opens with notices (version, path): the excerpt starts at the problem. */
	alert = strstr(res->output, "[ALERT]");
	child_output_excerpt(alert ? alert : res->output, out, sizeof(out));
	if (out[0])
		snprintf(why, sizeof(why), "%s: %s", desc, out);
	else
		snprintf(why, sizeof(why), "%s", desc);
	job_fail(r, why);
}

static void step_start(struct hap_render *r, enum ren_phase phase)
{
	char *const *argv = phase == REN_CHECK ? r->check : r->reload;
	char err[256];

	r->phase = phase;
	vlog(VLOG_INFO, "haproxy", phase == REN_CHECK ? "running check" : "running reload",
	     "cluster", r->cluster, "backend", r->backend, "command", argv[0], NULL);
	r->child = child_spawn(r->env.children, argv, NULL, r->timeout_ms, step_done, r,
			       err, sizeof(err));
	if (!r->child) {
		char why[300];

		snprintf(why, sizeof(why), "cannot start %s: %s", argv[0], err);
		job_fail(r, why);
	}
}

int hap_render_start(struct hap_render *r, const char *cluster, const char *text, bool reload,
		     act_done_fn cb, void *arg, char *err, size_t errlen)
{
	char e[512];
	int rc;

	if (r->phase != REN_IDLE || r->cb) {
		snprintf(err, errlen, "haproxy %s: a file job is already running", r->backend);
		return -1;
	}
	r->cluster = strdup(cluster);
	if (!r->cluster) {
		snprintf(err, errlen, "haproxy %s: out of memory", r->backend);
		goto fail;
	}
	rc = fs_read_all(r->file, REN_MAX_FILE, &r->prev, &r->prev_len, e, sizeof(e));
	if (rc < 0) {
		snprintf(err, errlen, "haproxy %s: keep previous file: %s", r->backend, e);
		goto fail;
	}
	r->had_prev = rc == 0;
	if (fs_write_atomic(r->file, text, strlen(text), 0644, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "haproxy %s: %s", r->backend, e);
		goto fail;
	}
	r->pending = true;
	r->cb = cb;
	r->arg = arg;
	r->do_reload = reload && r->reload;
	vlog(VLOG_INFO, "haproxy", "backend file written", "cluster", r->cluster,
	     "backend", r->backend, "file", r->file, NULL);
	if (r->check)
		step_start(r, REN_CHECK);
	else if (r->do_reload)
		step_start(r, REN_RELOAD);
	else
		job_done(r);
	return 0;
fail:
	job_clear(r);
	return -1;
}

void hap_render_cancel(struct hap_render *r)
{
	if (!r || !r->cb)
		return;
	if (r->child)
		child_cancel(r->child);
	r->child = NULL;
	vlog(VLOG_WARNING, "haproxy", "file job cancelled", "cluster", r->cluster,
	     "backend", r->backend, "phase", phase_name(r->phase), NULL);
	if (r->pending) {
		char err[256];

		/* Failure is logged inside; nobody is left to report it to. */
		restore_previous(r, err, sizeof(err));
	}
	job_clear(r);
}

struct hap_render *hap_render_new(const struct act_env *env, const struct conf_balancer *conf,
				  char *err, size_t errlen)
{
	struct hap_render *r;

	if ((conf->check || conf->reload) && !env->children) {
		snprintf(err, errlen, "haproxy balancer: no child runner");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "haproxy balancer: out of memory");
		return NULL;
	}
	r->env = *env;
	r->backend = conf->backend;
	r->file = conf->file;
	r->check = conf->check && conf->check[0] ? conf->check : NULL;
	r->reload = conf->reload && conf->reload[0] ? conf->reload : NULL;
	r->timeout_ms = conf->timeout_ms;
	return r;
}

void hap_render_free(struct hap_render *r)
{
	if (!r)
		return;
	hap_render_cancel(r);
	free(r);
}
