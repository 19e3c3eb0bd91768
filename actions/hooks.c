/*
 * actions/hooks.c — run an operator hook once: expand its argv, add the
 * VIGIL_* context to the environment, start it through the child runner
 * and turn its exit into ok or "EVENT hook failed: exit 2: <output>".
 * Retrying is the caller's decision, not the hook runner's.
 */
#include "actions/hooks.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "common/log.h"
#include "common/template.h"

#define HOOK_EXCERPT 300

const char *const hook_placeholders[] = {
	"cluster", "node", "address", "old_primary", "new_primary", "epoch",
};
const size_t hook_n_placeholders = sizeof(hook_placeholders) / sizeof(hook_placeholders[0]);

struct hook_job {
	struct child *child;
	act_done_fn cb;
	void *arg;
	char *cluster;
	char *event;
};

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* The VIGIL_* environment for ctx, NULL-terminated; NULL when out of memory. */
static char **env_build(const struct hook_ctx *ctx)
{
	const char *keys[] = {
		"VIGIL_CLUSTER", "VIGIL_EVENT", "VIGIL_OLD_PRIMARY", "VIGIL_NEW_PRIMARY",
		"VIGIL_REASON", "VIGIL_NODE",
	};
	const char *values[] = {
		ctx->cluster, ctx->event, ctx->old_primary, ctx->new_primary,
		ctx->reason, ctx->node,
	};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	char **env = calloc(n + 2, sizeof(*env));

	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&env[i], "%s=%s", keys[i], or_empty(values[i])) < 0) {
			env[i] = NULL;
			env_free(env);
			return NULL;
		}
	}
	if (asprintf(&env[n], "VIGIL_EPOCH=%" PRIu64, ctx->epoch) < 0) {
		env[n] = NULL;
		env_free(env);
		return NULL;
	}
	return env;
}

static void job_free(struct hook_job *job)
{
	free(job->cluster);
	free(job->event);
	free(job);
}

static void hook_done(void *arg, const struct child_result *res)
{
	struct hook_job *job = arg;
	act_done_fn cb = job->cb;
	void *cb_arg = job->arg;
	char desc[128], msg[512];
	bool ok = res->exited && res->exit_code == 0;

	child_result_describe(res, desc, sizeof(desc));
	if (ok) {
		vlog(VLOG_INFO, "hooks", "hook succeeded", "cluster", job->cluster,
		     "event", job->event, NULL);
	} else {
		char out[HOOK_EXCERPT];

		child_output_excerpt(res->output, out, sizeof(out));
		snprintf(msg, sizeof(msg), "%s hook failed: %s%s%s", job->event, desc,
			 out[0] ? ": " : "", out);
		vlog(VLOG_ERR, "hooks", "hook failed", "cluster", job->cluster,
		     "event", job->event, "result", desc, "output", out, NULL);
	}
	job_free(job);
	cb(cb_arg, ok, ok ? NULL : msg);
}

/* Expanded argv for ctx, or NULL with err set. */
static char **argv_build(char *const *argv, const struct hook_ctx *ctx, char *err, size_t errlen)
{
	char epoch[24];
	struct tmpl_var vars[] = {
		{ "cluster", or_empty(ctx->cluster) },
		{ "node", or_empty(ctx->node) },
		{ "address", or_empty(ctx->address) },
		{ "old_primary", or_empty(ctx->old_primary) },
		{ "new_primary", or_empty(ctx->new_primary) },
		{ "epoch", epoch },
	};

	snprintf(epoch, sizeof(epoch), "%" PRIu64, ctx->epoch);
	return tmpl_expand_argv(argv, vars, sizeof(vars) / sizeof(vars[0]), err, errlen);
}

struct hook_job *hook_run(const struct act_env *env, char *const *argv,
			  const struct hook_ctx *ctx, uint64_t timeout_ms,
			  act_done_fn cb, void *arg, char *err, size_t errlen)
{
	const char *event = or_empty(ctx->event);
	struct hook_job *job = NULL;
	char **xargv = NULL, **xenv = NULL, e[256];

	if (!argv || !argv[0]) {
		snprintf(err, errlen, "%s hook: no command", event);
		return NULL;
	}
	xargv = argv_build(argv, ctx, e, sizeof(e));
	if (!xargv) {
		snprintf(err, errlen, "%s hook: expand arguments: %s", event, e);
		return NULL;
	}
	xenv = env_build(ctx);
	job = calloc(1, sizeof(*job));
	if (job) {
		job->cluster = strdup(or_empty(ctx->cluster));
		job->event = strdup(event);
	}
	if (!xenv || !job || !job->cluster || !job->event) {
		snprintf(err, errlen, "%s hook: out of memory", event);
		goto fail;
	}
	job->cb = cb;
	job->arg = arg;
	job->child = child_spawn(env->children, xargv, xenv, timeout_ms, hook_done, job,
				 e, sizeof(e));
	if (!job->child) {
		snprintf(err, errlen, "%s hook: %s", event, e);
		goto fail;
	}
	vlog(VLOG_INFO, "hooks", "hook started", "cluster", job->cluster, "event", event,
	     "command", xargv[0], NULL);
	tmpl_argv_free(xargv);
	env_free(xenv);
	return job;
fail:
	if (job)
		job_free(job);
	tmpl_argv_free(xargv);
	env_free(xenv);
	return NULL;
}

void hook_cancel(struct hook_job *job)
{
	if (!job)
		return;
	child_cancel(job->child);
	vlog(VLOG_WARNING, "hooks", "hook cancelled", "cluster", job->cluster,
	     "event", job->event, NULL);
	job_free(job);
}
