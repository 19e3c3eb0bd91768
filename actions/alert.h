/*
 * actions/alert.h — alert sinks (generic JSON webhook now).  Delivery is
 * asynchronous through the curl loop, retried with exponential backoff and
 * a bound; a sink that is down never delays anything else.  Every delivery
 * outcome is logged (without the URL: it may carry a secret).
 *
 * Payload:
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
struct alerter;

struct alert_event {
	const char *cluster;
	const char *event;       /* "failover", "failover_failed", "node_down", ... */
	const char *severity;    /* "info", "warning", "critical" */
	const char *node;        /* may be NULL */
	const char *old_primary; /* may be NULL */
	const char *new_primary; /* may be NULL */
	const char *reason;      /* may be NULL */
	uint64_t epoch;
};

/* One alerter per cluster, sending to its configured sinks. */
struct alerter *alerter_new(struct event_base *base, struct curl_loop *curl,
			    const struct conf_alert *alerts, size_t n_alerts,
			    char *err, size_t errlen);
/* Queue ev for every sink; returns at once. */
void alerter_send(struct alerter *a, const struct alert_event *ev);
/* Deliveries still queued or in flight (tests, shutdown). */
size_t alerter_pending(const struct alerter *a);
/* Drops anything pending (logged as dropped). */
void alerter_free(struct alerter *a);

/* The JSON body for ev (malloc'd), exposed for tests. */
char *alert_payload(const struct alert_event *ev);

#endif
