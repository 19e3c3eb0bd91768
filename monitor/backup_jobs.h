/*
 * monitor/backup_jobs.h — the daemon's scheduled backup jobs (config
 * `backups`).  Each run is `vigil backup ...` in a child process, so the
 * event loop never waits on disk or network; one run per job at a time.
 * The last good backup's time survives restarts (STATE_DIR/backup-NAME.json)
 * and is checked against the job's `rpo` on every tick (alert
 * backup_rpo_exceeded once, backup_rpo_ok when a run succeeds again).
 *
 * A reload keeps running jobs running: jobs are matched by name and take
 * the new settings for their next run; removed jobs are stopped.
 */
#ifndef VIGIL_MONITOR_BACKUP_JOBS_H
#define VIGIL_MONITOR_BACKUP_JOBS_H

#include <jansson.h>
#include <stddef.h>

#include "conf/config.h"
#include "monitor/refusal.h"

struct event_base;
struct curl_loop;
struct child_runner;
struct backup_set;

struct backup_env {
	struct event_base *base;
	struct curl_loop *curl;
	struct child_runner *children;
	const char *self;      /* the vigil binary the runs exec ("/proc/self/exe") */
	const char *state_dir; /* where the last good backup times are kept */
};

struct backup_set *backup_set_new(const struct backup_env *env);
/* Take the config's jobs (start-up, reload); 0 or -1 with err (nothing changed then). */
int backup_set_apply(struct backup_set *s, const struct config *cfg, char *err, size_t errlen);
/* RPO checks; call every tick. */
void backup_set_tick(struct backup_set *s);
/* Start a run now: 0, or -1 with err and *refusal (unknown job, or running). */
int backup_set_run(struct backup_set *s, const char *name, char *err, size_t errlen,
		   enum refusal *refusal);
/* Start a drill now (the latest snapshot restored, timed): like backup_set_run. */
int backup_set_drill(struct backup_set *s, const char *name, char *err, size_t errlen,
		     enum refusal *refusal);
/* {"backups": [...]} for the control API. */
json_t *backup_set_json(const struct backup_set *s);
/* Stops every run (kills its child). */
void backup_set_free(struct backup_set *s);

#endif
