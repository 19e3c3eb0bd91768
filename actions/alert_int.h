/*
 * actions/alert_int.h — what one sink format provides to the alerter
 * (actions/alert.c owns queues, retries and transports): how to build the
 * request for an event, and how to judge the receiver's answer.  One file
 * per format: alert_webhook.c, alert_pagerduty.c, alert_slack.c,
 * alert_exec.c; alert_http.c sets up the POSTs.
 */
#ifndef VIGIL_ACTIONS_ALERT_INT_H
#define VIGIL_ACTIONS_ALERT_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/alert.h"

enum alert_verdict {
	ALERT_OK,       /* delivered */
	ALERT_RETRY,    /* failed; may work later */
	ALERT_REJECTED, /* the receiver refused this request: retrying cannot help */
};

/* What a format may need besides the event. */
struct alert_ctx {
	const char *routing_key; /* pagerduty */
	uint64_t incident;       /* epoch of the incident ev belongs to (dedup) */
};

/* One delivery's request. */
struct alert_req {
	char *body;  /* HTTP formats: the JSON to POST */
	char **env;  /* exec: "VIGIL_*=..." strings, NULL-terminated */
};

struct alert_format {
	const char *name;
	bool exec;           /* run the sink's command instead of an HTTP POST */
	bool resolve_always; /* "resolved" passes min_severity: it closes what was paged */
	/* Fill req for ev; 0, or -1 when out of memory. */
	int (*build)(const struct alert_ctx *c, const struct alert_event *ev,
		     struct alert_req *req);
	/* The verdict on an HTTP status (HTTP formats). */
	enum alert_verdict (*judge)(long status);
};

extern const struct alert_format alert_fmt_webhook;
extern const struct alert_format alert_fmt_pagerduty;
extern const struct alert_format alert_fmt_slack;
extern const struct alert_format alert_fmt_exec;

/* Events of this name close an incident. */
#define ALERT_RESOLVED "resolved"

bool alert_is_resolved(const struct alert_event *ev);
/* ev's severity; an unknown name counts as critical (better sent than lost). */
enum conf_severity alert_severity(const char *name);
/* A JSON string for s (bytes that are not UTF-8 become '?'), or null. */
json_t *alert_json_str(const char *s);
/*
 * The readable one-line account of ev, e.g.
 *   "vigil web: failover a → b (epoch 3): odown 3/3"
 * cut at a character boundary to fit len.  SLACK escapes &, < and > in
 * everything that came from outside (a reason could say <!channel>).
 */
void alert_describe(const struct alert_event *ev, bool slack, char *buf, size_t len);
/* A configured POST of BODY to URL (see alert_http.c), or NULL. */
CURL *alert_http_easy(const char *url, const char *body, struct curl_slist *headers,
		      uint64_t timeout_ms);
/* 2xx ok; 408, 429 and 5xx retried; any other 4xx rejected. */
enum alert_verdict alert_judge_strict(long status);

#endif
