/*
 * conf/load_alert.c — a cluster's alert sinks (see load_int.h).  Same
 * rules as conf/load.c: every problem is reported as FILE:LINE and loading
 * carries on.
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load_int.h"
#include "conf/load_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const alert_keys[] = { "type", "url", "retries", "timeout", "backoff", NULL };
static const char *const alert_types[] = { [CONF_ALERT_WEBHOOK] = "webhook", NULL };

static void load_alert(const struct lgrp *g, struct conf_alert *a)
{
	int v;

	a->line = lu_line(g->s);
	lu_check_keys(g, alert_keys);
	if (lu_enum(g, "type", alert_types, -1, &v) == 1)
		a->type = (enum conf_alert_type)v;
	if (lu_string(g, "url", true, NULL, &a->url) == 1)
		lu_http_url(g, "url", a->url, true);
	lu_int(g, "retries", 5, 0, 20, &a->retries);
	a->timeout_ms = 5000;
	if (lu_duration(g, "timeout", "5s", &a->timeout_ms) == 1)
		lu_duration_min(g, "timeout", a->timeout_ms, 1);
	a->backoff_ms = 500;
	lu_duration(g, "backoff", "500ms", &a->backoff_ms);
}

void conf_load_alerts(const struct lgrp *g, struct conf_cluster *c)
{
	const config_setting_t *list;
	struct lgrp e;
	size_t n;

	if (lu_list(g, "alerts", false, 0, &list, &n) != 1 || n == 0 ||
	    (c->alerts = lu_calloc(g, n, sizeof(*c->alerts))) == NULL)
		return;
	c->n_alerts = n;
	for (size_t i = 0; i < n; i++)
		if (lu_elem(g->lc, list, i, "alert", &e) == 0)
			load_alert(&e, &c->alerts[i]);
}
