/*
 * conf/load.c — one libconfig file into a validated struct config.
 *
 * Validation never stops at the first problem: each key is checked on its
 * own and every error is collected as "FILE:LINE: message", so that an
 * operator fixes a broken file in one round instead of one per error.
 * Nothing is returned unless the whole file is valid.
 */
#include "conf/config.h"

#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/address.h"
#include "conf/load_int.h"
#include "conf/load_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define DEFAULT_STATE_DIR "/var/lib/vigil"
#define DEFAULT_SOCKET "/run/vigil/vigil.sock"
#define MIN_INTERVAL_MS 10

/* Placeholders for probe URLs and exec argv, and for hook argv. */
static const char *const probe_vars[] = { "address", "host", "port", "node", "cluster" };
static const char *const probe_via_vars[] = {
	"address", "host", "port", "node", "cluster", "via_address", "via_host", "via_port", "via_node",
};

static const char *const top_keys[] = {
	"state_dir", "control", "log_format", "tilt_period", "tilt_stall", "journal_max_mb",
	"clusters", "backups", NULL,
};
static const char *const control_keys[] = { "socket", "mode", "max_connections", NULL };
static const char *const cluster_keys[] = {
	"name", "nodes", "probes", "balancers", "hooks", "alerts",
	"cooldown", "max_failovers", "failover_window", "quorum", "failback_after",
	"failover_delay", "retries", "retry_backoff", "drain_timeout", "rejoin_after", "max_lag",
	"restore", NULL,
};
static const char *const node_keys[] = { "name", "address", "role", "priority", NULL };

static const char *const probe_common_keys[] = {
	"type", "interval", "timeout", "jitter", "rise", "fall", "via", NULL,
};
static const char *const probe_tcp_keys[] = { NULL };
static const char *const probe_http_keys[] = {
	"url", "method", "expect_status", "expect_body", "tls_verify", NULL,
};
static const char *const probe_exec_keys[] = { "command", "lag", NULL };
static const char *const *const probe_type_keys[] = {
	[CONF_PROBE_TCP] = probe_tcp_keys,
	[CONF_PROBE_HTTP] = probe_http_keys,
	[CONF_PROBE_EXEC] = probe_exec_keys,
};

/* Value lists, indexed by the matching enum. */
static const char *const probe_types[] = {
	[CONF_PROBE_TCP] = "tcp", [CONF_PROBE_HTTP] = "http", [CONF_PROBE_EXEC] = "exec", NULL,
};
static const char *const roles[] = {
	[CONF_ROLE_PRIMARY] = "primary", [CONF_ROLE_STANDBY] = "standby", NULL,
};
static const char *const log_formats[] = { [CONF_LOG_TEXT] = "text", [CONF_LOG_JSON] = "json", NULL };
static const char *const http_methods[] = { "GET", "HEAD", "POST", NULL };

static const char *or_q(const char *s)
{
	return s ? s : "?";
}

/* ---- probes ---- */

static void check_probe_keys(const struct lgrp *g, int type)
{
	int n = config_setting_length(g->s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g->s, (unsigned)i);
		const char *name = config_setting_name(m);
		int owner = -1;
		char common[256], own[256];

		if (lu_in(name, probe_common_keys) || (type >= 0 && lu_in(name, probe_type_keys[type])))
			continue;
		for (int t = 0; t < (int)N_ELEMS(probe_type_keys); t++)
			if (lu_in(name, probe_type_keys[t]))
				owner = t;
		if (owner >= 0 && type >= 0)
			lu_err(g->lc, m, "'%s' does not apply to probes of type %s (it is a key "
			       "of %s probes)", name, probe_types[type], probe_types[owner]);
		else if (owner < 0) {
			lu_join(common, sizeof(common), probe_common_keys);
			/* With no valid type, only the shared keys are certain. */
			lu_join(own, sizeof(own), type >= 0 ? probe_type_keys[type] : probe_tcp_keys);
			lu_err(g->lc, m, "unknown key '%s' in probe (accepted keys: %s%s%s)", name,
			       common, own[0] ? ", " : "", own);
		}
	}
}

static void load_probe_timing(const struct lgrp *g, struct conf_probe *p)
{
	p->interval_ms = 1000;
	if (lu_duration(g, "interval", "1s", &p->interval_ms) == 1)
		lu_duration_min(g, "interval", p->interval_ms, MIN_INTERVAL_MS);
	p->timeout_ms = p->interval_ms;
	if (lu_duration(g, "timeout", NULL, &p->timeout_ms) == 1)
		lu_duration_min(g, "timeout", p->timeout_ms, 1);
	p->jitter_ms = p->interval_ms / 10;
	/* A jitter beyond the interval would bunch runs up, not spread them. */
	if (lu_duration(g, "jitter", NULL, &p->jitter_ms) == 1 && p->jitter_ms > p->interval_ms)
		lu_err(g->lc, lu_where(g, "jitter"), "'jitter' (%llu ms) must not exceed 'interval' "
		       "(%llu ms)", (unsigned long long)p->jitter_ms,
		       (unsigned long long)p->interval_ms);
	lu_int(g, "rise", 2, 1, 1000, &p->rise);
	lu_int(g, "fall", 3, 1, 1000, &p->fall);
}

static void load_expect_status(const struct lgrp *g, struct conf_probe *p)
{
	const config_setting_t *s = lu_member(g, "expect_status");
	int type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
	bool scalar = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
	size_t n = scalar || s == NULL ? 1 : (size_t)config_setting_length(s);

	if (s != NULL && !scalar && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		n = 0;
	if (n == 0) {
		lu_err(g->lc, s, "'expect_status' must be an HTTP status or a non-empty array "
		       "of them, e.g. 200 or [200, 204]");
		return;
	}
	if ((p->expect_status = lu_calloc(g, n, sizeof(int))) == NULL)
		return;
	p->n_expect_status = n;
	if (s == NULL) {
		p->expect_status[0] = 200;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = scalar ? s : config_setting_get_elem(s, (unsigned)i);
		int et = config_setting_type(e);
		long long v = et == CONFIG_TYPE_INT || et == CONFIG_TYPE_INT64 ?
			config_setting_get_int64(e) : -1;

		if (v < 100 || v > 599) {
			lu_err(g->lc, s, "'expect_status' entries must be integers from 100 to 599 "
			       "(HTTP statuses), e.g. [200, 204]");
			return;
		}
		p->expect_status[i] = (int)v;
	}
}

/* The placeholders a probe's templates may use: more when it looks via a node. */
static const char *const *probe_tmpl_vars(const struct conf_probe *p, size_t *n)
{
	*n = p->via ? N_ELEMS(probe_via_vars) : N_ELEMS(probe_vars);
	return p->via ? probe_via_vars : probe_vars;
}

static void load_http(const struct lgrp *g, struct conf_probe *p)
{
	size_t nv;
	const char *const *vars = probe_tmpl_vars(p, &nv);
	int m;

	if (lu_string(g, "url", true, NULL, &p->url) == 1 &&
	    lu_http_url(g, "url", p->url, false) == 0)
		lu_check_tmpl(g, "url", p->url, vars, nv);
	if (lu_enum(g, "method", http_methods, 0, &m) >= 0 &&
	    (p->method = strdup(http_methods[m])) == NULL)
		lu_err(g->lc, g->s, "out of memory");
	load_expect_status(g, p);
	lu_string(g, "expect_body", false, NULL, &p->expect_body);
	lu_bool(g, "tls_verify", true, &p->tls_verify);
}

static void load_exec(const struct lgrp *g, struct conf_probe *p)
{
	size_t nv;
	const char *const *vars = probe_tmpl_vars(p, &nv);

	lu_bool(g, "lag", false, &p->lag);
	if (lu_argv(g, "command", true, &p->argv) != 1)
		return;
	if (p->argv[0][0] != '/')
		lu_err(g->lc, lu_where(g, "command"), "'command' must start with the absolute "
		       "path of the program, got \"%s\"", p->argv[0]);
	lu_check_argv_tmpl(g, "command", p->argv, vars, nv);
}

/* via names a node of this cluster; a tcp probe always connects from vigil itself. */
static void load_via(const struct lgrp *g, struct conf_probe *p, int type,
		     const struct conf_cluster *c)
{
	p->via_node = -1;
	if (lu_ident(g, "via", false, &p->via) != 1)
		return;
	if (type == CONF_PROBE_TCP) {
		lu_err(g->lc, lu_where(g, "via"), "'via' needs an http or exec probe (a tcp "
		       "probe always connects from vigil itself)");
		return;
	}
	p->via_node = conf_cluster_find_node(c, p->via);
	if (p->via_node < 0 && c->n_nodes > 0)
		lu_err(g->lc, lu_where(g, "via"), "'via' names node \"%s\", which is not a node "
		       "of this cluster", p->via);
}

static void load_probe(const struct lgrp *g, struct conf_probe *p, const struct conf_cluster *c)
{
	int type;

	p->line = lu_line(g->s);
	p->tls_verify = true;
	lu_enum(g, "type", probe_types, -1, &type);
	check_probe_keys(g, type);
	load_probe_timing(g, p);
	load_via(g, p, type, c);
	if (type < 0)
		return;
	p->type = (enum conf_probe_type)type;
	if (p->type == CONF_PROBE_HTTP)
		load_http(g, p);
	else if (p->type == CONF_PROBE_EXEC)
		load_exec(g, p);
}

/* ---- nodes ---- */

/* What the cross-node checks need to know about each node. */
struct node_seen {
	const config_setting_t *s;
	struct conf_address addr;
	bool addr_ok;
	bool role_ok;
};

static void load_node(const struct lgrp *g, struct conf_node *n, struct node_seen *seen)
{
	int role;

	n->line = lu_line(g->s);
	seen->s = g->s;
	lu_check_keys(g, node_keys);
	lu_ident(g, "name", true, &n->name);
	if (lu_string(g, "address", true, NULL, &n->address) == 1) {
		char err[256];

		if (conf_parse_address(n->address, &seen->addr, err, sizeof(err)) < 0)
			lu_err(g->lc, lu_where(g, "address"), "'address' is not valid: %s", err);
		else if ((n->host = strdup(seen->addr.host)) == NULL)
			lu_err(g->lc, g->s, "out of memory");
		else
			seen->addr_ok = true;
		n->port = seen->addr.port;
	}
	seen->role_ok = lu_enum(g, "role", roles, -1, &role) == 1;
	if (seen->role_ok)
		n->role = (enum conf_role)role;
	lu_int(g, "priority", 100, 0, 1000, &n->priority);
}

static void check_node_dups(struct lctx *lc, const struct conf_cluster *c,
			    const struct node_seen *seen)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		const struct conf_node *a = &c->nodes[i];

		for (size_t j = 0; j < i; j++) {
			const struct conf_node *b = &c->nodes[j];

			if (a->name && b->name && strcmp(a->name, b->name) == 0)
				lu_err(lc, seen[i].s, "duplicate node name '%s' in cluster '%s' "
				       "(first defined at line %d)", a->name, or_q(c->name), b->line);
			if (seen[i].addr_ok && seen[j].addr_ok &&
			    conf_address_equal(&seen[i].addr, &seen[j].addr))
				lu_err(lc, seen[i].s, "node '%s' has the same address %s as node "
				       "'%s' (line %d); each node needs its own address",
				       or_q(a->name), a->address, or_q(b->name), b->line);
		}
	}
}

static void check_primary(const struct lgrp *g, const struct conf_cluster *c,
			  const struct node_seen *seen)
{
	char names[256] = "";
	size_t primaries = 0, used = 0;

	for (size_t i = 0; i < c->n_nodes; i++) {
		/* A node whose role is already reported would only add noise. */
		if (!seen[i].role_ok)
			return;
		if (c->nodes[i].role != CONF_ROLE_PRIMARY)
			continue;
		primaries++;
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s'%s'",
						 primaries > 1 ? ", " : "", or_q(c->nodes[i].name));
	}
	if (primaries == 0)
		lu_err(g->lc, g->s, "cluster '%s' has no primary node: exactly one node must "
		       "have role = \"primary\"", or_q(c->name));
	else if (primaries > 1)
		lu_err(g->lc, g->s, "cluster '%s' has %zu primary nodes (%s): exactly one node "
		       "must have role = \"primary\", the others \"standby\"", or_q(c->name),
		       primaries, names);
}

static void load_nodes(const struct lgrp *g, struct conf_cluster *c)
{
	const config_setting_t *list;
	struct node_seen *seen;
	bool all_groups = true;
	size_t n;

	if (lu_list(g, "nodes", true, 2, &list, &n) != 1)
		return;
	if (n > CONF_MAX_NODES) {
		lu_err(g->lc, list, "'nodes' has %zu entries; at most %d per cluster", n,
		       CONF_MAX_NODES);
		return;
	}
	if ((c->nodes = lu_calloc(g, n, sizeof(*c->nodes))) == NULL)
		return;
	c->n_nodes = n;
	if ((seen = lu_calloc(g, n, sizeof(*seen))) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct lgrp e;

		if (lu_elem(g->lc, list, i, "node", &e) == 0)
			load_node(&e, &c->nodes[i], &seen[i]);
		else
			all_groups = false;
	}
	if (all_groups) {
		check_node_dups(g->lc, c, seen);
		check_primary(g, c, seen);
	}
	free(seen);
}

/* ---- clusters ---- */

static void load_probes(const struct lgrp *g, struct conf_cluster *c)
{
	const config_setting_t *list;
	struct lgrp e;
	size_t n;

	if (lu_list(g, "probes", true, 1, &list, &n) != 1)
		return;
	if (n > CONF_MAX_PROBES) {
		lu_err(g->lc, list, "'probes' has %zu entries; at most %d per cluster", n,
		       CONF_MAX_PROBES);
		return;
	}
	if ((c->probes = lu_calloc(g, n, sizeof(*c->probes))) == NULL)
		return;
	c->n_probes = n;
	for (size_t i = 0; i < n; i++)
		if (lu_elem(g->lc, list, i, "probe", &e) == 0)
			load_probe(&e, &c->probes[i], c);
}

static bool cluster_has_lag_probe(const struct conf_cluster *c)
{
	for (size_t i = 0; i < c->n_probes; i++)
		if (c->probes[i].type == CONF_PROBE_EXEC && c->probes[i].lag)
			return true;
	return false;
}

static void load_cluster(const struct lgrp *g, struct conf_cluster *c)
{
	c->line = lu_line(g->s);
	lu_check_keys(g, cluster_keys);
	lu_ident(g, "name", true, &c->name);
	load_nodes(g, c);
	load_probes(g, c);
	conf_load_balancers(g, c);
	conf_load_hooks(g, &c->hooks);
	conf_load_restore(g, c);
	conf_load_alerts(g, &c->alerts, &c->n_alerts);
	lu_duration(g, "cooldown", "60s", &c->cooldown_ms);
	lu_int(g, "max_failovers", 3, 1, CONF_MAX_FAILOVERS, &c->max_failovers);
	lu_duration(g, "failover_window", "1h", &c->failover_window_ms);
	lu_duration(g, "failback_after", "0ms", &c->failback_after_ms);
	lu_duration(g, "failover_delay", "0ms", &c->failover_delay_ms);
	lu_int(g, "retries", 3, 0, 100, &c->retries);
	lu_duration(g, "retry_backoff", "1s", &c->retry_backoff_ms);
	if (lu_duration(g, "drain_timeout", "30s", &c->drain_timeout_ms) == 1)
		lu_duration_min(g, "drain_timeout", c->drain_timeout_ms, 1);
	lu_duration(g, "rejoin_after", "0ms", &c->rejoin_after_ms);
	c->has_max_lag = lu_int64(g, "max_lag", 0, &c->max_lag) == 1;
	if (c->has_max_lag && !cluster_has_lag_probe(c))
		lu_err(g->lc, lu_where(g, "max_lag"), "'max_lag' needs an exec probe with "
		       "lag = true (it measures the lag max_lag is compared with)");
	/* 0 = a majority of the cluster's probes, each an independent observer. */
	lu_int(g, "quorum", 0, 0, CONF_MAX_PROBES, &c->quorum);
	if (c->quorum > 0 && c->n_probes > 0 && (size_t)c->quorum > c->n_probes)
		lu_err(g->lc, lu_where(g, "quorum"), "'quorum' is %d but the cluster has only %zu "
		       "probe%s (observers)", c->quorum, c->n_probes, c->n_probes == 1 ? "" : "s");
}

static void load_clusters(const struct lgrp *top, struct config *cfg)
{
	const config_setting_t *list;
	size_t n;

	if (lu_list(top, "clusters", true, 1, &list, &n) != 1 ||
	    (cfg->clusters = lu_calloc(top, n, sizeof(*cfg->clusters))) == NULL)
		return;
	cfg->n_clusters = n;
	for (size_t i = 0; i < n; i++) {
		struct conf_cluster *c = &cfg->clusters[i];
		struct lgrp e;

		if (lu_elem(top->lc, list, i, "cluster", &e) < 0)
			continue;
		load_cluster(&e, c);
		for (size_t j = 0; j < i; j++)
			if (c->name && cfg->clusters[j].name &&
			    strcmp(c->name, cfg->clusters[j].name) == 0)
				lu_err(top->lc, e.s, "duplicate cluster name '%s' (first defined "
				       "at line %d)", c->name, cfg->clusters[j].line);
	}
}

/* ---- top level ---- */

static void load_control(const struct lgrp *top, struct conf_control *ctl)
{
	struct lgrp g;
	int has = lu_subgroup(top, "control", "control", &g);

	ctl->mode = 0600;
	ctl->max_connections = CONF_DEFAULT_MAX_CONNECTIONS;
	if (has == 1) {
		lu_check_keys(&g, control_keys);
		lu_mode(&g, &ctl->mode);
		lu_int(&g, "max_connections", CONF_DEFAULT_MAX_CONNECTIONS, 1, 1024,
		       &ctl->max_connections);
		if (lu_path(&g, "socket", false, DEFAULT_SOCKET, &ctl->socket) < 0)
			return;
	} else if ((ctl->socket = strdup(DEFAULT_SOCKET)) == NULL) {
		lu_err(top->lc, top->s, "out of memory");
		return;
	}
	if (ctl->socket != NULL &&
	    strlen(ctl->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		lu_err(top->lc, has == 1 ? lu_where(&g, "socket") : top->s, "'socket' is too long "
		       "for a unix socket path (at most %zu bytes)",
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
}

static void load_top(struct lctx *lc, const config_setting_t *root, struct config *cfg)
{
	struct lgrp g = { lc, root, "the top level" };
	int lf;

	lu_check_keys(&g, top_keys);
	lu_path(&g, "state_dir", false, DEFAULT_STATE_DIR, &cfg->state_dir);
	load_control(&g, &cfg->control);
	if (lu_enum(&g, "log_format", log_formats, CONF_LOG_TEXT, &lf) >= 0)
		cfg->log_format = (enum conf_log_format)lf;
	lu_duration(&g, "tilt_period", "30s", &cfg->tilt_period_ms);
	if (lu_duration(&g, "tilt_stall", "2s", &cfg->tilt_stall_ms) == 1)
		lu_duration_min(&g, "tilt_stall", cfg->tilt_stall_ms, 100);
	lu_int(&g, "journal_max_mb", 64, 1, 65536, &cfg->journal_max_mb);
	load_clusters(&g, cfg);
	conf_load_backups(&g, cfg);
	conf_check_restores(&g, cfg);
}

/* Resolve `@include "x.conf"` next to FILE rather than in the cwd. */
static int set_include_dir(config_t *lcfg, const char *file)
{
	char *copy = strdup(file);

	if (copy == NULL)
		return -1;
	config_set_include_dir(lcfg, dirname(copy)); /* libconfig keeps its own copy */
	free(copy);
	return 0;
}

static int read_file(struct lctx *lc, config_t *lcfg)
{
	char name[PATH_MAX];
	int saved;

	if (set_include_dir(lcfg, lc->file) < 0) {
		conf_errors_add(lc->errs, lc->file, 0, "out of memory");
		return -1;
	}
	lc->dir = config_get_include_dir(lcfg);
	if (config_read_file(lcfg, lc->file) == CONFIG_TRUE)
		return 0;
	saved = errno;
	if (config_error_type(lcfg) == CONFIG_ERR_FILE_IO)
		conf_errors_add(lc->errs, lc->file, 0, "cannot read config file: %s",
				strerror(saved));
	else
		conf_errors_add(lc->errs, lu_file_name(lc, config_error_file(lcfg), name,
							sizeof(name)),
				config_error_line(lcfg), "%s", config_error_text(lcfg));
	return -1;
}

/* Line of a message "FILE:LINE: ..." about FILE; other files sort last. */
static long msg_line(const char *msg, const char *file)
{
	size_t len = strlen(file);

	if (strncmp(msg, file, len) != 0 || msg[len] != ':')
		return LONG_MAX;
	return strtol(msg + len + 1, NULL, 10);
}

/*
 * Checks run group by group, and the cross-checks (duplicates, primaries)
 * after each group, so messages arrive out of order.  Operators read them
 * top to bottom: a stable insertion sort of our own messages by line.
 */
static void sort_errors(struct conf_errors *errs, size_t from, const char *file)
{
	for (size_t i = from + 1; i < errs->n; i++) {
		char *m = errs->msgs[i];
		long line = msg_line(m, file);
		size_t j = i;

		for (; j > from && msg_line(errs->msgs[j - 1], file) > line; j--)
			errs->msgs[j] = errs->msgs[j - 1];
		errs->msgs[j] = m;
	}
}

int conf_load(const char *file, struct config **out, struct conf_errors *errs)
{
	size_t first = errs->n;
	struct lctx lc = { file, NULL, errs, 0 };
	struct config *cfg;
	config_t lcfg;

	if (file == NULL) {
		conf_errors_add(errs, "?", 0, "no config file given");
		return -1;
	}
	config_init(&lcfg);
	if (read_file(&lc, &lcfg) < 0) {
		config_destroy(&lcfg);
		return -1;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || (cfg->path = strdup(file)) == NULL) {
		conf_errors_add(errs, file, 0, "out of memory");
		free(cfg);
		config_destroy(&lcfg);
		return -1;
	}
	load_top(&lc, config_root_setting(&lcfg), cfg);
	config_destroy(&lcfg);
	if (lc.n_errors > 0) {
		sort_errors(errs, first, file);
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}
