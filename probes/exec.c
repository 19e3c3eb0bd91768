/*
 * probes/exec.c — an exec probe: run a command, exit 0 means healthy.
 *
 * argv comes from the config with placeholders expanded once, element by
 * element, and runs without a shell through the child runner.  probe.c's
 * timer decides timeouts; the child's own timeout is only a backstop.
 *
 * A lag probe's program also prints the node's replication lag as the
 * first word of its output.  The child runner captures stdout and stderr
 * on one pipe, so a program that warns on stderr before printing the
 * number fails the run: better a failed vote than a wrong lag.
 */
#include "probes/probe_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"

#define EXEC_TIMEOUT_MARGIN_MS 1000

struct exec_probe {
	struct child_runner *runner;
	char **argv;
	uint64_t timeout_ms; /* the child's backstop, 0 = none */
	bool lag;            /* the output's first word is the node's lag */
	struct child *child; /* the run in flight, or NULL */
	struct probe *owner;
};

static void *exec_new(const struct probe_env *env, const struct conf_probe *conf,
		      const struct conf_node *node, const struct conf_node *via,
		      const char *cluster, char *err, size_t errlen)
{
	struct probe_vars pv;

	if (conf->argv == NULL || conf->argv[0] == NULL) {
		snprintf(err, errlen, "exec probe: empty command");
		return NULL;
	}
	struct exec_probe *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		snprintf(err, errlen, "exec probe: out of memory");
		return NULL;
	}
	probe_vars_init(&pv, node, via, cluster);
	x->argv = tmpl_expand_argv(conf->argv, pv.v, pv.n, err, errlen);
	if (x->argv == NULL) {
		char why[192];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "exec probe: command: %s", why);
		free(x);
		return NULL;
	}
	x->lag = conf->lag;
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

/* Where the first whitespace-separated word of out[0..len) starts; its length. */
static size_t first_word(const char *out, size_t len, const char **word)
{
	size_t i = 0, n = 0;

	while (i < len && isspace((unsigned char)out[i]))
		i++;
	while (i + n < len && !isspace((unsigned char)out[i + n]))
		n++;
	*word = out + i;
	return n;
}

/* Up to 40 bytes of word for a detail, control bytes as '?', "..." if cut. */
static void show_word(const char *word, size_t n, char *buf, size_t len)
{
	size_t k = 0;

	for (; k < n && k < 40 && k + 4 < len; k++)
		buf[k] = (unsigned char)word[k] < 0x20 || word[k] == 0x7f ? '?' : word[k];
	snprintf(buf + k, len - k, "%s", k < n ? "..." : "");
}

/*
 * The lag a healthy run printed, or -1 with detail saying why there is
 * none.  The whole word must be the number: "12ms" or "1e3" could mean
 * anything, and a wrong lag is worse than none.
 */
static int parse_lag(const struct child_result *res, int64_t *lag, char *detail, size_t len)
{
	const char *word;
	size_t n = first_word(res->output, res->output_len, &word);
	char shown[48];
	char *end;

	if (n == 0) {
		snprintf(detail, len, "lag: expected an integer, got no output");
		return -1;
	}
	/*
	 * The output is NUL-terminated and the word ends at a space, a NUL or
	 * the end, so strtoll stays inside it; an embedded NUL stops it short
	 * of the word's end and fails the check like any other stray byte.
	 */
	errno = 0;
	long long v = strtoll(word, &end, 10);
	bool whole = end == word + n;
	bool range = errno == ERANGE;
	if (whole && !range) {
		*lag = (int64_t)v;
		return 0;
	}
	show_word(word, n, shown, sizeof(shown));
	if (whole)
		snprintf(detail, len, "lag: %s is out of range", shown);
	else
		snprintf(detail, len, "lag: expected an integer, got \"%s\"", shown);
	return -1;
}

static void on_exit_done(void *arg, const struct child_result *res)
{
	struct exec_probe *x = arg;
	char detail[160];
	int64_t lag;

	x->child = NULL;
	if (res->exited && res->exit_code == 0 && !res->timed_out) {
		if (!x->lag) {
			probe_report(x->owner, PROBE_OK, "exit 0");
			return;
		}
		if (parse_lag(res, &lag, detail, sizeof(detail)) < 0) {
			probe_report(x->owner, PROBE_ERR_OUTPUT, detail);
			return;
		}
		snprintf(detail, sizeof(detail), "lag %lld", (long long)lag);
		probe_report_lag(x->owner, lag, detail);
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
