/*
 * monitor/event.h — the one place "something happened" goes out: a log
 * line with its fields and, for events operators are paged about, the
 * cluster's alert sinks.  (The journal append joins here in the quorum issue.)
 */
#ifndef VIGIL_MONITOR_EVENT_H
#define VIGIL_MONITOR_EVENT_H

#include "common/log.h"
#include "monitor/cluster.h"

struct mon_event_info {
	const char *event;       /* "node_down", "failover", ... */
	const char *node;        /* may be NULL */
	const char *old_primary; /* may be NULL */
	const char *new_primary; /* may be NULL */
	const char *reason;      /* may be NULL */
	const char *detail;      /* extra text for the log only; may be NULL */
};

void mon_event(struct mon_cluster *cl, enum vlog_level lvl, const struct mon_event_info *ev);

#endif
