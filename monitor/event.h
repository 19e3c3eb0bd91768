/*
 * monitor/event.h — the one place "something happened" goes out: a log
 * line with its fields and, for events operators are paged about, the
 * cluster's alert sinks, after the record is appended to the journal and
 * made durable: a caller about to act checks the return value and does not
 * act on an event it could not journal.
 */
#ifndef VIGIL_MONITOR_EVENT_H
#define VIGIL_MONITOR_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "common/log.h"
#include "monitor/cluster.h"

struct mon_event_info {
	const char *event;       /* "node_down", "failover", ... */
	const char *node;        /* may be NULL */
	const char *old_primary; /* may be NULL */
	const char *new_primary; /* may be NULL */
	const char *reason;      /* may be NULL */
	const char *detail;      /* extra text; may be NULL */
	uint64_t epoch;          /* 0: the cluster's current epoch */
	const char *from, *to;   /* a state change ("transition"): the two states */
	bool manual;             /* failover_started: an operator's order */
	bool switchover;         /* failover_started: a planned switchover */
	const json_t *fields;    /* more fields for the journal record only (borrowed), or NULL */
};

/* 0, or -1 when the journal append failed (logged; alerts still go out). */
int mon_event(struct mon_cluster *cl, enum vlog_level lvl, const struct mon_event_info *ev);

#endif
