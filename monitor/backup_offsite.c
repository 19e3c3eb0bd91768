/*
 * monitor/backup_offsite.c — the last phase of a job's run: `vigil sync`
 * mirrors the job's repository to its offsite copy (docs/repository-format.md,
 * "Mirrors"), and reports as one JSON line what has not reached it yet.
 * The job's status shows those figures; a failed sync is alerted
 * (backup_offsite_failed) and cleared by the next complete one
 * (backup_offsite_ok).  The local backup stands either way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/log.h"
#include "monitor/backup_job.h"

int offsite_start(struct job *j, char *err, size_t errlen)
{
	char *argv[16];
	int n = job_argv(j, "sync", argv);

	argv[n++] = (char *)"--to";
	argv[n++] = j->offsite;
	argv[n++] = (char *)"--json";
	argv[n] = NULL;
	j->child = child_spawn(j->set->env.children, argv, NULL, j->timeout_ms, job_child_done,
			       j, err, errlen);
	if (!j->child)
		return -1;
	j->phase = PHASE_SYNC;
	vlog(VLOG_INFO, "backup", "offsite sync started", "job", j->name, NULL);
	return 0;
}

/* The sync's report: the last line of its output that is a JSON object with the pending figures. */
static json_t *find_report(const char *out)
{
	json_t *found = NULL;

	for (const char *line = out; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		json_t *doc = line[0] == '{' ? json_loadb(line, len, 0, NULL) : NULL;

		if (json_is_object(doc) && json_object_get(doc, "snapshots_pending")) {
			json_decref(found);
			found = doc;
		} else {
			json_decref(doc);
		}
		line = end ? end + 1 : NULL;
	}
	return found;
}

static int64_t figure(const json_t *rep, const char *key)
{
	const json_t *v = json_object_get(rep, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

void offsite_done(struct job *j, const struct child_result *res)
{
	json_t *rep = find_report(res->output);
	bool ok = res->exited && res->exit_code == 0 && rep;
	char what[96], out[160];

	if (rep) {
		/* null when the sync failed before it could compare the two sides */
		j->offsite_snapshots_pending = figure(rep, "snapshots_pending");
		j->offsite_bytes_pending = figure(rep, "bytes_pending");
	}
	if (ok) {
		j->offsite_behind = 0;
		j->offsite_last_ok_ms = clock_real_ms();
		snprintf(j->offsite_result, sizeof(j->offsite_result), "synced: %" JSON_INTEGER_FORMAT
			 " snapshots and %" JSON_INTEGER_FORMAT " bytes uploaded",
			 json_integer_value(json_object_get(rep, "snapshots_uploaded")),
			 json_integer_value(json_object_get(rep, "bytes_uploaded")));
		vlog(VLOG_NOTICE, "backup", "offsite sync done", "job", j->name, "result",
		     j->offsite_result, NULL);
		if (j->offsite_failed)
			job_alert(j, "backup_offsite_ok", "info", "the offsite copy is complete again");
		j->offsite_failed = false;
	} else {
		child_result_describe(res, what, sizeof(what));
		child_output_excerpt(res->output, out, sizeof(out));
		snprintf(j->offsite_result, sizeof(j->offsite_result), "%s: %s", what, out);
		j->offsite_failed = true;
		job_alert(j, "backup_offsite_failed", "critical", j->offsite_result);
	}
	json_decref(rep);
	job_run_over(j);
}

json_t *offsite_json(const struct job *j)
{
	uint64_t now = clock_real_ms();

	if (!j->offsite)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:b, s:s, s:I}",
			 "snapshots_pending", j->offsite_snapshots_pending < 0 ? json_null()
					      : json_integer(j->offsite_snapshots_pending),
			 "bytes_pending", j->offsite_bytes_pending < 0 ? json_null()
					  : json_integer(j->offsite_bytes_pending),
			 "last_ok_age_s", j->offsite_last_ok_ms ?
				json_integer((json_int_t)((now - j->offsite_last_ok_ms) / 1000)) :
				json_null(),
			 "failed", j->offsite_failed, "last_result", j->offsite_result,
			 "backups_behind", (json_int_t)j->offsite_behind);
}
