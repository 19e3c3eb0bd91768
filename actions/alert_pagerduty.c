/*
 * actions/alert_pagerduty.c — PagerDuty Events API v2.
 *
 * An alert is a "trigger"; the event "resolved" is a "resolve" of the same
 * dedup_key, "vigil-<cluster>-<epoch>" where the epoch is the incident's
 * (the alerter passes it in the context): every trigger of one incident
 * lands on one PagerDuty incident, and the resolve closes exactly that.
 * PagerDuty answers 202 when it took the event, 400 when it never will,
 * 429 when throttling, 5xx when it is in trouble.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "actions/alert_int.h"
#include "common/clock.h"

/* PagerDuty truncates longer summaries; cutting them here keeps UTF-8 whole. */
#define PD_SUMMARY_MAX 1024

enum alert_verdict alert_judge_strict(long status)
{
	if (status >= 200 && status <= 299)
		return ALERT_OK;
	if (status >= 400 && status <= 499 && status != 408 && status != 429)
		return ALERT_REJECTED;
	return ALERT_RETRY;
}

static const char *pd_severity(const char *severity)
{
	static const char *const known[] = { "critical", "warning", "info" };

	for (size_t i = 0; severity && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(severity, known[i]) == 0)
			return known[i];
	/* The fourth level PagerDuty knows: nothing of ours maps to it by name. */
	return "error";
}

/* Set KEY to string S when S is given; 0, or -1 on failure. */
static int set_opt(json_t *o, const char *key, const char *s)
{
	return s ? json_object_set_new(o, key, alert_json_str(s)) : 0;
}

static json_t *pd_details(const struct alert_event *ev)
{
	json_t *d = json_object();
	int bad = 0;

	if (!d)
		return NULL;
	bad |= set_opt(d, "event", ev->event);
	bad |= set_opt(d, "node", ev->node);
	bad |= set_opt(d, "old_primary", ev->old_primary);
	bad |= set_opt(d, "new_primary", ev->new_primary);
	bad |= set_opt(d, "reason", ev->reason);
	bad |= json_object_set_new(d, "epoch", json_integer((json_int_t)ev->epoch));
	if (bad) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static json_t *pd_payload(const struct alert_event *ev)
{
	char summary[PD_SUMMARY_MAX + 1], source[160], ts[40];
	json_t *p = json_object();
	int bad = 0;

	if (!p)
		return NULL;
	alert_describe(ev, false, summary, sizeof(summary));
	snprintf(source, sizeof(source), "vigil/%s", ev->cluster ? ev->cluster : "?");
	clock_iso8601(ts, sizeof(ts));
	bad |= json_object_set_new(p, "summary", alert_json_str(summary));
	bad |= json_object_set_new(p, "source", alert_json_str(source));
	bad |= json_object_set_new(p, "severity", json_string(pd_severity(ev->severity)));
	bad |= json_object_set_new(p, "timestamp", json_string(ts));
	bad |= set_opt(p, "component", ev->node);
	bad |= set_opt(p, "group", ev->cluster);
	bad |= set_opt(p, "class", ev->event);
	bad |= json_object_set_new(p, "custom_details", pd_details(ev));
	if (bad) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static int pd_build(const struct alert_ctx *c, const struct alert_event *ev,
		    struct alert_req *req)
{
	bool resolve = alert_is_resolved(ev);
	char dedup[256];
	json_t *o = json_object();
	int bad = 0;

	if (!o)
		return -1;
	snprintf(dedup, sizeof(dedup), "vigil-%s-%" PRIu64, ev->cluster ? ev->cluster : "?",
		 c->incident);
	bad |= json_object_set_new(o, "routing_key", alert_json_str(c->routing_key));
	bad |= json_object_set_new(o, "event_action", json_string(resolve ? "resolve" : "trigger"));
	bad |= json_object_set_new(o, "dedup_key", alert_json_str(dedup));
	if (!resolve) {
		bad |= json_object_set_new(o, "payload", pd_payload(ev));
		bad |= json_object_set_new(o, "client", json_string("vigil"));
	}
	req->body = bad ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return req->body ? 0 : -1;
}

const struct alert_format alert_fmt_pagerduty = {
	.name = "pagerduty",
	.resolve_always = true,
	.build = pd_build,
	.judge = alert_judge_strict,
};
