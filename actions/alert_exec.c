/*
 * actions/alert_exec.c — the exec sink's request: the event as VIGIL_*
 * environment variables for the sink's command (run by the alerter through
 * the child runner, as argv, never through a shell).  Nothing from the
 * event goes into argv, so no value can be mistaken for an option or a
 * second command.  Exit 0 is delivered; anything else is retried.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "actions/alert_int.h"
#include "common/clock.h"

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static int exec_build(const struct alert_ctx *c, const struct alert_event *ev,
		      struct alert_req *req)
{
	const char *keys[] = {
		"VIGIL_CLUSTER", "VIGIL_EVENT", "VIGIL_SEVERITY", "VIGIL_NODE",
		"VIGIL_OLD_PRIMARY", "VIGIL_NEW_PRIMARY", "VIGIL_REASON",
	};
	const char *values[] = {
		ev->cluster, ev->event, ev->severity, ev->node,
		ev->old_primary, ev->new_primary, ev->reason,
	};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	char ts[40], **env = calloc(n + 3, sizeof(*env));

	(void)c;
	if (!env)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&env[i], "%s=%s", keys[i], values[i] ? values[i] : "") < 0) {
			env[i] = NULL;
			goto oom;
		}
	}
	if (asprintf(&env[n], "VIGIL_EPOCH=%" PRIu64, ev->epoch) < 0) {
		env[n] = NULL;
		goto oom;
	}
	/* When the event happened: a retry may run the command much later. */
	clock_iso8601(ts, sizeof(ts));
	if (asprintf(&env[n + 1], "VIGIL_TIMESTAMP=%s", ts) < 0) {
		env[n + 1] = NULL;
		goto oom;
	}
	req->env = env;
	return 0;
oom:
	env_free(env);
	return -1;
}

const struct alert_format alert_fmt_exec = {
	.name = "exec",
	.exec = true,
	.build = exec_build,
};
