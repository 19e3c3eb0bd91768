/*
 * actions/render_job.c — see render_job.h: the frame of a rendered file,
 * and the job that puts it in place.  One job at a time: the previous
 * bytes are held until check and reload have both passed, so a failure at
 * any step (or a cancel) can put them back.
 */
#include "actions/render_job.h"
#include "actions/render_mark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "common/fsutil.h"
#include "common/log.h"

/* The rendered file is vigil's own and tiny; anything larger is not ours. */
#define RJ_MAX_FILE (1u << 20)
/* How much of a failing command's output goes into the error text. */
#define RJ_EXCERPT 300

enum rj_phase { RJ_IDLE, RJ_CHECK, RJ_RELOAD };

struct render_job {
	struct act_env env;
	struct render_job_conf conf;
	/* The job in flight: cb is set from start to the end. */
	enum rj_phase phase;
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

FILE *render_text_open(const struct conf_cluster *cluster, const struct balancer_roles *roles,
		       char **buf, size_t *len)
{
	size_t primary = roles->primary;
	FILE *f;

	if (primary >= cluster->n_nodes || (roles->out && roles->out[primary]))
		return NULL;
	f = open_memstream(buf, len);
	if (f)
		render_mark_write(f, cluster->name, cluster->nodes[primary].name, roles->epoch);
	return f;
}

bool render_text_lists(const struct conf_balancer *conf, const struct balancer_roles *roles,
		       size_t i)
{
	if (i == roles->primary)
		return true;
	return conf->standby != CONF_STANDBY_OUT && !(roles->out && roles->out[i]);
}

char *render_text_close(FILE *f, char **buf)
{
	bool failed = ferror(f) != 0;

	if (fclose(f) != 0 || failed) {
		free(*buf);
		*buf = NULL;
	}
	return *buf;
}

static const char *phase_name(enum rj_phase phase)
{
	return phase == RJ_RELOAD ? "reload" : "check";
}

static void job_clear(struct render_job *j)
{
	j->phase = RJ_IDLE;
	j->child = NULL;
	j->pending = false;
	j->had_prev = false;
	free(j->prev);
	j->prev = NULL;
	j->prev_len = 0;
	free(j->cluster);
	j->cluster = NULL;
	j->cb = NULL;
	j->arg = NULL;
}

/* Put back what was there before this job: the old bytes, or no file. */
static int restore_previous(struct render_job *j, char *err, size_t errlen)
{
	const struct render_job_conf *c = &j->conf;
	char msg[128];
	int rc;

	if (j->had_prev)
		rc = fs_write_atomic(c->file, j->prev, j->prev_len, 0644, err, errlen);
	else
		rc = fs_remove_durable(c->file, err, errlen);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "restoring the previous %s file failed", c->kind);
		vlog(VLOG_ERR, c->component, msg, "cluster", j->cluster, "file", c->file,
		     "error", err, NULL);
		return -1;
	}
	if (j->had_prev)
		snprintf(msg, sizeof(msg), "previous %s file restored", c->kind);
	else
		snprintf(msg, sizeof(msg), "%s file removed (there was none before)", c->kind);
	vlog(VLOG_NOTICE, c->component, msg, "cluster", j->cluster, "file", c->file, NULL);
	j->pending = false;
	return 0;
}

/* End the job and report; the callback is last since it may free j. */
static void job_finish(struct render_job *j, bool ok, const char *error)
{
	act_done_fn cb = j->cb;
	void *arg = j->arg;

	job_clear(j);
	cb(arg, ok, error);
}

/* The step in j->phase failed with WHY: roll back, log, report. */
static void job_fail(struct render_job *j, const char *why)
{
	const struct render_job_conf *c = &j->conf;
	char msg[1024], rerr[256];
	int len;

	len = snprintf(msg, sizeof(msg), "%s %s failed: %s", c->component, phase_name(j->phase),
		       why);
	vlog(VLOG_ERR, c->component, j->phase == RJ_RELOAD ? "reload failed" : "check failed",
	     "cluster", j->cluster, c->kind, c->name, "error", why, NULL);
	if (restore_previous(j, rerr, sizeof(rerr)) < 0 && len >= 0 && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len,
			 "; restoring previous file failed: %s", rerr);
	job_finish(j, false, msg);
}

/* The file is in place and checked (and reloaded when asked). */
static void job_done(struct render_job *j)
{
	const struct render_job_conf *c = &j->conf;
	char msg[64];

	snprintf(msg, sizeof(msg), "%s file written", c->kind);
	vlog(VLOG_NOTICE, c->component, j->do_reload ? "reloaded" : msg, "cluster", j->cluster,
	     c->kind, c->name, "file", c->file, NULL);
	if (j->do_reload && c->reloaded)
		c->reloaded(c->hook_arg);
	j->pending = false;
	job_finish(j, true, NULL);
}

static void step_start(struct render_job *j, enum rj_phase phase);

static void step_done(void *arg, const struct child_result *res)
{
	struct render_job *j = arg;
	const struct render_job_conf *c = &j->conf;
	char desc[128], out[RJ_EXCERPT], why[512];
	const char *from = NULL;

	j->child = NULL;
	if (res->exited && res->exit_code == 0) {
		if (j->phase == RJ_CHECK && j->do_reload) {
			vlog(VLOG_INFO, c->component, "check passed", "cluster", j->cluster,
			     c->kind, c->name, NULL);
			step_start(j, RJ_RELOAD);
			return;
		}
		job_done(j);
		return;
	}
	child_result_describe(res, desc, sizeof(desc));
	/* Some tools open with notices (haproxy: version, path): start at the problem. */
	if (c->excerpt_from)
		from = strstr(res->output, c->excerpt_from);
	child_output_excerpt(from ? from : res->output, out, sizeof(out));
	if (out[0])
		snprintf(why, sizeof(why), "%s: %s", desc, out);
	else
		snprintf(why, sizeof(why), "%s", desc);
	job_fail(j, why);
}

static void step_start(struct render_job *j, enum rj_phase phase)
{
	const struct render_job_conf *c = &j->conf;
	char *const *argv = phase == RJ_CHECK ? c->check : c->reload;
	char err[256];

	j->phase = phase;
	if (phase == RJ_RELOAD && c->before_reload)
		c->before_reload(c->hook_arg);
	vlog(VLOG_INFO, c->component, phase == RJ_CHECK ? "running check" : "running reload",
	     "cluster", j->cluster, c->kind, c->name, "command", argv[0], NULL);
	j->child = child_spawn(j->env.children, argv, NULL, c->timeout_ms, step_done, j,
			       err, sizeof(err));
	if (!j->child) {
		char why[300];

		snprintf(why, sizeof(why), "cannot start %s: %s", argv[0], err);
		job_fail(j, why);
	}
}

/* Keep the current bytes, then write TEXT; -1 with err (the file is as it was). */
static int write_new(struct render_job *j, const char *text, char *err, size_t errlen)
{
	const struct render_job_conf *c = &j->conf;
	char e[512];
	int rc;

	rc = fs_read_all(c->file, RJ_MAX_FILE, &j->prev, &j->prev_len, e, sizeof(e));
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: keep previous file: %s", c->component, c->name, e);
		return -1;
	}
	j->had_prev = rc == 0;
	if (fs_write_atomic(c->file, text, strlen(text), 0644, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s %s: %s", c->component, c->name, e);
		return -1;
	}
	j->pending = true;
	return 0;
}

int render_job_start(struct render_job *j, const char *cluster, const char *text,
		     const char *primary, bool reload, act_done_fn cb, void *arg,
		     char *err, size_t errlen)
{
	const struct render_job_conf *c = &j->conf;
	char msg[64];

	if (j->cb) {
		snprintf(err, errlen, "%s %s: a %s is already running", c->component, c->name,
			 c->job_noun);
		return -1;
	}
	j->cluster = strdup(cluster);
	if (!j->cluster) {
		snprintf(err, errlen, "%s %s: out of memory", c->component, c->name);
		job_clear(j);
		return -1;
	}
	if (write_new(j, text, err, errlen) < 0) {
		job_clear(j);
		return -1;
	}
	j->cb = cb;
	j->arg = arg;
	j->do_reload = reload && c->reload;
	snprintf(msg, sizeof(msg), "%s file written", c->kind);
	/* Without a primary its key ends the field list. */
	vlog(VLOG_INFO, c->component, msg, "cluster", j->cluster, c->kind, c->name,
	     "file", c->file, primary ? "primary" : NULL, primary, NULL);
	if (c->check)
		step_start(j, RJ_CHECK);
	else if (j->do_reload)
		step_start(j, RJ_RELOAD);
	else
		job_done(j);
	return 0;
}

void render_job_cancel(struct render_job *j)
{
	const struct render_job_conf *c;
	char msg[64];

	if (!j || !j->cb)
		return;
	c = &j->conf;
	if (j->child)
		child_cancel(j->child);
	j->child = NULL;
	snprintf(msg, sizeof(msg), "%s cancelled", c->job_noun);
	vlog(VLOG_WARNING, c->component, msg, "cluster", j->cluster, c->kind, c->name,
	     "phase", phase_name(j->phase), NULL);
	if (j->pending) {
		char err[256];

		/* Failure is logged inside; nobody is left to report it to. */
		restore_previous(j, err, sizeof(err));
	}
	job_clear(j);
}

struct render_job *render_job_new(const struct act_env *env, const struct render_job_conf *conf,
				  char *err, size_t errlen)
{
	struct render_job *j;

	if ((conf->check || conf->reload) && !env->children) {
		snprintf(err, errlen, "%s balancer: no child runner", conf->component);
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "%s balancer: out of memory", conf->component);
		return NULL;
	}
	j->env = *env;
	j->conf = *conf;
	if (!(conf->check && conf->check[0]))
		j->conf.check = NULL;
	if (!(conf->reload && conf->reload[0]))
		j->conf.reload = NULL;
	return j;
}

void render_job_free(struct render_job *j)
{
	if (!j)
		return;
	render_job_cancel(j);
	free(j);
}
