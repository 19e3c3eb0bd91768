/*
 * monitor/backup_drill.c — drills of a backup job: the latest snapshot
 * restored into a scratch directory by `vigil drill --json`, timed, and the
 * time compared with the job's rto (alert backup_rto_exceeded once).
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>

#include "common/child.h"
#include "common/clock.h"
#include "monitor/backup_job.h"

void drill_schedule(struct job *j)
{
	struct timeval tv = clock_tv_ms(j->drill_interval_ms);

	if (j->drill_interval_ms)
		evtimer_add(j->drill_timer, &tv);
}

static void drill_done(void *arg, const struct child_result *res)
{
	struct job *j = arg;
	json_t *doc = res->output ? json_loads(res->output, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	char what[96], out[128], why[200];

	j->drill = NULL;
	clock_iso8601(j->last_drill, sizeof(j->last_drill));
	if (json_is_object(doc)) {
		j->last_drill_s = json_number_value(json_object_get(doc, "seconds"));
		snprintf(j->drill_result, sizeof(j->drill_result), "restored %lld files in %.3f s",
			 (long long)json_integer_value(json_object_get(doc, "files")),
			 j->last_drill_s);
	} else {
		child_result_describe(res, what, sizeof(what));
		child_output_excerpt(res->output, out, sizeof(out));
		snprintf(j->drill_result, sizeof(j->drill_result), "%s: %s", what, out);
		job_alert(j, "backup_drill_failed", "critical", j->drill_result);
	}
	json_decref(doc);
	if (j->last_drill_s >= 0 && j->rto_ms && j->last_drill_s * 1000.0 > (double)j->rto_ms) {
		snprintf(why, sizeof(why), "the drill's restore took %.1f s, over rto (%" PRIu64
			 " s)", j->last_drill_s, j->rto_ms / 1000);
		if (!j->rto_exceeded)
			job_alert(j, "backup_rto_exceeded", "critical", why);
		j->rto_exceeded = true;
	} else if (j->last_drill_s >= 0) {
		j->rto_exceeded = false;
	}
	drill_schedule(j);
}

int drill_start(struct job *j, char *err, size_t errlen)
{
	char *argv[12];
	int n;

	n = job_argv(j, "drill", argv);
	argv[n++] = (char *)"--json";
	argv[n] = NULL;
	j->drill = child_spawn(j->set->env.children, argv, NULL, j->timeout_ms, drill_done, j,
			       err, errlen);
	return j->drill ? 0 : -1;
}

void drill_due(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	char err[192];

	(void)fd;
	(void)what;
	/* A drill of a job never backed up has nothing to restore: wait for one. */
	if (j->drill || !j->last_ok_ms || drill_start(j, err, sizeof(err)) < 0)
		drill_schedule(j);
}
