/*
 * probes/exec.c — an exec probe: run a command, exit 0 means healthy.
 *
 * argv comes from the config with placeholders expanded once, element by
 * element, and runs without a shell through the child runner.  probe.c's
 * timer decides timeouts; the child's own timeout is only a backstop.
 */
#include "probes/probe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "common/template.h"

#define EXEC_TIMEOUT_MARGIN_MS 1000

struct exec_probe {
	struct child_runner *runner;
	char **argv;
	uint64_t timeout_ms; /* the child's backstop, 0 = none */
	struct child *child; /* the run in flight, or NULL */
	struct probe *owner;
};

static void *exec_new(const struct probe_env *env, const struct conf_probe *conf,
		      const struct conf_node *node, const char *cluster,
		      char *err, size_t errlen)
{
	char port[8];

	if (conf->argv == NULL || conf->argv[0] == NULL) {
		snprintf(err, errlen, "exec probe: empty command");
		return NULL;
	}
	struct exec_probe *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		snprintf(err, errlen, "exec probe: out of memory");
		return NULL;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)node->port);
	const struct tmpl_var vars[] = {
		{ "address", node->address }, { "host", node->host }, { "port", port },
		{ "node", node->name }, { "cluster", cluster },
	};
	x->argv = tmpl_expand_argv(conf->argv, vars, sizeof(vars) / sizeof(vars[0]),
				   err, errlen);
	if (x->argv == NULL) {
		free(x);
		return NULL;
	}
	x->runner = env->children;
	x->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms + EXEC_TIMEOUT_MARGIN_MS : 0;
	return x;
}

/*
 * "exit 2: first line of output".  Control characters become spaces: the
 * detail ends up in log lines and JSON.
 */
static void describe(const struct child_result *res, char *detail, size_t len)
{
	char what[64];
	size_t used;

	child_result_describe(res, what, sizeof(what));
	snprintf(detail, len, "%s", what);
	used = strlen(detail);
	if (res->output_len == 0 || used + 3 >= len)
		return;
	snprintf(detail + used, len - used, ": %.*s", (int)res->output_len, res->output);
	for (char *p = detail + used + 2; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	/* Trailing newlines turned to spaces are noise. */
	for (size_t n = strlen(detail); n > used + 2 && detail[n - 1] == ' '; n--)
		detail[n - 1] = '\0';
}

static void on_exit_done(void *arg, const struct child_result *res)
{
	struct exec_probe *x = arg;
	char detail[160];

	x->child = NULL;
	if (res->exited && res->exit_code == 0 && !res->timed_out) {
		probe_report(x->owner, PROBE_OK, "exit 0");
		return;
	}
	describe(res, detail, sizeof(detail));
	probe_report(x->owner, res->timed_out ? PROBE_ERR_TIMEOUT : PROBE_ERR_EXIT, detail);
}

static int exec_start(void *impl, struct probe *owner, char *err, size_t errlen)
{
	struct exec_probe *x = impl;

	x->owner = owner;
	x->child = child_spawn(x->runner, x->argv, NULL, x->timeout_ms,
			       on_exit_done, x, err, errlen);
	return x->child != NULL ? 0 : -1;
}

static void exec_cancel(void *impl)
{
	struct exec_probe *x = impl;

	if (x->child != NULL) {
		child_cancel(x->child);
		x->child = NULL;
	}
}

static void exec_free(void *impl)
{
	struct exec_probe *x = impl;

	if (x == NULL)
		return;
	exec_cancel(x);
	tmpl_argv_free(x->argv);
	free(x);
}

const struct probe_ops probe_exec_ops = {
	.name = "exec",
	.new = exec_new,
	.start = exec_start,
	.cancel = exec_cancel,
	.free = exec_free,
};
