/*
 * monitor/backup_job.h — one scheduled backup job, shared by the files
 * that run its children (not for callers outside monitor/backup_*.c: use
 * backup_jobs.h).  A run is a pipeline of children, one at a time:
 * `vigil backup`, then `vigil forget --prune` when the job has retention
 * rules, then `vigil sync` to its offsite mirror when it has one; the next
 * run is scheduled when the last of them ends.  Drills run beside it.
 */
#ifndef VIGIL_MONITOR_BACKUP_JOB_H
#define VIGIL_MONITOR_BACKUP_JOB_H

#include <stdbool.h>
#include <event2/util.h>
#include <stdint.h>

#include "common/cron.h"
#include "monitor/backup_jobs.h"

struct child_result;

enum job_phase { PHASE_BACKUP, PHASE_FORGET, PHASE_SYNC };

struct job {
	struct backup_set *set;
	char *name, *source, *repo, *key; /* copies: a reload frees the config */
	char **command, *stdin_name;      /* a command's output instead of source */
	char *offsite;                    /* a mirror, synced after each good run */
	uint64_t interval_ms, jitter_ms, timeout_ms, rpo_ms, rto_ms, drill_interval_ms;
	bool has_cron, cron_utc;  /* a schedule instead of the interval */
	char *schedule;           /* its text, for status */
	struct cron_spec cron;
	int full_every;
	int keep[5];             /* last, hourly, daily, weekly, monthly */
	enum job_phase phase;    /* what the child in flight is */
	struct alerter *alerter;
	struct event *timer;
	struct child *child;     /* the run in flight */
	struct event *drill_timer;
	struct child *drill;     /* the drill in flight */
	double last_drill_s;     /* < 0 = never drilled */
	char last_drill[40], drill_result[256];
	bool rto_exceeded;
	uint64_t runs;
	uint64_t last_ok_ms;     /* wall clock, 0 = never */
	uint64_t next_mono;
	char last_run[40], last_result[384];
	bool last_failed, rpo_alerted, seen;
	/* offsite (backup_offsite.c); the pending figures are -1 until a sync reported them */
	int64_t offsite_snapshots_pending, offsite_bytes_pending;
	uint64_t offsite_last_ok_ms;   /* wall clock of the last complete sync, 0 = never */
	uint64_t offsite_behind;       /* good backups since the last complete sync */
	char offsite_result[320];
	bool offsite_failed;
};

struct backup_set {
	struct backup_env env;
	struct job **jobs;
	size_t n;
};

/* Log and alert an event of the job ("backup_failed", ...). */
void job_alert(struct job *j, const char *event, const char *severity, const char *why);
/* `vigil VERB -r REPO [--key KEY] --job NAME` (no --job for sync), the start of every child's argv; its length. */
int job_argv(const struct job *j, const char *verb, char **argv);
/* The pipeline is over: schedule the next run. */
void job_run_over(struct job *j);
/* The child callback of every phase of a run. */
void job_child_done(void *arg, const struct child_result *res);

/* ---- backup_schedule.c ---- */
/* Arm the job's timer delay_ms from now (UINT64_MAX: never, logged). */
void job_schedule(struct job *j, uint64_t delay_ms);
/* From now to the next run after this one. */
uint64_t job_next_delay(const struct job *j);
/* From now to the first run after start-up: at once (0..jitter) when overdue or never run. */
uint64_t job_first_delay(const struct job *j);

/* ---- backup_drill.c ---- */
void drill_schedule(struct job *j);
int drill_start(struct job *j, char *err, size_t errlen);
void drill_due(evutil_socket_t fd, short what, void *arg);

/* ---- backup_offsite.c ---- */
/* `vigil sync --to OFFSITE --json` after a good run: 0, or -1 with err. */
int offsite_start(struct job *j, char *err, size_t errlen);
/* Its child ended: record what is still pending, alert a failure, end the run. */
void offsite_done(struct job *j, const struct child_result *res);
/* The offsite part of the job's status: null when the job has no mirror. */
json_t *offsite_json(const struct job *j);

#endif
