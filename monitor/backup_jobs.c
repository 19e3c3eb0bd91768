/* monitor/backup_jobs.c — the daemon's scheduled backup jobs (see backup_jobs.h). */
#include "monitor/backup_jobs.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/alert.h"
#include "common/argv.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "monitor/backup_job.h"

void job_alert(struct job *j, const char *event, const char *severity, const char *why)
{
	char who[160];
	struct alert_event ev = { .cluster = who, .event = event, .severity = severity,
				  .reason = why };

	snprintf(who, sizeof(who), "backup:%s", j->name);
	vlog(strcmp(severity, "info") ? VLOG_ERR : VLOG_NOTICE, "backup", event, "job", j->name,
	     "reason", why, NULL);
	if (j->alerter)
		alerter_send(j->alerter, &ev);
}

static void state_path(const struct job *j, char *buf, size_t len)
{
	snprintf(buf, len, "%s/backup-%s.json", j->set->env.state_dir, j->name);
}

/* The last good run survives restarts: RPO is about wall time, not this process. */
static void state_load(struct job *j)
{
	char path[512], err[256], *data = NULL;
	size_t len;
	json_t *doc;

	state_path(j, path, sizeof(path));
	if (fs_read_all(path, 65536, &data, &len, err, sizeof(err)) != 0)
		return;
	doc = json_loads(data, 0, NULL);
	free(data);
	j->last_ok_ms = (uint64_t)json_integer_value(json_object_get(doc, "last_ok_ms"));
	j->runs = (uint64_t)json_integer_value(json_object_get(doc, "runs"));
	json_decref(doc);
}

static void state_save(struct job *j)
{
	char path[512], err[256], *text;
	json_t *doc = json_pack("{s:I, s:I}", "last_ok_ms", (json_int_t)j->last_ok_ms, "runs",
				(json_int_t)j->runs);

	state_path(j, path, sizeof(path));
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text || fs_write_atomic(path, text, strlen(text), 0600, err, sizeof(err)) < 0)
		vlog(VLOG_WARNING, "backup", "cannot save the job's state; RPO restarts from "
		     "scratch after a restart", "job", j->name, "error", text ? err : "out of memory",
		     NULL);
	free(text);
	json_decref(doc);
}

int job_argv(const struct job *j, const char *verb, char **argv)
{
	int n = 0;

	argv[n++] = (char *)j->set->env.self;
	argv[n++] = (char *)verb;
	argv[n++] = (char *)"-r";
	argv[n++] = j->repo;
	if (j->key) {
		argv[n++] = (char *)"--key";
		argv[n++] = j->key;
	}
	/* sync mirrors the whole repository: it takes no job. */
	if (strcmp(verb, "sync") != 0) {
		argv[n++] = (char *)"--job";
		argv[n++] = j->name;
	}
	return n;
}

static bool has_retention(const struct job *j)
{
	return j->keep[0] || j->keep[1] || j->keep[2] || j->keep[3] || j->keep[4];
}

void job_run_over(struct job *j)
{
	j->phase = PHASE_BACKUP;
	job_schedule(j, job_next_delay(j));
}

/* After the backup (and its retention run): the mirror, if any; else the run is over. */
static void after_retention(struct job *j)
{
	char err[192];

	if (!j->offsite) {
		job_run_over(j);
		return;
	}
	if (offsite_start(j, err, sizeof(err)) == 0)
		return; /* scheduled when the sync ends */
	j->offsite_failed = true;
	snprintf(j->offsite_result, sizeof(j->offsite_result), "cannot start: %s", err);
	job_alert(j, "backup_offsite_failed", "critical", j->offsite_result);
	job_run_over(j);
}

/* After a good backup: `vigil forget --prune` with the job's keep rules. */
static int forget_start(struct job *j, char *err, size_t errlen)
{
	static const char *const opts[] = {
		"--keep-last", "--keep-hourly", "--keep-daily", "--keep-weekly", "--keep-monthly",
	};
	char nums[5][16], *argv[24];
	int n;

	n = job_argv(j, "forget", argv);
	for (int i = 0; i < 5; i++) {
		if (!j->keep[i])
			continue;
		snprintf(nums[i], sizeof(nums[i]), "%d", j->keep[i]);
		argv[n++] = (char *)opts[i];
		argv[n++] = nums[i];
	}
	argv[n++] = (char *)"--prune";
	argv[n] = NULL;
	j->child = child_spawn(j->set->env.children, argv, NULL, j->timeout_ms, job_child_done,
			       j, err, errlen);
	if (j->child)
		j->phase = PHASE_FORGET;
	return j->child ? 0 : -1;
}

/* The retention run ended: a failure is alerted, the backup itself stands. */
static void forget_done(struct job *j, const struct child_result *res)
{
	char what[96], out[160], why[320];

	if (!(res->exited && res->exit_code == 0)) {
		child_result_describe(res, what, sizeof(what));
		child_output_excerpt(res->output, out, sizeof(out));
		snprintf(why, sizeof(why), "retention (forget --prune) failed: %s: %s", what, out);
		job_alert(j, "backup_prune_failed", "warning", why);
	}
	after_retention(j);
}

static void backup_done(struct job *j, const struct child_result *res)
{
	char what[96], out[256], err[192];

	child_result_describe(res, what, sizeof(what));
	child_output_excerpt(res->output, out, sizeof(out));
	j->last_failed = !(res->exited && res->exit_code == 0);
	snprintf(j->last_result, sizeof(j->last_result), "%s: %s", what, out);
	if (j->last_failed) {
		job_alert(j, "backup_failed", "critical", j->last_result);
		job_run_over(j);
		return;
	}
	j->runs++;
	if (j->offsite)
		j->offsite_behind++;
	j->last_ok_ms = clock_real_ms();
	state_save(j);
	vlog(VLOG_NOTICE, "backup", "backup done", "job", j->name, "result", out, NULL);
	if (j->rpo_alerted) {
		j->rpo_alerted = false;
		job_alert(j, "backup_rpo_ok", "info", "a backup succeeded again");
	}
	if (has_retention(j) && forget_start(j, err, sizeof(err)) == 0)
		return; /* the rest follows when the retention run ends */
	after_retention(j);
}

void job_child_done(void *arg, const struct child_result *res)
{
	struct job *j = arg;

	j->child = NULL;
	switch (j->phase) {
	case PHASE_FORGET:
		forget_done(j, res);
		break;
	case PHASE_SYNC:
		offsite_done(j, res);
		break;
	case PHASE_BACKUP:
		backup_done(j, res);
		break;
	}
}

static int job_start_run(struct job *j, char *err, size_t errlen)
{
	size_t ncmd = 0;
	char **argv;
	int n;
	bool full = j->full_every > 0 && (j->runs + 1) % (uint64_t)j->full_every == 0;

	while (j->command && j->command[ncmd])
		ncmd++;
	if (!(argv = calloc(16 + ncmd, sizeof(*argv)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = job_argv(j, "backup", argv);
	argv[n++] = (char *)"--no-progress";
	if (j->command) {
		/* A stream is read whole every time: there is no --full to ask for. */
		if (j->stdin_name) {
			argv[n++] = (char *)"--stdin-name";
			argv[n++] = j->stdin_name;
		}
		argv[n++] = (char *)"--command";
		argv[n++] = (char *)"--";
		for (size_t i = 0; i < ncmd; i++)
			argv[n++] = j->command[i];
	} else {
		if (full)
			argv[n++] = (char *)"--full";
		argv[n++] = j->source;
	}
	argv[n] = NULL;
	j->phase = PHASE_BACKUP;
	j->child = child_spawn(j->set->env.children, argv, NULL, j->timeout_ms, job_child_done,
			       j, err, errlen);
	free(argv);
	if (!j->child)
		return -1;
	clock_iso8601(j->last_run, sizeof(j->last_run));
	vlog(VLOG_INFO, "backup", "backup started", "job", j->name, "full", full ? "yes" : "no",
	     NULL);
	return 0;
}

#define BUSY_RETRY_MS 2000

/* Another job's run (backup, retention or sync) is using the same repository. */
static bool repo_busy(const struct job *j)
{
	const struct backup_set *s = j->set;

	for (size_t i = 0; i < s->n; i++)
		if (s->jobs[i] != j && s->jobs[i]->child && strcmp(s->jobs[i]->repo, j->repo) == 0)
			return true;
	return false;
}

static void due(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	char err[192];

	(void)fd;
	(void)what;
	if (j->child)
		return;
	/* The repository's lock admits one writer: wait for the other job rather than fail. */
	if (repo_busy(j)) {
		job_schedule(j, BUSY_RETRY_MS);
		return;
	}
	if (job_start_run(j, err, sizeof(err)) < 0) {
		j->last_failed = true;
		snprintf(j->last_result, sizeof(j->last_result), "cannot start: %s", err);
		job_alert(j, "backup_failed", "critical", j->last_result);
		job_schedule(j, job_next_delay(j));
	}
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->child)
		child_cancel(j->child);
	if (j->drill)
		child_cancel(j->drill);
	if (j->timer)
		event_free(j->timer);
	if (j->drill_timer)
		event_free(j->drill_timer);
	alerter_free(j->alerter);
	free(j->name);
	free(j->source);
	argv_free(j->command);
	free(j->stdin_name);
	free(j->offsite);
	free(j->schedule);
	free(j->repo);
	free(j->key);
	free(j);
}

static int dup_str(char **dst, const char *src)
{
	char *copy = src ? strdup(src) : NULL;

	if (src && !copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static int dup_argv(char ***dst, char *const *src)
{
	char **copy = NULL;

	if (argv_dup(src, &copy) < 0)
		return -1;
	argv_free(*dst);
	*dst = copy;
	return 0;
}

/* Take c's settings (new, or a reload); the run in flight keeps its own argv. */
static int job_configure(struct job *j, const struct conf_backup *c, char *err, size_t errlen)
{
	struct backup_env *env = &j->set->env;
	struct alerter *a = alerter_new(env->base, env->curl, env->children, c->alerts,
					c->n_alerts, err, errlen);

	if (!a)
		return -1;
	if (dup_str(&j->name, c->name) < 0 || dup_str(&j->source, c->source) < 0 ||
	    dup_str(&j->repo, c->repository) < 0 || dup_str(&j->key, c->key_file) < 0 ||
	    dup_str(&j->stdin_name, c->stdin_name) < 0 || dup_str(&j->offsite, c->offsite) < 0 ||
	    dup_str(&j->schedule, c->schedule) < 0 ||
	    dup_argv(&j->command, c->command) < 0) {
		alerter_free(a);
		snprintf(err, errlen, "backup %s: out of memory", c->name);
		return -1;
	}
	if (j->alerter)
		alerter_inherit(a, j->alerter);
	alerter_free(j->alerter);
	j->alerter = a;
	j->interval_ms = c->interval_ms;
	j->has_cron = c->schedule != NULL;
	j->cron = c->cron;
	j->cron_utc = c->schedule_utc;
	j->jitter_ms = c->jitter_ms;
	j->timeout_ms = c->timeout_ms;
	j->rpo_ms = c->rpo_ms;
	j->rto_ms = c->rto_ms;
	j->drill_interval_ms = c->drill_interval_ms;
	j->full_every = c->full_every;
	j->keep[0] = c->keep_last;
	j->keep[1] = c->keep_hourly;
	j->keep[2] = c->keep_daily;
	j->keep[3] = c->keep_weekly;
	j->keep[4] = c->keep_monthly;
	return 0;
}

static struct job *job_new(struct backup_set *s, const struct conf_backup *c, char *err,
			   size_t errlen)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j || !(j->timer = evtimer_new(s->env.base, due, j)) ||
	    !(j->drill_timer = evtimer_new(s->env.base, drill_due, j))) {
		if (j && j->timer)
			event_free(j->timer);
		free(j);
		snprintf(err, errlen, "backup %s: out of memory", c->name);
		return NULL;
	}
	j->set = s;
	if (job_configure(j, c, err, errlen) < 0) {
		job_free(j);
		return NULL;
	}
	state_load(j);
	j->last_drill_s = -1;
	j->offsite_snapshots_pending = j->offsite_bytes_pending = -1;
	drill_schedule(j);
	job_schedule(j, job_first_delay(j));
	return j;
}

struct backup_set *backup_set_new(const struct backup_env *env)
{
	struct backup_set *s = calloc(1, sizeof(*s));
	char *dir = strdup(env->state_dir);

	if (!s || !dir) {
		free(s);
		free(dir);
		return NULL;
	}
	s->env = *env;
	s->env.state_dir = dir; /* a reload frees the config; state_dir changes need a restart */
	return s;
}

static struct job *find(const struct backup_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->jobs[i]->name, name) == 0)
			return s->jobs[i];
	return NULL;
}

/* New jobs of a failed apply: freed; the set keeps what it had. */
static void drop_new(struct backup_set *s, struct job **jobs, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!find(s, jobs[k]->name))
			job_free(jobs[k]);
	free(jobs);
}

int backup_set_apply(struct backup_set *s, const struct config *cfg, char *err, size_t errlen)
{
	struct job **jobs = calloc(cfg->n_backups ? cfg->n_backups : 1, sizeof(*jobs));

	if (!jobs) {
		snprintf(err, errlen, "backups: out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		s->jobs[i]->seen = false;
	for (size_t i = 0; i < cfg->n_backups; i++) {
		const struct conf_backup *c = &cfg->backups[i];
		struct job *j = find(s, c->name);

		if (j ? job_configure(j, c, err, errlen) < 0 : !(j = job_new(s, c, err, errlen))) {
			drop_new(s, jobs, i);
			return -1;
		}
		j->seen = true;
		jobs[i] = j;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!s->jobs[i]->seen)
			job_free(s->jobs[i]); /* removed from the config: its run is stopped */
	free(s->jobs);
	s->jobs = jobs;
	s->n = cfg->n_backups;
	return 0;
}

void backup_set_tick(struct backup_set *s)
{
	uint64_t now = clock_real_ms();
	char why[160];

	for (size_t i = 0; i < s->n; i++) {
		struct job *j = s->jobs[i];

		if (!j->rpo_ms || j->rpo_alerted || (j->last_ok_ms && now - j->last_ok_ms <= j->rpo_ms))
			continue;
		/* Never done yet: give the first run its chance (one rpo from start-up). */
		if (!j->last_ok_ms && !j->last_failed)
			continue;
		j->rpo_alerted = true;
		snprintf(why, sizeof(why), "the last good backup is older than rpo (%" PRIu64 " s)",
			 j->rpo_ms / 1000);
		if (!j->last_ok_ms)
			snprintf(why, sizeof(why), "no good backup yet, and the last run failed");
		job_alert(j, "backup_rpo_exceeded", "critical", why);
	}
}

int backup_set_drill(struct backup_set *s, const char *name, char *err, size_t errlen,
		     enum refusal *refusal)
{
	struct job *j = find(s, name);

	*refusal = j ? REFUSED_NOT_NOW : REFUSED_UNKNOWN;
	if (!j)
		snprintf(err, errlen, "no backup job named '%s'", name);
	else if (j->drill)
		snprintf(err, errlen, "a drill of %s is already running", name);
	else if (!j->last_ok_ms)
		snprintf(err, errlen, "backup %s has no good backup to drill yet", name);
	else if (drill_start(j, err, errlen) == 0)
		return 0;
	else
		*refusal = REFUSED_FAULT;
	return -1;
}

int backup_set_run(struct backup_set *s, const char *name, char *err, size_t errlen,
		   enum refusal *refusal)
{
	struct job *j = find(s, name);

	*refusal = REFUSED_UNKNOWN;
	if (!j) {
		snprintf(err, errlen, "no backup job named '%s'", name);
		return -1;
	}
	*refusal = REFUSED_NOT_NOW;
	if (j->child) {
		snprintf(err, errlen, "backup %s is already running", name);
		return -1;
	}
	if (repo_busy(j)) {
		snprintf(err, errlen, "another job is using the repository of %s; try again when it "
			 "is done", name);
		return -1;
	}
	evtimer_del(j->timer);
	if (job_start_run(j, err, errlen) < 0) {
		*refusal = REFUSED_FAULT;
		job_schedule(j, job_next_delay(j));
		return -1;
	}
	return 0;
}

static json_t *job_json(const struct job *j)
{
	uint64_t now = clock_real_ms(), mono = clock_mono_ms();
	json_t *age = j->last_ok_ms ? json_integer((json_int_t)((now - j->last_ok_ms) / 1000))
				    : json_null();

	json_t *drill = j->last_drill_s < 0 ? json_null() : json_real(j->last_drill_s);
	static const char *const phases[] = { "backup", "retention", "offsite sync" };

	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:o, s:I, s:b, s:s, s:s, s:I, s:o, s:s,"
			 " s:I, s:b, s:b, s:s*, s:s*, s:o, s:s*, s:I}",
			 "name", j->name, "source", j->source ? j->source : "(command output)",
			 "repository", j->repo,
			 "state", j->child ? "running" : "idle", "encrypted", j->key != NULL,
			 "runs", (json_int_t)j->runs, "last_ok_age_s", age,
			 "rpo_s", (json_int_t)(j->rpo_ms / 1000), "rpo_exceeded", j->rpo_alerted,
			 "last_run", j->last_run, "last_result", j->last_result,
			 "next_in_s", (json_int_t)(j->child || j->next_mono < mono ? 0 :
						  (j->next_mono - mono) / 1000),
			 "last_drill_s", drill, "drill_result", j->drill_result,
			 "rto_s", (json_int_t)(j->rto_ms / 1000), "rto_exceeded", j->rto_exceeded,
			 "drilling", j->drill != NULL,
			 "phase", j->child ? phases[j->phase] : NULL,
			 "offsite_repository", j->offsite, "offsite", offsite_json(j),
			 "schedule", j->schedule, "interval_s", (json_int_t)(j->interval_ms / 1000));
}

json_t *backup_set_json(const struct backup_set *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < s->n; i++)
		json_array_append_new(arr, job_json(s->jobs[i]));
	return json_pack("{s:o*}", "backups", arr);
}

void backup_set_free(struct backup_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		job_free(s->jobs[i]);
	free(s->jobs);
	free((char *)s->env.state_dir);
	free(s);
}
