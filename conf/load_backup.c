/*
 * conf/load_backup.c — the top-level `backups` list: scheduled backup jobs
 * (see struct conf_backup).  Same rules as conf/load.c: every problem is
 * reported as FILE:LINE and loading carries on.
 */
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

static const char *const backup_keys[] = {
	"name", "source", "command", "stdin_name", "repository", "offsite", "key_file",
	"interval", "schedule", "schedule_utc", "jitter", "full_every",
	"timeout", "rpo", "rto", "drill_interval", "keep_last", "keep_hourly", "keep_daily",
	"keep_weekly", "keep_monthly", "alerts", NULL,
};

/* A local absolute path, or an S3 location "s3://BUCKET[/PREFIX][?...]", into *out. */
static void load_repository(const struct lgrp *g, const char *key, bool required, char **out)
{
	const char *s3 = "s3://";
	char *v = NULL;

	if (lu_string(g, key, required, NULL, &v) != 1)
		return;
	if (strncmp(v, s3, strlen(s3)) == 0) {
		if (strlen(v) == strlen(s3) || v[strlen(s3)] == '/')
			lu_err(g->lc, lu_where(g, key), "'%s' %s names no bucket", key, v);
		*out = v;
		return;
	}
	free(v);
	lu_path(g, key, required, NULL, out);
}

/* What is backed up: a directory (source) or a command's output (command). */
static void load_source(const struct lgrp *g, struct conf_backup *b)
{
	bool has_source = lu_member(g, "source"), has_command = lu_member(g, "command");

	if (has_source == has_command) {
		lu_err(g->lc, g->s, "backup '%s' needs either a 'source' directory or a 'command' "
		       "whose output is backed up, not %s", b->name ? b->name : "?",
		       has_source ? "both" : "neither");
		return;
	}
	if (has_source) {
		lu_path(g, "source", true, NULL, &b->source);
		if (lu_member(g, "stdin_name"))
			lu_err(g->lc, lu_where(g, "stdin_name"), "'stdin_name' goes with 'command', "
			       "not 'source'");
		return;
	}
	lu_argv(g, "command", true, &b->command);
	if (lu_string(g, "stdin_name", false, NULL, &b->stdin_name) == 1 &&
	    (!b->stdin_name[0] || strchr(b->stdin_name, '/') || strcmp(b->stdin_name, ".") == 0 ||
	     strcmp(b->stdin_name, "..") == 0))
		lu_err(g->lc, lu_where(g, "stdin_name"), "'stdin_name' must be one plain file "
		       "name, got \"%s\"", b->stdin_name);
}

/* Offsite storage holds only encrypted repositories. */
static void check_offsite(const struct lgrp *g, const struct conf_backup *b)
{
	if (b->repository && strncmp(b->repository, "s3://", 5) == 0 && !b->key_file)
		lu_err(g->lc, lu_where(g, "repository"), "an S3 'repository' is offsite and must be "
		       "encrypted: set 'key_file'");
	if (b->offsite && !b->key_file)
		lu_err(g->lc, lu_where(g, "offsite"), "'offsite' must be encrypted: set 'key_file'");
	if (b->offsite && b->repository && strcmp(b->offsite, b->repository) == 0)
		lu_err(g->lc, lu_where(g, "offsite"), "'offsite' is the 'repository' itself");
}

/* Every interval, or on a cron schedule: exactly one of them. */
static void load_when(const struct lgrp *g, struct conf_backup *b)
{
	bool has_interval = lu_member(g, "interval"), has_schedule = lu_member(g, "schedule");
	char why[256];
	time_t next;

	lu_bool(g, "schedule_utc", false, &b->schedule_utc);
	if (has_interval && has_schedule) {
		lu_err(g->lc, g->s, "backup '%s' has an 'interval' and a 'schedule': give one",
		       b->name ? b->name : "?");
		return;
	}
	if (has_schedule) {
		if (lu_string(g, "schedule", true, NULL, &b->schedule) != 1)
			return;
		if (cron_parse(b->schedule, &b->cron, why, sizeof(why)) < 0)
			lu_err(g->lc, lu_where(g, "schedule"), "'schedule' \"%s\": %s", b->schedule,
			       why);
		else if (cron_next(&b->cron, time(NULL), b->schedule_utc, &next) < 0)
			lu_err(g->lc, lu_where(g, "schedule"), "'schedule' \"%s\" never matches a "
			       "real date", b->schedule);
		return;
	}
	if (lu_duration(g, "interval", NULL, &b->interval_ms) == 1)
		lu_duration_min(g, "interval", b->interval_ms, 1000);
	else if (!has_interval)
		lu_err(g->lc, g->s, "backup '%s' needs an 'interval' (e.g. \"1h\") or a cron "
		       "'schedule' (e.g. \"30 3 * * *\")", b->name ? b->name : "?");
}

static void load_backup(const struct lgrp *g, struct conf_backup *b)
{
	char def[32];

	b->line = lu_line(g->s);
	lu_check_keys(g, backup_keys);
	lu_ident(g, "name", true, &b->name);
	load_source(g, b);
	load_repository(g, "repository", true, &b->repository);
	load_repository(g, "offsite", false, &b->offsite);
	lu_path(g, "key_file", false, NULL, &b->key_file);
	check_offsite(g, b);
	load_when(g, b);
	snprintf(def, sizeof(def), "%llums", (unsigned long long)(b->interval_ms / 10));
	lu_duration(g, "jitter", def, &b->jitter_ms);
	lu_int(g, "full_every", 0, 0, 10000, &b->full_every);
	lu_duration(g, "timeout", "6h", &b->timeout_ms);
	lu_duration_min(g, "timeout", b->timeout_ms, 1000);
	lu_duration(g, "rpo", "0ms", &b->rpo_ms);
	lu_duration(g, "rto", "0ms", &b->rto_ms);
	lu_duration(g, "drill_interval", "0ms", &b->drill_interval_ms);
	lu_int(g, "keep_last", 0, 0, 100000, &b->keep_last);
	lu_int(g, "keep_hourly", 0, 0, 100000, &b->keep_hourly);
	lu_int(g, "keep_daily", 0, 0, 100000, &b->keep_daily);
	lu_int(g, "keep_weekly", 0, 0, 100000, &b->keep_weekly);
	lu_int(g, "keep_monthly", 0, 0, 100000, &b->keep_monthly);
	conf_load_alerts(g, &b->alerts, &b->n_alerts);
}

void conf_load_backups(const struct lgrp *top, struct config *cfg)
{
	const config_setting_t *list;
	size_t n;

	if (lu_list(top, "backups", false, 0, &list, &n) != 1 || n == 0 ||
	    (cfg->backups = lu_calloc(top, n, sizeof(*cfg->backups))) == NULL)
		return;
	cfg->n_backups = n;
	for (size_t i = 0; i < n; i++) {
		struct conf_backup *b = &cfg->backups[i];
		struct lgrp e;

		if (lu_elem(top->lc, list, i, "backup", &e) < 0)
			continue;
		load_backup(&e, b);
		for (size_t j = 0; j < i; j++)
			if (b->name && cfg->backups[j].name && strcmp(b->name, cfg->backups[j].name) == 0)
				lu_err(top->lc, e.s, "duplicate backup name '%s' (first defined at "
				       "line %d)", b->name, cfg->backups[j].line);
	}
}
