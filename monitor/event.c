/* monitor/event.c — log + alert fan-out for cluster events (see event.h). */
#include "monitor/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Events that reach the alert sinks, with the severity they carry. */
static const struct {
	const char *event;
	const char *severity;
} alerted[] = {
	{ "node_down", "warning" },
	{ "node_up", "info" },
	{ "failover_started", "warning" },
	{ "failover", "critical" },
	{ "failover_failed", "critical" },
	{ "no_candidate", "critical" },
	{ "reroute_failed", "critical" },
};

static const char *alert_severity(const char *event)
{
	for (size_t i = 0; i < sizeof(alerted) / sizeof(alerted[0]); i++)
		if (strcmp(alerted[i].event, event) == 0)
			return alerted[i].severity;
	return NULL;
}

static void log_event(const struct mon_cluster *cl, enum vlog_level lvl,
		      const struct mon_event_info *ev)
{
	const char *keys[8], *vals[8];
	char epoch[24];
	int n = 0;

	snprintf(epoch, sizeof(epoch), "%" PRIu64, cl->epoch);
	keys[n] = "cluster", vals[n++] = cl->conf->name;
	keys[n] = "event", vals[n++] = ev->event;
	keys[n] = "epoch", vals[n++] = epoch;
	if (ev->node)
		keys[n] = "node", vals[n++] = ev->node;
	if (ev->old_primary)
		keys[n] = "old_primary", vals[n++] = ev->old_primary;
	if (ev->new_primary)
		keys[n] = "new_primary", vals[n++] = ev->new_primary;
	if (ev->reason)
		keys[n] = "reason", vals[n++] = ev->reason;
	if (ev->detail)
		keys[n] = "detail", vals[n++] = ev->detail;
	vlog_fields(lvl, "monitor", ev->event, keys, vals, n);
}

void mon_event(struct mon_cluster *cl, enum vlog_level lvl, const struct mon_event_info *ev)
{
	const char *severity = alert_severity(ev->event);

	log_event(cl, lvl, ev);
	if (severity && cl->alerter) {
		struct alert_event a = {
			.cluster = cl->conf->name, .event = ev->event, .severity = severity,
			.node = ev->node, .old_primary = ev->old_primary,
			.new_primary = ev->new_primary, .reason = ev->reason, .epoch = cl->epoch,
		};
		alerter_send(cl->alerter, &a);
	}
}
