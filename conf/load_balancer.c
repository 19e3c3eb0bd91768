/*
 * conf/load_balancer.c — a cluster's balancers and hooks (see load_int.h).
 * A balancer's keys depend on its type: nginx rewrites an upstream,
 * haproxy steers a backend (live through its socket, or by a render).
 * Same rules as conf/load.c: every problem is reported as FILE:LINE and
 * loading carries on.
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/address.h"
#include "conf/load_int.h"
#include "conf/load_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *const conf_hook_vars[] = {
	"cluster", "node", "address", "old_primary", "new_primary", "epoch",
};
const size_t conf_n_hook_vars = N_ELEMS(conf_hook_vars);
static const char *const balancer_keys[] = {
	"type", "upstream", "file", "check", "reload", "standby", "timeout",
	"server_options", "pid_file", "backend", "socket", "state_file", NULL,
};
/* Keys that belong to one balancer type only. */
static const char *const nginx_only[] = { "upstream", "pid_file", NULL };
static const char *const haproxy_only[] = { "backend", "socket", "state_file", NULL };
static const char *const hooks_keys[] = {
	"fence", "promote", "restore", "follow", "timeout", "fence_required", NULL,
};
static const char *const balancer_types[] = {
	[CONF_BALANCER_NGINX] = "nginx", [CONF_BALANCER_HAPROXY] = "haproxy", NULL,
};
static const char *const standby_modes[] = {
	[CONF_STANDBY_BACKUP] = "backup", [CONF_STANDBY_OUT] = "out", NULL,
};

/*
 * Report each key of ONLY (keys of TYPE balancers) that g sets; HINT goes
 * with the first key, the one the other type names differently.
 */
static void refuse_keys(const struct lgrp *g, const char *const *only, const char *type,
			const char *hint)
{
	for (size_t i = 0; only[i]; i++)
		if (lu_member(g, only[i]))
			lu_err(g->lc, lu_member(g, only[i]), "'%s' is only for %s balancers%s",
			       only[i], type, i == 0 ? hint : "");
}

/* The Runtime API address: an absolute unix socket path or numeric host:port. */
static void load_socket(const struct lgrp *g, struct conf_balancer *b)
{
	struct conf_address a;
	char err[256];

	if (lu_string(g, "socket", false, NULL, &b->socket) != 1)
		return;
	if (b->socket[0] == '/') {
		if (strlen(b->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			lu_err(g->lc, lu_member(g, "socket"), "'socket' is too long for a unix "
			       "socket path (at most %zu bytes)",
			       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	} else if (conf_parse_address(b->socket, &a, err, sizeof(err)) < 0) {
		lu_err(g->lc, lu_member(g, "socket"), "'socket' must be an absolute unix socket "
		       "path or a numeric address like 127.0.0.1:9999 or [::1]:9999: %s", err);
	}
}

static void load_nginx(const struct lgrp *g, struct conf_balancer *b)
{
	refuse_keys(g, haproxy_only, "haproxy", " (nginx names an 'upstream')");
	lu_ident(g, "upstream", true, &b->upstream);
	lu_path(g, "file", true, NULL, &b->file);
	lu_argv(g, "check", true, &b->check);
	lu_argv(g, "reload", true, &b->reload);
	lu_path(g, "pid_file", false, NULL, &b->pid_file);
}

/*
 * With a socket haproxy is steered live; file (kept in step), check and
 * reload are then optional.  Without one vigil renders file and reloads.
 */
static void load_haproxy(const struct lgrp *g, struct conf_balancer *b)
{
	bool live;

	refuse_keys(g, nginx_only, "nginx", " (haproxy names a 'backend')");
	lu_ident(g, "backend", true, &b->backend);
	load_socket(g, b);
	live = lu_member(g, "socket") != NULL;
	lu_path(g, "file", !live, NULL, &b->file);
	lu_argv(g, "check", !live, &b->check);
	lu_argv(g, "reload", !live, &b->reload);
	if (lu_path(g, "state_file", false, NULL, &b->state_file) == 1 && !live)
		lu_err(g->lc, lu_member(g, "state_file"), "'state_file' needs 'socket': vigil "
		       "writes it from haproxy's Runtime API");
	if (live && b->check && !b->file)
		lu_err(g->lc, lu_member(g, "check"), "'check' with 'socket' checks the rendered "
		       "'file', which is not set");
}

static void load_balancer(const struct lgrp *g, struct conf_balancer *b)
{
	/* No ';', '{', '#' or line break: nothing that could end the server line. */
	static const char opt_ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789_=. ";
	/* haproxy's server keywords have '-' (on-marked-down), paths '/' and ':'. */
	static const char hap_ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789_=. -/:";
	const char *ok;
	int v;

	b->line = lu_line(g->s);
	lu_check_keys(g, balancer_keys);
	if (lu_enum(g, "type", balancer_types, -1, &v) == 1)
		b->type = (enum conf_balancer_type)v;
	if (b->type == CONF_BALANCER_HAPROXY)
		load_haproxy(g, b);
	else
		load_nginx(g, b);
	if (lu_enum(g, "standby", standby_modes, CONF_STANDBY_BACKUP, &v) >= 0)
		b->standby = (enum conf_standby_mode)v;
	b->timeout_ms = 10000;
	if (lu_duration(g, "timeout", "10s", &b->timeout_ms) == 1)
		lu_duration_min(g, "timeout", b->timeout_ms, 1);
	ok = b->type == CONF_BALANCER_HAPROXY ? hap_ok : opt_ok;
	if (lu_string(g, "server_options", false, NULL, &b->server_options) == 1 &&
	    strspn(b->server_options, ok) != strlen(b->server_options))
		lu_err(g->lc, lu_where(g, "server_options"), "'server_options' may only hold "
		       "letters, digits, '_', '=', '.'%s and spaces (it is pasted into each "
		       "server line), got \"%s\"", ok == hap_ok ? ", '-', '/', ':'" : "",
		       b->server_options);
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
		lu_check_argv_tmpl(&g, "fence", h->fence, conf_hook_vars, conf_n_hook_vars);
	lu_bool(&g, "fence_required", true, &h->fence_required);
	if (lu_argv(&g, "promote", false, &h->promote) == 1)
		lu_check_argv_tmpl(&g, "promote", h->promote, conf_hook_vars, conf_n_hook_vars);
	if (lu_argv(&g, "restore", false, &h->restore) == 1)
		lu_check_argv_tmpl(&g, "restore", h->restore, conf_hook_vars, conf_n_hook_vars);
	if (lu_argv(&g, "follow", false, &h->follow) == 1)
		lu_check_argv_tmpl(&g, "follow", h->follow, conf_hook_vars, conf_n_hook_vars);
	if (lu_duration(&g, "timeout", "30s", &h->timeout_ms) == 1)
		lu_duration_min(&g, "timeout", h->timeout_ms, 1);
}

void conf_load_balancers(const struct lgrp *g, struct conf_cluster *c)
{
	const config_setting_t *list;
	struct lgrp e;
	size_t n;

	if (lu_list(g, "balancers", false, 0, &list, &n) != 1 || n == 0)
		return;
	if (n > CONF_MAX_BALANCERS) {
		lu_err(g->lc, list, "'balancers' has %zu entries; at most %d per cluster", n,
		       CONF_MAX_BALANCERS);
		return;
	}
	if ((c->balancers = lu_calloc(g, n, sizeof(*c->balancers))) == NULL)
		return;
	c->n_balancers = n;
	for (size_t i = 0; i < n; i++)
		if (lu_elem(g->lc, list, i, "balancer", &e) == 0)
			load_balancer(&e, &c->balancers[i]);
}
