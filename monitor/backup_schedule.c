/*
 * monitor/backup_schedule.c — when a backup job runs next: every interval
 * moved by up to +-jitter/2, or at a cron schedule's times plus 0..jitter;
 * and at start-up, at once when a run is overdue.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "monitor/backup_job.h"

void job_schedule(struct job *j, uint64_t delay_ms)
{
	struct timeval tv;

	if (delay_ms == UINT64_MAX) {
		vlog(VLOG_ERR, "backup", "the schedule never matches again: no more runs", "job",
		     j->name, NULL);
		return;
	}
	tv = clock_tv_ms(delay_ms);
	j->next_mono = clock_mono_ms() + delay_ms;
	evtimer_add(j->timer, &tv);
}

static uint64_t jitter(const struct job *j)
{
	return j->jitter_ms ? (uint64_t)random() % (j->jitter_ms + 1) : 0;
}

/* Milliseconds from now to the schedule's next time after `after_s` (0 if it is past). */
static uint64_t cron_delay(const struct job *j, time_t after_s)
{
	uint64_t now = clock_real_ms();
	time_t next;

	if (cron_next(&j->cron, after_s, j->cron_utc, &next) < 0)
		return UINT64_MAX; /* never again (checked at load: cannot happen within years) */
	return (uint64_t)next * 1000 > now ? (uint64_t)next * 1000 - now : 0;
}

/*
 * The next run: one interval moved within +-jitter/2 so that jobs drift
 * apart, or the schedule's next time plus 0..jitter.
 */
uint64_t job_next_delay(const struct job *j)
{
	uint64_t d;

	if (j->has_cron) {
		d = cron_delay(j, (time_t)(clock_real_ms() / 1000));
		return d == UINT64_MAX ? d : d + jitter(j);
	}
	d = j->interval_ms + jitter(j);
	return d > j->jitter_ms / 2 ? d - j->jitter_ms / 2 : 0;
}

/*
 * At start-up: a run that is overdue (or was never done) starts soon,
 * spread by the jitter; with a schedule, overdue means a scheduled time
 * passed since the last good run (the daemon was down then, as anacron
 * would catch up).
 */
uint64_t job_first_delay(const struct job *j)
{
	uint64_t age = j->last_ok_ms ? clock_real_ms() - j->last_ok_ms : UINT64_MAX;

	if (j->has_cron)
		return j->last_ok_ms && cron_delay(j, (time_t)(j->last_ok_ms / 1000)) > 0
			       ? job_next_delay(j) : jitter(j);
	return age >= j->interval_ms ? jitter(j) : j->interval_ms - age;
}
