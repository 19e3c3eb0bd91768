/*
 * actions/alert_webhook.c — the generic webhook: vigil's own JSON for an
 * event (see alert.h), POSTed as is.  Any 2xx is delivered; anything else
 * is retried, since nothing is known about what the receiver means by it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actions/alert_int.h"
#include "common/clock.h"

/*
 * Reasons can quote probe output, which is not always UTF-8; jansson
 * refuses such text, and losing the whole alert over one byte would be
 * worse than showing it as '?'.
 */
json_t *alert_json_str(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

char *alert_payload(const struct alert_event *ev)
{
	char ts[40];
	json_t *o = json_object();
	char *s;
	int bad = 0;

	if (!o)
		return NULL;
	clock_iso8601(ts, sizeof(ts));
	bad |= json_object_set_new(o, "cluster", alert_json_str(ev->cluster));
	bad |= json_object_set_new(o, "event", alert_json_str(ev->event));
	bad |= json_object_set_new(o, "severity", alert_json_str(ev->severity));
	bad |= json_object_set_new(o, "old_primary", alert_json_str(ev->old_primary));
	bad |= json_object_set_new(o, "new_primary", alert_json_str(ev->new_primary));
	bad |= json_object_set_new(o, "node", alert_json_str(ev->node));
	bad |= json_object_set_new(o, "reason", alert_json_str(ev->reason));
	bad |= json_object_set_new(o, "epoch", json_integer((json_int_t)ev->epoch));
	bad |= json_object_set_new(o, "timestamp", json_string(ts));
	s = bad ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int webhook_build(const struct alert_ctx *c, const struct alert_event *ev,
			 struct alert_req *req)
{
	(void)c;
	req->body = alert_payload(ev);
	return req->body ? 0 : -1;
}

static enum alert_verdict webhook_judge(long status)
{
	return status >= 200 && status <= 299 ? ALERT_OK : ALERT_RETRY;
}

const struct alert_format alert_fmt_webhook = {
	.name = "webhook",
	.build = webhook_build,
	.judge = webhook_judge,
};
