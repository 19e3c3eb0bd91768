/*
 * actions/alert_slack.c — Slack incoming webhooks: {"text": "..."} with one
 * readable line per event, e.g.
 *   ":rotating_light: vigil web: failover a → b (epoch 3): odown 3/3"
 * The same line (without emoji or escaping) is PagerDuty's summary.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "actions/alert_int.h"

/* A bounded line being written; never cuts a UTF-8 character in two. */
struct line {
	char *buf;
	size_t size;
	size_t used;
	bool slack;
	bool full;
};

/* Bytes in the UTF-8 sequence that C starts (1 for stray bytes). */
static size_t seq_len(unsigned char c)
{
	if (c < 0xc0)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return c < 0xf8 ? 4 : 1;
}

/*
 * The stand-in for one byte of outside text: control characters (a reason
 * quoting multi-line output) become spaces, and for Slack the three
 * characters its markup gives a meaning to are escaped as it documents.
 */
static const char *stand_in(const struct line *l, char c)
{
	if ((unsigned char)c < 0x20 || c == 0x7f)
		return " ";
	if (!l->slack)
		return NULL;
	return c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
}

/* Append S; OUTSIDE: it is data (names, reasons), not our own wording. */
static void put(struct line *l, const char *s, bool outside)
{
	while (!l->full && *s) {
		const char *rep = outside ? stand_in(l, *s) : NULL;
		size_t n = rep ? strlen(rep) : strnlen(s, seq_len((unsigned char)*s));

		if (l->used + n >= l->size) {
			l->full = true;
			break;
		}
		memcpy(l->buf + l->used, rep ? rep : s, n);
		l->used += n;
		s += rep ? 1 : n;
	}
	l->buf[l->used] = '\0';
}

void alert_describe(const struct alert_event *ev, bool slack, char *buf, size_t len)
{
	struct line l = { .buf = buf, .size = len, .slack = slack };
	char what[64], epoch[40];

	if (len == 0)
		return;
	/* "failover_failed" reads better as "failover failed". */
	snprintf(what, sizeof(what), "%s", ev->event ? ev->event : "event");
	for (char *p = what; *p; p++)
		if (*p == '_')
			*p = ' ';
	put(&l, "vigil ", false);
	put(&l, ev->cluster ? ev->cluster : "?", true);
	put(&l, ": ", false);
	put(&l, what, true);
	if (ev->old_primary && ev->new_primary) {
		put(&l, " ", false);
		put(&l, ev->old_primary, true);
		put(&l, " \xe2\x86\x92 ", false); /* U+2192 RIGHTWARDS ARROW */
		put(&l, ev->new_primary, true);
	} else if (ev->node) {
		put(&l, " ", false);
		put(&l, ev->node, true);
	}
	snprintf(epoch, sizeof(epoch), " (epoch %" PRIu64 ")", ev->epoch);
	put(&l, epoch, false);
	if (ev->reason && ev->reason[0]) {
		put(&l, ": ", false);
		put(&l, ev->reason, true);
	}
}

static const char *emoji(const struct alert_event *ev)
{
	if (alert_is_resolved(ev))
		return ":white_check_mark:";
	switch (alert_severity(ev->severity)) {
	case CONF_SEV_INFO:
		return ":information_source:";
	case CONF_SEV_WARNING:
		return ":warning:";
	default:
		return ":rotating_light:";
	}
}

static int slack_build(const struct alert_ctx *c, const struct alert_event *ev,
		       struct alert_req *req)
{
	char line[1024], text[1100];
	json_t *o = json_object();

	(void)c;
	if (!o)
		return -1;
	alert_describe(ev, true, line, sizeof(line));
	snprintf(text, sizeof(text), "%s %s", emoji(ev), line);
	if (json_object_set_new(o, "text", alert_json_str(text)) == 0)
		req->body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return req->body ? 0 : -1;
}

const struct alert_format alert_fmt_slack = {
	.name = "slack",
	.build = slack_build,
	/* Slack's 4xx (invalid_payload, no_service, ...) do not get better with time. */
	.judge = alert_judge_strict,
};
