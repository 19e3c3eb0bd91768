/*
 * conf/load_alert.c — a cluster's alert sinks (see load_int.h).  Same
 * rules as conf/load.c: every problem is reported as FILE:LINE and loading
 * carries on.
 *
 * URLs and routing keys are secrets: they may be written inline or read
 * from a file (`url_file`, `routing_key_file`: the first line), so that
 * the main config can be shared; no message ever shows one, only the name
 * of the file it came from.
 */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* Longer first lines are not a URL or a key: most likely the wrong file. */
#define SECRET_MAX 4096
#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

static const char *const alert_common_keys[] = {
	"type", "min_severity", "retries", "timeout", "backoff", NULL,
};
static const char *const webhook_keys[] = { "url", "url_file", NULL };
static const char *const pagerduty_keys[] = {
	"routing_key", "routing_key_file", "url", "url_file", NULL,
};
static const char *const slack_keys[] = { "url", "url_file", NULL };
static const char *const exec_keys[] = { "command", NULL };
static const char *const no_keys[] = { NULL };
static const char *const *const alert_type_keys[] = {
	[CONF_ALERT_WEBHOOK] = webhook_keys,
	[CONF_ALERT_PAGERDUTY] = pagerduty_keys,
	[CONF_ALERT_SLACK] = slack_keys,
	[CONF_ALERT_EXEC] = exec_keys,
};
static const char *const alert_types[] = {
	[CONF_ALERT_WEBHOOK] = "webhook", [CONF_ALERT_PAGERDUTY] = "pagerduty",
	[CONF_ALERT_SLACK] = "slack", [CONF_ALERT_EXEC] = "exec", NULL,
};
static const char *const severities[] = {
	[CONF_SEV_INFO] = "info", [CONF_SEV_WARNING] = "warning",
	[CONF_SEV_CRITICAL] = "critical", NULL,
};

/* "webhook, slack": the types that have KEY. */
static void key_owners(const char *key, char *buf, size_t len)
{
	const char *names[N_ELEMS(alert_type_keys) + 1];
	size_t n = 0;

	for (size_t t = 0; t < N_ELEMS(alert_type_keys); t++)
		if (lu_in(key, alert_type_keys[t]))
			names[n++] = alert_types[t];
	names[n] = NULL;
	lu_join(buf, len, names);
}

/* Like probes: a key of another type is named as such, not as unknown. */
static void check_alert_keys(const struct lgrp *g, int type)
{
	int n = config_setting_length(g->s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g->s, (unsigned)i);
		const char *name = config_setting_name(m);
		char owners[128], common[256], own[256];

		if (lu_in(name, alert_common_keys) ||
		    (type >= 0 && lu_in(name, alert_type_keys[type])))
			continue;
		key_owners(name, owners, sizeof(owners));
		if (owners[0] && type >= 0) {
			lu_err(g->lc, m, "'%s' does not apply to alerts of type %s (it is a key "
			       "of %s alerts)", name, alert_types[type], owners);
		} else if (!owners[0]) {
			lu_join(common, sizeof(common), alert_common_keys);
			/* With no valid type, only the shared keys are certain. */
			lu_join(own, sizeof(own), type >= 0 ? alert_type_keys[type] : no_keys);
			lu_err(g->lc, m, "unknown key '%s' in alert (accepted keys: %s%s%s)", name,
			       common, own[0] ? ", " : "", own);
		}
	}
}

/* S without its leading and trailing white space (in place). */
static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The first line of PATH, trimmed, into *out; problems reported at KEY. */
static int read_secret(const struct lgrp *g, const char *key, const char *path, char **out)
{
	const config_setting_t *at = lu_where(g, key);
	char buf[SECRET_MAX + 2] = "", *v;
	FILE *f = fopen(path, "re");
	bool too_long;
	int saved;

	if (!f) {
		lu_err(g->lc, at, "'%s': cannot open %s: %s", key, path, strerror(errno));
		return -1;
	}
	errno = 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	saved = errno;
	too_long = !strchr(buf, '\n') && strlen(buf) > SECRET_MAX;
	if (ferror(f)) {
		lu_err(g->lc, at, "'%s': cannot read %s: %s", key, path,
		       strerror(saved ? saved : EIO));
		fclose(f);
		return -1;
	}
	fclose(f);
	v = trim(buf);
	if (too_long || !v[0]) {
		lu_err(g->lc, at, "'%s': %s %s", key, path, too_long ?
		       "has a first line over 4096 bytes; it should hold only the value" :
		       "is empty; its first line should hold the value");
		return -1;
	}
	if ((*out = strdup(v)) == NULL) {
		lu_err(g->lc, at, "'%s': out of memory", key);
		return -1;
	}
	return 1;
}

/*
 * The secret KEY, written inline or in the file named by FILE_KEY:
 * 1 (and *from_file says which), 0 when neither is given, -1 reported.
 */
static int load_secret(const struct lgrp *g, const char *key, const char *file_key,
		       char **out, bool *from_file)
{
	char *path = NULL;
	int rc_in, rc_file;

	*out = NULL;
	*from_file = false;
	rc_in = lu_string(g, key, false, NULL, out);
	rc_file = lu_path(g, file_key, false, NULL, &path);
	if (rc_in == 1 && rc_file == 1) {
		lu_err(g->lc, lu_where(g, file_key), "give either '%s' or '%s', not both",
		       key, file_key);
		rc_file = -1;
	} else if (rc_file == 1) {
		*from_file = true;
		rc_file = read_secret(g, file_key, path, out);
	}
	free(path);
	if (rc_in < 0 || rc_file < 0)
		return -1;
	return rc_in == 1 || rc_file == 1;
}

static bool is_http_url(const char *url)
{
	size_t skip = strncasecmp(url, "http://", 7) == 0 ? 7 :
		      strncasecmp(url, "https://", 8) == 0 ? 8 : 0;

	return skip > 0 && url[skip] != '\0';
}

static void load_url(const struct lgrp *g, struct conf_alert *a)
{
	bool from_file;
	int rc = load_secret(g, "url", "url_file", &a->url, &from_file);

	if (rc == 0 && a->type == CONF_ALERT_PAGERDUTY) {
		if ((a->url = strdup(PAGERDUTY_URL)) == NULL)
			lu_err(g->lc, g->s, "reading 'url': out of memory");
	} else if (rc == 0) {
		lu_err(g->lc, g->s, "missing required key 'url' in alert (or 'url_file', "
		       "a file holding it)");
	} else if (rc == 1 && !from_file) {
		lu_http_url(g, "url", a->url, true);
	} else if (rc == 1 && !is_http_url(a->url)) {
		lu_err(g->lc, lu_where(g, "url_file"), "'url_file': the URL in it must start "
		       "with http:// or https:// and name a host (value not shown: it may hold "
		       "a secret)");
	}
}

static void load_routing_key(const struct lgrp *g, struct conf_alert *a)
{
	const char *key;
	bool from_file;
	int rc = load_secret(g, "routing_key", "routing_key_file", &a->routing_key, &from_file);

	if (rc == 0) {
		lu_err(g->lc, g->s, "missing required key 'routing_key' in alert (or "
		       "'routing_key_file', a file holding it)");
		return;
	}
	if (rc < 0)
		return;
	key = from_file ? "routing_key_file" : "routing_key";
	if (!a->routing_key[0]) {
		lu_err(g->lc, lu_where(g, key), "'%s' is empty", key);
		return;
	}
	for (const char *p = a->routing_key; *p; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			lu_err(g->lc, lu_where(g, key), "'%s': the routing key must not contain "
			       "spaces or control characters (value not shown: it is a secret)", key);
			return;
		}
	}
}

static void load_command(const struct lgrp *g, struct conf_alert *a)
{
	if (lu_argv(g, "command", true, &a->argv) != 1)
		return;
	if (a->argv[0][0] != '/')
		lu_err(g->lc, lu_where(g, "command"), "'command' must start with the absolute "
		       "path of the program, got \"%s\"", a->argv[0]);
}

static void load_alert(const struct lgrp *g, struct conf_alert *a)
{
	int type, sev;

	a->line = lu_line(g->s);
	lu_enum(g, "type", alert_types, -1, &type);
	check_alert_keys(g, type);
	/* A pager pages for what needs a human now: failover, failure, TILT. */
	lu_enum(g, "min_severity", severities,
		type == CONF_ALERT_PAGERDUTY ? CONF_SEV_CRITICAL : CONF_SEV_INFO, &sev);
	a->min_severity = (enum conf_severity)sev;
	lu_int(g, "retries", 5, 0, 20, &a->retries);
	a->timeout_ms = 5000;
	if (lu_duration(g, "timeout", "5s", &a->timeout_ms) == 1)
		lu_duration_min(g, "timeout", a->timeout_ms, 1);
	a->backoff_ms = 500;
	lu_duration(g, "backoff", "500ms", &a->backoff_ms);
	if (type < 0)
		return;
	a->type = (enum conf_alert_type)type;
	if (a->type == CONF_ALERT_EXEC) {
		load_command(g, a);
		return;
	}
	load_url(g, a);
	if (a->type == CONF_ALERT_PAGERDUTY)
		load_routing_key(g, a);
}

void conf_load_alerts(const struct lgrp *g, struct conf_alert **alerts, size_t *n_alerts)
{
	const config_setting_t *list;
	struct lgrp e;
	size_t n;

	if (lu_list(g, "alerts", false, 0, &list, &n) != 1 || n == 0 ||
	    (*alerts = lu_calloc(g, n, sizeof(**alerts))) == NULL)
		return;
	*n_alerts = n;
	for (size_t i = 0; i < n; i++)
		if (lu_elem(g->lc, list, i, "alert", &e) == 0)
			load_alert(&e, &(*alerts)[i]);
}
