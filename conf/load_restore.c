/*
 * conf/load_restore.c — a cluster's built-in restore (struct
 * conf_restore): which backup job's snapshot goes where when a failover
 * reaches RESTORING.  The job it names is checked once the top-level
 * `backups` list is loaded (conf_check_restores).
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

static const char *const restore_keys[] = {
	"backup", "snapshot", "target", "command", "timeout", "delete", NULL,
};

void conf_load_restore(const struct lgrp *cg, struct conf_cluster *c)
{
	struct conf_restore *r = &c->restore;
	struct lgrp g;
	bool has_target, has_command;

	r->timeout_ms = 3600000;
	if (lu_subgroup(cg, "restore", "restore", &g) != 1)
		return;
	r->line = lu_line(g.s);
	lu_check_keys(&g, restore_keys);
	lu_ident(&g, "backup", true, &r->backup);
	lu_string(&g, "snapshot", false, "latest", &r->snapshot);
	if (lu_duration(&g, "timeout", "1h", &r->timeout_ms) == 1)
		lu_duration_min(&g, "timeout", r->timeout_ms, 1000);
	/* target and command take the hook placeholders: the restore runs where the hooks would. */
	has_target = lu_member(&g, "target") != NULL;
	has_command = lu_member(&g, "command") != NULL;
	if (has_target == has_command)
		lu_err(g.lc, g.s, "'restore' needs either a 'target' directory or a 'command' fed "
		       "the stream, not %s", has_target ? "both" : "neither");
	else if (has_target && lu_string(&g, "target", true, NULL, &r->target) == 1)
		lu_check_tmpl(&g, "target", r->target, conf_hook_vars, conf_n_hook_vars);
	else if (has_command && lu_argv(&g, "command", true, &r->command) == 1)
		lu_check_argv_tmpl(&g, "command", r->command, conf_hook_vars,
				   conf_n_hook_vars);
	if (lu_bool(&g, "delete", false, &r->delete_extra) == 1 && r->delete_extra && has_command)
		lu_err(g.lc, lu_where(&g, "delete"), "'delete' applies to a 'target' directory, "
		       "not to a 'command'");
	if (r->target && r->target[0] != '/')
		lu_err(g.lc, lu_where(&g, "target"), "'target' must be an absolute path, got \"%s\"",
		       r->target);
	if (c->hooks.restore)
		lu_err(g.lc, g.s, "a cluster has either a built-in 'restore' or a restore hook "
		       "(hooks.restore), not both");
}

static const struct conf_backup *find_backup(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_backups; i++)
		if (cfg->backups[i].name && strcmp(cfg->backups[i].name, name) == 0)
			return &cfg->backups[i];
	return NULL;
}

static int copy(const struct lgrp *top, const config_setting_t *s, char **dst, const char *src)
{
	if (!src)
		return 0;
	if (!(*dst = strdup(src))) {
		lu_err(top->lc, s, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Each restore names a job that exists.  A directory cannot be streamed into
 * a command; a stream can land in a directory (as the file it was named).
 */
void conf_check_restores(const struct lgrp *top, struct config *cfg)
{
	const config_setting_t *list = lu_member(top, "clusters");

	for (size_t i = 0; list && i < cfg->n_clusters; i++) {
		struct conf_restore *r = &cfg->clusters[i].restore;
		const config_setting_t *cs = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *rs = cs ? config_setting_get_member(cs, "restore") : NULL;
		const struct conf_backup *b;

		if (!r->backup || !rs)
			continue;
		if (!(b = find_backup(cfg, r->backup)))
			lu_err(top->lc, rs, "'restore' names backup '%s', which is not in the "
			       "'backups' list", r->backup);
		else if (b->source && r->command)
			lu_err(top->lc, rs, "backup '%s' is a directory: restore it into a 'target', "
			       "not a 'command'", r->backup);
		else if (copy(top, rs, &r->repository, b->repository) == 0)
			copy(top, rs, &r->key_file, b->key_file);
	}
}
