/*
 * actions/alert.c — the alerter: per-sink queues, retries, transports.
 *
 * Each sink has its own FIFO of deliveries and sends one at a time, so a
 * slow or dead sink only ever delays itself and alerts reach a sink in the
 * order they happened.  A delivery is retried with exponential backoff up
 * to the sink's `retries`, then given up; one the receiver rejects outright
 * is not retried.  The queue is bounded: when a sink falls behind, the
 * oldest waiting alert is dropped (and logged), because the newest state
 * is the one an operator needs.
 *
 * What goes out is the format's business (alert_int.h): the alerter only
 * POSTs a body through the curl loop or runs a command through the child
 * runner, and asks the format what the answer means.
 *
 * Nothing here ever runs the loop: alerter_send only queues and arms a
 * zero-delay timer.
 */
#include "actions/alert.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/alert_int.h"
#include "common/argv.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/curl_loop.h"
#include "common/log.h"

#define ALERT_QUEUE_MAX 256
/* Doubling stops here so a long retry chain cannot overflow or sleep for days. */
#define ALERT_BACKOFF_MAX_MS (10u * 60u * 1000u)
#define ALERT_EXCERPT 200

struct delivery {
	struct delivery *next;
	struct alert_req req;
	char *cluster; /* for logs */
	char *event;
	int attempts;  /* made so far */
};

enum sink_state {
	SINK_IDLE,    /* nothing queued */
	SINK_WAITING, /* timer armed: next attempt (now, or after backoff) */
	SINK_SENDING, /* transfer or command in flight */
};

struct sink {
	struct alerter *owner;
	const struct alert_format *fmt;
	char index[24]; /* sinks are named by index in logs: the URL may be secret */
	char *url;
	char *routing_key;
	char **argv;
	enum conf_severity min;
	int retries;
	uint64_t timeout_ms;
	uint64_t backoff_ms;
	/* Something was sent since the last "resolved"; incident = its epoch. */
	bool open;
	uint64_t incident;
	struct delivery *head, *tail;
	size_t queued; /* including the one in flight */
	enum sink_state state;
	struct event *timer;
	CURL *easy;
	struct child *child;
	struct curl_slist *headers;
};

struct alerter {
	struct event_base *base;
	struct curl_loop *curl;
	struct child_runner *children;
	struct sink *sinks;
	size_t n_sinks;
};

static const struct alert_format *const formats[] = {
	[CONF_ALERT_WEBHOOK] = &alert_fmt_webhook,
	[CONF_ALERT_PAGERDUTY] = &alert_fmt_pagerduty,
	[CONF_ALERT_SLACK] = &alert_fmt_slack,
	[CONF_ALERT_EXEC] = &alert_fmt_exec,
};

bool alert_is_resolved(const struct alert_event *ev)
{
	return ev->event && strcmp(ev->event, ALERT_RESOLVED) == 0;
}

enum conf_severity alert_severity(const char *name)
{
	if (name && strcmp(name, "info") == 0)
		return CONF_SEV_INFO;
	if (name && strcmp(name, "warning") == 0)
		return CONF_SEV_WARNING;
	return CONF_SEV_CRITICAL;
}

static void req_free(struct alert_req *req)
{
	free(req->body);
	argv_free(req->env);
	req->body = NULL;
	req->env = NULL;
}

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	req_free(&d->req);
	free(d->cluster);
	free(d->event);
	free(d);
}

/* One outcome line: K2 may be NULL (it ends the fields there). */
static void log_delivery(enum vlog_level lvl, const struct sink *s, const struct delivery *d,
			 const char *msg, const char *k1, const char *v1,
			 const char *k2, const char *v2)
{
	char attempts[16];

	snprintf(attempts, sizeof(attempts), "%d", d->attempts);
	vlog(lvl, "alert", msg, "cluster", d->cluster, "event", d->event, "sink", s->index,
	     "type", s->fmt->name, "attempts", attempts, k1, v1, k2, v2, NULL);
}

static struct delivery *sink_pop(struct sink *s)
{
	struct delivery *d = s->head;

	s->head = d->next;
	if (!s->head)
		s->tail = NULL;
	s->queued--;
	return d;
}

static void sink_arm(struct sink *s, uint64_t delay_ms)
{
	struct timeval tv = clock_tv_ms(delay_ms);

	s->state = SINK_WAITING;
	if (evtimer_add(s->timer, &tv) < 0) {
		/* Nothing else would ever restart this sink: say so loudly. */
		vlog(VLOG_ERR, "alert", "cannot arm delivery timer; sink stalled",
		     "sink", s->index, NULL);
		s->state = SINK_IDLE;
	}
}

static uint64_t retry_delay(const struct sink *s, int attempts)
{
	uint64_t delay = s->backoff_ms;

	for (int i = 1; i < attempts && delay < ALERT_BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay > ALERT_BACKOFF_MAX_MS ? ALERT_BACKOFF_MAX_MS : delay;
}

/* The head's attempt ended: done, retry later, or give up.  OUTPUT may be NULL. */
static void attempt_over(struct sink *s, enum alert_verdict v, const char *key,
			 const char *value, const char *output)
{
	struct delivery *d = s->head;
	const char *k2 = output && output[0] ? "output" : NULL;
	char delay_s[24];

	d->attempts++;
	if (v == ALERT_OK) {
		log_delivery(VLOG_INFO, s, d, "alert delivered", key, value, NULL, NULL);
	} else if (v == ALERT_REJECTED) {
		log_delivery(VLOG_ERR, s, d, "alert rejected by the receiver; not retried",
			     key, value, NULL, NULL);
	} else if (d->attempts <= s->retries) {
		uint64_t delay = retry_delay(s, d->attempts);

		snprintf(delay_s, sizeof(delay_s), "%" PRIu64 "ms", delay);
		log_delivery(VLOG_WARNING, s, d, "alert delivery failed; will retry", key, value,
			     k2, output);
		vlog(VLOG_DEBUG, "alert", "retry scheduled", "sink", s->index, "delay", delay_s, NULL);
		sink_arm(s, delay);
		return;
	} else {
		log_delivery(VLOG_ERR, s, d, "alert delivery failed; giving up", key, value,
			     k2, output);
	}
	delivery_free(sink_pop(s));
	if (s->head)
		sink_arm(s, 0);
	else
		s->state = SINK_IDLE;
}

static void transfer_done(void *arg, CURL *easy, CURLcode result)
{
	struct sink *s = arg;
	long status = 0;
	char status_s[24];

	if (result == CURLE_OK &&
	    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	curl_easy_cleanup(easy);
	s->easy = NULL;
	if (result != CURLE_OK) {
		/* curl_easy_strerror never names the URL, unlike the error buffer. */
		attempt_over(s, ALERT_RETRY, "error", curl_easy_strerror(result), NULL);
		return;
	}
	snprintf(status_s, sizeof(status_s), "%ld", status);
	attempt_over(s, s->fmt->judge(status), "status", status_s, NULL);
}

static void http_start(struct sink *s)
{
	s->easy = alert_http_easy(s->url, s->head->req.body, s->headers, s->timeout_ms);
	if (!s->easy) {
		attempt_over(s, ALERT_RETRY, "error", "cannot set up transfer", NULL);
		return;
	}
	if (curl_loop_add(s->owner->curl, s->easy, transfer_done, s) < 0) {
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
		attempt_over(s, ALERT_RETRY, "error", "cannot start transfer", NULL);
		return;
	}
	s->state = SINK_SENDING;
}

static void exec_done(void *arg, const struct child_result *res)
{
	struct sink *s = arg;
	bool ok = res->exited && res->exit_code == 0;
	char desc[128], out[ALERT_EXCERPT];

	s->child = NULL;
	child_result_describe(res, desc, sizeof(desc));
	child_output_excerpt(res->output, out, sizeof(out));
	attempt_over(s, ok ? ALERT_OK : ALERT_RETRY, "result", desc, ok ? NULL : out);
}

static void exec_start(struct sink *s)
{
	char e[256];

	s->child = child_spawn(s->owner->children, s->argv, s->head->req.env, s->timeout_ms,
			       exec_done, s, e, sizeof(e));
	if (!s->child) {
		attempt_over(s, ALERT_RETRY, "error", e, NULL);
		return;
	}
	s->state = SINK_SENDING;
}

static void sink_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;

	(void)fd;
	(void)what;
	if (!s->head) {
		s->state = SINK_IDLE;
		return;
	}
	if (s->fmt->exec)
		exec_start(s);
	else
		http_start(s);
}

/* Drop the oldest delivery that is not the one being sent right now. */
static void sink_drop_oldest(struct sink *s)
{
	struct delivery *prev = s->state == SINK_SENDING ? s->head : NULL;
	struct delivery *d = prev ? prev->next : s->head;
	char limit[16];

	if (!d)
		return;
	if (prev)
		prev->next = d->next;
	else
		s->head = d->next;
	if (s->tail == d)
		s->tail = prev;
	s->queued--;
	snprintf(limit, sizeof(limit), "%d", ALERT_QUEUE_MAX);
	log_delivery(VLOG_WARNING, s, d, "alert queue full; oldest alert dropped", "limit", limit,
		     NULL, NULL);
	delivery_free(d);
}

/* Queue REQ (taken over, freed on failure) for ev. */
static void sink_enqueue(struct sink *s, const struct alert_event *ev, struct alert_req *req)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d) {
		d->req = *req;
		d->cluster = strdup(ev->cluster ? ev->cluster : "");
		d->event = strdup(ev->event ? ev->event : "");
	} else {
		req_free(req);
	}
	if (!d || !d->cluster || !d->event) {
		vlog(VLOG_ERR, "alert", "alert dropped: out of memory", "cluster", ev->cluster,
		     "event", ev->event, "sink", s->index, NULL);
		delivery_free(d);
		return;
	}
	if (s->tail)
		s->tail->next = d;
	else
		s->head = d;
	s->tail = d;
	s->queued++;
	if (s->queued > ALERT_QUEUE_MAX)
		sink_drop_oldest(s);
	if (s->state == SINK_IDLE)
		sink_arm(s, 0);
}

/*
 * Whether s sends ev, and the epoch of the incident ev belongs to.  The
 * first event a sink is sent opens an incident and names it; "resolved"
 * closes it, and goes wherever something was sent, so that nobody who was
 * told of trouble misses its end.
 */
static bool sink_wants(struct sink *s, const struct alert_event *ev, uint64_t *incident)
{
	bool high = alert_severity(ev->severity) >= s->min;

	if (alert_is_resolved(ev)) {
		bool send = high || s->open || s->fmt->resolve_always;

		*incident = s->open ? s->incident : ev->epoch;
		s->open = false;
		return send;
	}
	if (!high)
		return false;
	if (!s->open) {
		s->open = true;
		s->incident = ev->epoch;
	}
	*incident = s->incident;
	return true;
}

void alerter_send(struct alerter *a, const struct alert_event *ev)
{
	for (size_t i = 0; i < a->n_sinks; i++) {
		struct sink *s = &a->sinks[i];
		struct alert_ctx c = { .routing_key = s->routing_key };
		struct alert_req req = { 0 };

		if (!sink_wants(s, ev, &c.incident)) {
			vlog(VLOG_DEBUG, "alert", "below the sink's min_severity; not sent",
			     "cluster", ev->cluster, "event", ev->event, "sink", s->index, NULL);
			continue;
		}
		if (s->fmt->build(&c, ev, &req) < 0) {
			req_free(&req);
			vlog(VLOG_ERR, "alert", "alert dropped: cannot build request", "cluster",
			     ev->cluster, "event", ev->event, "sink", s->index, NULL);
			continue;
		}
		sink_enqueue(s, ev, &req);
	}
}

size_t alerter_pending(const struct alerter *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_sinks; i++)
		n += a->sinks[i].queued;
	return n;
}

/* What the sink needs from conf; a message naming only the sink's index and type. */
static const char *sink_missing(const struct alerter *a, const struct conf_alert *conf,
				const struct alert_format *fmt)
{
	if (fmt->exec && (!conf->argv || !conf->argv[0]))
		return "no command";
	if (fmt->exec && !a->children)
		return "no child runner to run its command";
	if (!fmt->exec && !conf->url)
		return "no url";
	if (fmt == &alert_fmt_pagerduty && !conf->routing_key)
		return "no routing key";
	return NULL;
}

static int sink_init(struct alerter *a, struct sink *s, size_t index,
		     const struct conf_alert *conf, char *err, size_t errlen)
{
	const char *missing;
	bool oom = false;

	s->owner = a;
	snprintf(s->index, sizeof(s->index), "%zu", index);
	if ((size_t)conf->type >= sizeof(formats) / sizeof(formats[0]) || !formats[conf->type]) {
		snprintf(err, errlen, "alert sink %zu: unknown type %d", index, (int)conf->type);
		return -1;
	}
	s->fmt = formats[conf->type];
	if ((missing = sink_missing(a, conf, s->fmt)) != NULL) {
		snprintf(err, errlen, "alert sink %zu (%s): %s", index, s->fmt->name, missing);
		return -1;
	}
	s->min = conf->min_severity;
	s->retries = conf->retries < 0 ? 0 : conf->retries;
	s->timeout_ms = conf->timeout_ms;
	s->backoff_ms = conf->backoff_ms;
	if (s->fmt->exec) {
		oom |= argv_dup(conf->argv, &s->argv) < 0 || !s->argv;
	} else {
		oom |= (s->url = strdup(conf->url)) == NULL;
		s->headers = curl_slist_append(NULL, "Content-Type: application/json");
		oom |= s->headers == NULL;
	}
	if (conf->routing_key)
		oom |= (s->routing_key = strdup(conf->routing_key)) == NULL;
	s->timer = evtimer_new(a->base, sink_timer, s);
	if (oom || !s->timer) {
		snprintf(err, errlen, "alert sink %zu: out of memory", index);
		return -1;
	}
	return 0;
}

struct alerter *alerter_new(struct event_base *base, struct curl_loop *curl,
			    struct child_runner *children,
			    const struct conf_alert *alerts, size_t n_alerts,
			    char *err, size_t errlen)
{
	struct alerter *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "alerter: out of memory");
		return NULL;
	}
	a->base = base;
	a->curl = curl;
	a->children = children;
	if (n_alerts > 0) {
		a->sinks = calloc(n_alerts, sizeof(*a->sinks));
		if (!a->sinks) {
			snprintf(err, errlen, "alerter: out of memory");
			free(a);
			return NULL;
		}
	}
	for (size_t i = 0; i < n_alerts; i++) {
		a->n_sinks = i + 1;
		if (sink_init(a, &a->sinks[i], i, &alerts[i], err, errlen) < 0) {
			alerter_free(a);
			return NULL;
		}
	}
	return a;
}

static bool str_same(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* Same type, same destination: the same sink across a reload. */
static bool sink_same(const struct sink *x, const struct sink *y)
{
	size_t i = 0;

	if (x->fmt != y->fmt || !str_same(x->url, y->url) ||
	    !str_same(x->routing_key, y->routing_key))
		return false;
	if (!x->argv || !y->argv)
		return x->argv == y->argv;
	for (; x->argv[i] && y->argv[i]; i++)
		if (strcmp(x->argv[i], y->argv[i]) != 0)
			return false;
	return x->argv[i] == y->argv[i];
}

void alerter_inherit(struct alerter *a, const struct alerter *old)
{
	for (size_t i = 0; a && old && i < a->n_sinks; i++) {
		for (size_t j = 0; j < old->n_sinks; j++) {
			if (sink_same(&a->sinks[i], &old->sinks[j])) {
				a->sinks[i].open = old->sinks[j].open;
				a->sinks[i].incident = old->sinks[j].incident;
				break;
			}
		}
	}
}

static void sink_fini(struct sink *s)
{
	bool in_flight = s->easy || s->child; /* the head's attempt */

	if (s->easy) {
		curl_loop_remove(s->owner->curl, s->easy);
		curl_easy_cleanup(s->easy);
	}
	if (s->child)
		child_cancel(s->child);
	while (s->head) {
		struct delivery *d = sink_pop(s);

		log_delivery(VLOG_WARNING, s, d, "alert dropped at shutdown", "state",
			     in_flight ? "in flight" : d->attempts ? "retrying" : "queued",
			     NULL, NULL);
		in_flight = false;
		delivery_free(d);
	}
	if (s->timer)
		event_free(s->timer);
	curl_slist_free_all(s->headers);
	free(s->url);
	free(s->routing_key);
	argv_free(s->argv);
}

void alerter_free(struct alerter *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_sinks; i++)
		sink_fini(&a->sinks[i]);
	free(a->sinks);
	free(a);
}
