/*
 * monitor/control_events.c — GET /v1/events: the journal's records, oldest
 * first, each with its sequence number (1 = the journal's first record), so
 * that `vigilctl events --follow` can ask for what came after the last one
 * it saw.  Reads the journal file itself: the journal is the source of
 * truth, and it is small and local.
 */
#include <errno.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/control_int.h"
#include "monitor/daemon.h"
#include "monitor/journal.h"

#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 1000

struct events_query {
	const char *cluster; /* NULL = every cluster */
	unsigned long long after;
	size_t limit;
};

struct events_ctx {
	const struct events_query *q;
	uint64_t seq;
	json_t *ring; /* the last `limit` matching records */
};

static int parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

static int parse_query(const struct evhttp_uri *uri, struct evkeyvalq *kv, struct events_query *q,
		       char *err, size_t errlen)
{
	const char *qs = evhttp_uri_get_query(uri);
	unsigned long long v;
	struct evkeyval *e;

	*q = (struct events_query){ NULL, 0, EVENTS_DEFAULT_LIMIT };
	if (qs && evhttp_parse_query_str(qs, kv) < 0) {
		snprintf(err, errlen, "malformed query string");
		return -1;
	}
	TAILQ_FOREACH(e, kv, next) {
		if (strcmp(e->key, "cluster") == 0) {
			q->cluster = e->value;
		} else if (strcmp(e->key, "after") == 0) {
			if (parse_number(e->value, ~0ULL >> 1, &q->after) < 0) {
				snprintf(err, errlen, "'after' must be a record number (0 or more)");
				return -1;
			}
		} else if (strcmp(e->key, "limit") == 0) {
			if (parse_number(e->value, EVENTS_MAX_LIMIT, &v) < 0 || v == 0) {
				snprintf(err, errlen, "'limit' must be 1..%d", EVENTS_MAX_LIMIT);
				return -1;
			}
			q->limit = (size_t)v;
		} else {
			snprintf(err, errlen, "unknown parameter '%s' (accepted: cluster, after, limit)",
				 e->key);
			return -1;
		}
	}
	return 0;
}

/*
 * Damage is not an event: the daemon reports it when it finds it (state
 * held, a journal_damaged event per cluster).
 */
static int collect(void *arg, const struct journal_line *l)
{
	struct events_ctx *ctx = arg;
	const char *cl;
	json_t *copy;

	if (!l->rec)
		return 0;
	ctx->seq = l->seq;
	cl = json_string_value(json_object_get(l->rec, "cluster"));
	if (ctx->seq <= ctx->q->after || (ctx->q->cluster && (!cl || strcmp(cl, ctx->q->cluster))))
		return 0;
	copy = json_deep_copy(l->rec);
	if (!copy || json_object_set_new(copy, "seq", json_integer((json_int_t)ctx->seq)) < 0 ||
	    json_array_append_new(ctx->ring, copy) < 0)
		return -1;
	if (json_array_size(ctx->ring) > ctx->q->limit)
		json_array_remove(ctx->ring, 0);
	return 0;
}

void control_events(struct evhttp_request *req, struct mon_daemon *d,
		    const struct evhttp_uri *uri)
{
	struct evkeyvalq kv = TAILQ_HEAD_INITIALIZER(kv);
	struct events_query q;
	struct events_ctx ctx = { &q, 0, json_array() };
	struct journal_replay stats;
	char err[512];

	if (!ctx.ring) {
		control_reply_error(req, 500, "out of memory");
		return;
	}
	if (parse_query(uri, &kv, &q, err, sizeof(err)) < 0) {
		control_reply_error(req, 400, err);
	} else if (q.cluster && !daemon_find_cluster(d, q.cluster)) {
		snprintf(err, sizeof(err), "no cluster named '%s'", q.cluster);
		control_reply_error(req, 404, err);
	} else if (journal_replay(daemon_journal_path(d), collect, &ctx, &stats, err,
				  sizeof(err)) < 0) {
		control_reply_error(req, 500, err);
	} else {
		control_reply_json(req, 200, json_pack("{s:O, s:I}", "events", ctx.ring,
						       "last", (json_int_t)stats.last_seq));
	}
	evhttp_clear_headers(&kv);
	json_decref(ctx.ring);
}
