/*
 * conf/load_backup.c — the top-level `backups` list: scheduled backup jobs
 * (see struct conf_backup).  Same rules as conf/load.c: every problem is
 * reported as FILE:LINE and loading carries on.
 */
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

static const char *const backup_keys[] = {
	"name", "source", "repository", "key_file", "interval", "jitter", "full_every",
	"timeout", "rpo", "rto", "drill_interval", "keep_last", "keep_hourly", "keep_daily",
	"keep_weekly", "keep_monthly", "alerts", NULL,
};

/* A local absolute path, or an S3 location "s3://BUCKET[/PREFIX][?...]". */
static void load_repository(const struct lgrp *g, struct conf_backup *b)
{
	const char *s3 = "s3://";
	char *v = NULL;

	if (lu_string(g, "repository", true, NULL, &v) != 1)
		return;
	if (strncmp(v, s3, strlen(s3)) == 0) {
		if (strlen(v) == strlen(s3) || v[strlen(s3)] == '/')
			lu_err(g->lc, lu_where(g, "repository"), "'repository' %s names no bucket",
			       v);
		b->repository = v;
		return;
	}
	free(v);
	lu_path(g, "repository", true, NULL, &b->repository);
}

static void load_backup(const struct lgrp *g, struct conf_backup *b)
{
	char def[32];

	b->line = lu_line(g->s);
	lu_check_keys(g, backup_keys);
	lu_ident(g, "name", true, &b->name);
	lu_path(g, "source", true, NULL, &b->source);
	load_repository(g, b);
	lu_path(g, "key_file", false, NULL, &b->key_file);
	if (lu_duration(g, "interval", NULL, &b->interval_ms) == 1)
		lu_duration_min(g, "interval", b->interval_ms, 1000);
	else if (!lu_member(g, "interval"))
		lu_err(g->lc, g->s, "backup '%s' needs an 'interval' (e.g. \"1h\")",
		       b->name ? b->name : "?");
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
