/*
 * conf/load_balancer.c — a cluster's balancers and hooks (see load_int.h).
 * Same rules as conf/load.c: every problem is reported as FILE:LINE and
 * loading carries on.
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const hook_vars[] = {
	"cluster", "node", "address", "old_primary", "new_primary", "epoch",
};
static const char *const balancer_keys[] = {
	"type", "upstream", "file", "check", "reload", "standby", "timeout",
	"server_options", "pid_file", NULL,
};
static const char *const hooks_keys[] = {
	"fence", "promote", "restore", "timeout", "fence_required", NULL,
};
static const char *const balancer_types[] = { [CONF_BALANCER_NGINX] = "nginx", NULL };
static const char *const standby_modes[] = {
	[CONF_STANDBY_BACKUP] = "backup", [CONF_STANDBY_OUT] = "out", NULL,
};

static void load_balancer(const struct lgrp *g, struct conf_balancer *b)
{
	static const char opt_ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789_=. ";
	int v;

	b->line = lu_line(g->s);
	lu_check_keys(g, balancer_keys);
	if (lu_enum(g, "type", balancer_types, -1, &v) == 1)
		b->type = (enum conf_balancer_type)v;
	lu_ident(g, "upstream", true, &b->upstream);
	lu_path(g, "file", true, NULL, &b->file);
	lu_argv(g, "check", true, &b->check);
	lu_argv(g, "reload", true, &b->reload);
	if (lu_enum(g, "standby", standby_modes, CONF_STANDBY_BACKUP, &v) >= 0)
		b->standby = (enum conf_standby_mode)v;
	b->timeout_ms = 10000;
	if (lu_duration(g, "timeout", "10s", &b->timeout_ms) == 1)
		lu_duration_min(g, "timeout", b->timeout_ms, 1);
	if (lu_string(g, "server_options", false, NULL, &b->server_options) == 1 &&
	    strspn(b->server_options, opt_ok) != strlen(b->server_options))
		lu_err(g->lc, lu_where(g, "server_options"), "'server_options' may only hold "
		       "letters, digits, '_', '=', '.' and spaces (it is pasted into each "
		       "nginx server line), got \"%s\"", b->server_options);
	lu_path(g, "pid_file", false, NULL, &b->pid_file);
}

void conf_load_hooks(const struct lgrp *cg, struct conf_hooks *h)
{
	struct lgrp g;

	h->timeout_ms = 30000;
	h->fence_required = true;
	if (lu_subgroup(cg, "hooks", "hooks", &g) != 1)
		return;
	lu_check_keys(&g, hooks_keys);
	if (lu_argv(&g, "fence", false, &h->fence) == 1)
		lu_check_argv_tmpl(&g, "fence", h->fence, hook_vars, N_ELEMS(hook_vars));
	lu_bool(&g, "fence_required", true, &h->fence_required);
	if (lu_argv(&g, "promote", false, &h->promote) == 1)
		lu_check_argv_tmpl(&g, "promote", h->promote, hook_vars, N_ELEMS(hook_vars));
	if (lu_argv(&g, "restore", false, &h->restore) == 1)
		lu_check_argv_tmpl(&g, "restore", h->restore, hook_vars, N_ELEMS(hook_vars));
	if (lu_duration(&g, "timeout", "30s", &h->timeout_ms) == 1)
		lu_duration_min(&g, "timeout", h->timeout_ms, 1);
}

void conf_load_balancers(const struct lgrp *g, struct conf_cluster *c)
{
	const config_setting_t *list;
	struct lgrp e;
	size_t n;

	if (lu_list(g, "balancers", false, 0, &list, &n) != 1 || n == 0 ||
	    (c->balancers = lu_calloc(g, n, sizeof(*c->balancers))) == NULL)
		return;
	c->n_balancers = n;
	for (size_t i = 0; i < n; i++)
		if (lu_elem(g->lc, list, i, "balancer", &e) == 0)
			load_balancer(&e, &c->balancers[i]);
}
