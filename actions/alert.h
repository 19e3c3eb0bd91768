/*
 * actions/alert.h — alert sinks: a generic JSON webhook, PagerDuty (Events
 * API v2), Slack (incoming webhook) and exec (a command, the event in its
 * VIGIL_* environment).  Delivery is asynchronous (the curl loop, the child
 * runner), retried with exponential backoff and a bound; a sink that is
 * down never delays anything else.  Every delivery outcome is logged,
 * without the URL or key: they may carry a secret.
 *
 * Each sink has a minimum severity.  The event "resolved" (the cluster is
 * healthy again) closes an incident: it reaches every sink that was sent
 * something since the last "resolved", whatever its minimum, and always
 * reaches PagerDuty sinks, where it resolves the incident (same dedup_key).
 *
 * Webhook payload:
 *   {"cluster":"web","event":"failover","severity":"critical",
 *    "old_primary":"a","new_primary":"b","node":"a","reason":"...",
 *    "epoch":3,"timestamp":"2026-11-25T04:33:30.123Z"}
 */
#ifndef VIGIL_ACTIONS_ALERT_H
#define VIGIL_ACTIONS_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct event_base;
struct curl_loop;
struct child_runner;
struct alerter;

struct alert_event {
	const char *cluster;
	const char *event;       /* "failover", "failover_failed", "node_down", "resolved", ... */
	const char *severity;    /* "info", "warning", "critical" */
	const char *node;        /* may be NULL */
	const char *old_primary; /* may be NULL */
	const char *new_primary; /* may be NULL */
	const char *reason;      /* may be NULL */
	uint64_t epoch;          /* "resolved": the epoch of the incident it closes */
};

/*
 * One alerter per cluster, sending to its configured sinks.  CHILDREN runs
 * exec sinks; it may be NULL when there are none.
 */
struct alerter *alerter_new(struct event_base *base, struct curl_loop *curl,
			    struct child_runner *children,
			    const struct conf_alert *alerts, size_t n_alerts,
			    char *err, size_t errlen);
/* Queue ev for every sink that wants it; returns at once. */
void alerter_send(struct alerter *a, const struct alert_event *ev);
/* Deliveries still queued or in flight (tests, shutdown). */
size_t alerter_pending(const struct alerter *a);
/*
 * After a reload: take over the open incidents of OLD's sinks that have
 * the same type and destination, so that a later "resolved" still closes
 * (and, for PagerDuty, matches the dedup_key of) what was sent before.
 */
void alerter_inherit(struct alerter *a, const struct alerter *old);
/* Drops anything pending (logged as dropped). */
void alerter_free(struct alerter *a);

/* The webhook JSON body for ev (malloc'd), exposed for tests. */
char *alert_payload(const struct alert_event *ev);

#endif
