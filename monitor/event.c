/* monitor/event.c — log, journal and alert fan-out for cluster events (see event.h). */
#include "monitor/event.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "monitor/journal.h"

/*
 * Every event kind: the severity it is alerted with (NULL: not alerted),
 * and whether its journal record must be durable before the caller goes on
 * (records that announce or conclude an action, or an operator's order).
 */
static const struct event_kind {
	const char *event;
	const char *severity;
	bool durable;
} kinds[] = {
	{ "transition", NULL, false },
	{ "node_down", "warning", false },
	{ "node_up", "info", false },
	{ "no_candidate", "critical", false },
	{ "failover_suppressed", "critical", false },
	{ "failover_limit", "critical", true },
	{ "failover_started", "warning", true },
	{ "fenced", NULL, true },
	{ "promote_started", NULL, true },
	{ "promoted", NULL, true },
	{ "restore_started", NULL, true },
	{ "restored", NULL, true },
	{ "follow_failed", "critical", true },
	{ "failover", "critical", true },
	{ "switchover", "warning", true },
	{ "failover_resumed", "critical", true },
	{ "retry", "warning", true },
	{ "rejoined", "info", true },
	{ "resolved", "info", false },
	{ "failover_failed", "critical", true },
	{ "failover_interrupted", "critical", true },
	{ "reroute_failed", "critical", true },
	{ "tilt", "critical", false },
	{ "tilt_over", "info", false },
	{ "paused", NULL, true },
	{ "resumed", NULL, true },
	{ "held", "critical", true },
	{ "hold_resolved", "info", true },
	{ "journal_damaged", "critical", true },
};

static const struct event_kind *event_kind(const char *event)
{
	static const struct event_kind unknown = { NULL, NULL, true };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].event, event) == 0)
			return &kinds[i];
	return &unknown;
}

static uint64_t event_epoch(const struct mon_cluster *cl, const struct mon_event_info *ev)
{
	return ev->epoch ? ev->epoch : cl->epoch;
}

static void log_event(const struct mon_cluster *cl, enum vlog_level lvl,
		      const struct mon_event_info *ev)
{
	const char *keys[10], *vals[10];
	char epoch[24];
	int n = 0;

	snprintf(epoch, sizeof(epoch), "%" PRIu64, event_epoch(cl, ev));
	keys[n] = "cluster", vals[n++] = cl->conf->name;
	keys[n] = "event", vals[n++] = ev->event;
	keys[n] = "epoch", vals[n++] = epoch;
	if (ev->from)
		keys[n] = "from", vals[n++] = ev->from;
	if (ev->to)
		keys[n] = "to", vals[n++] = ev->to;
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

static int journal_event(struct mon_cluster *cl, const struct mon_event_info *ev, bool durable)
{
	char ts[40], err[512];
	json_t *rec;
	int rc;

	if (!cl->env.journal)
		return 0;
	clock_iso8601(ts, sizeof(ts));
	rec = json_pack("{s:s, s:s, s:I, s:s, s:s*, s:s*, s:s*, s:s*, s:s*}", "ts", ts,
			"cluster", cl->conf->name, "epoch", (json_int_t)event_epoch(cl, ev),
			"event", ev->event, "node", ev->node, "old_primary", ev->old_primary,
			"new_primary", ev->new_primary, "reason", ev->reason, "detail", ev->detail);
	if (rec && ev->from)
		json_object_set_new(rec, "from", json_string(ev->from));
	if (rec && ev->to)
		json_object_set_new(rec, "to", json_string(ev->to));
	if (rec && ev->manual)
		json_object_set_new(rec, "manual", json_true());
	if (rec && ev->switchover)
		json_object_set_new(rec, "switchover", json_true());
	if (rec && ev->fields && json_object_update(rec, (json_t *)ev->fields) < 0) {
		json_decref(rec);
		rec = NULL;
	}
	if (!rec) {
		vlog(VLOG_ERR, "journal", "cannot encode record", "cluster", cl->conf->name,
		     "event", ev->event, NULL);
		return -1;
	}
	rc = journal_append(cl->env.journal, rec, durable, err, sizeof(err));
	json_decref(rec);
	if (rc < 0)
		vlog(VLOG_ERR, "journal", "cannot append record", "cluster", cl->conf->name,
		     "event", ev->event, "error", err, NULL);
	return rc;
}

int mon_event(struct mon_cluster *cl, enum vlog_level lvl, const struct mon_event_info *ev)
{
	const struct event_kind *kind = event_kind(ev->event);
	const char *severity = kind->severity;
	int rc;

	log_event(cl, lvl, ev);
	rc = journal_event(cl, ev, kind->durable);
	/* Anyone paged opens an incident; "resolved" closes it (machine.c). */
	if (severity && strcmp(severity, "info") != 0 && !cl->incident) {
		cl->incident = true;
		cl->incident_epoch = event_epoch(cl, ev);
	}
	if (severity && cl->alerter) {
		struct alert_event a = {
			.cluster = cl->conf->name, .event = ev->event, .severity = severity,
			.node = ev->node, .old_primary = ev->old_primary,
			.new_primary = ev->new_primary, .reason = ev->reason,
			.epoch = event_epoch(cl, ev),
		};
		alerter_send(cl->alerter, &a);
	}
	return rc;
}
