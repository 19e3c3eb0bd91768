/*
 * actions/alert.c — webhook alerts.
 *
 * Each sink has its own FIFO of deliveries and sends one at a time, so a
 * slow or dead sink only ever delays itself and alerts reach a sink in the
 * order they happened.  A delivery is retried with exponential backoff up
 * to the sink's `retries`, then given up.  The queue is bounded: when a sink
 * falls behind, the oldest waiting alert is dropped (and logged), because
 * the newest state is the one an operator needs.
 *
 * Nothing here ever runs the loop: alerter_send only queues and arms a
 * zero-delay timer; every transfer goes through the shared curl loop.
 */
#include "actions/alert.h"

#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/curl_loop.h"
#include "common/log.h"

#define ALERT_QUEUE_MAX 256
/* Doubling stops here so a long retry chain cannot overflow or sleep for days. */
#define ALERT_BACKOFF_MAX_MS (10u * 60u * 1000u)

struct delivery {
	struct delivery *next;
	char *body;
	char *cluster; /* for logs */
	char *event;
	int attempts;  /* made so far */
};

enum sink_state {
	SINK_IDLE,    /* nothing queued */
	SINK_WAITING, /* timer armed: next attempt (now, or after backoff) */
	SINK_SENDING, /* transfer in flight */
};

struct sink {
	struct alerter *owner;
	char index[24]; /* sinks are named by index in logs: the URL may be secret */
	char *url;
	int retries;
	uint64_t timeout_ms;
	uint64_t backoff_ms;
	struct delivery *head, *tail;
	size_t queued; /* including the one in flight */
	enum sink_state state;
	struct event *timer;
	CURL *easy;
	struct curl_slist *headers;
};

struct alerter {
	struct event_base *base;
	struct curl_loop *curl;
	struct sink *sinks;
	size_t n_sinks;
};

/*
 * A JSON string for s, or null.  Reasons can quote probe output, which is
 * not always UTF-8; jansson refuses such text, and losing the whole alert
 * over one byte would be worse than showing it as '?'.
 */
static json_t *str_or_null(const char *s)
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
	bad |= json_object_set_new(o, "cluster", str_or_null(ev->cluster));
	bad |= json_object_set_new(o, "event", str_or_null(ev->event));
	bad |= json_object_set_new(o, "severity", str_or_null(ev->severity));
	bad |= json_object_set_new(o, "old_primary", str_or_null(ev->old_primary));
	bad |= json_object_set_new(o, "new_primary", str_or_null(ev->new_primary));
	bad |= json_object_set_new(o, "node", str_or_null(ev->node));
	bad |= json_object_set_new(o, "reason", str_or_null(ev->reason));
	bad |= json_object_set_new(o, "epoch", json_integer((json_int_t)ev->epoch));
	bad |= json_object_set_new(o, "timestamp", json_string(ts));
	s = bad ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	free(d->body);
	free(d->cluster);
	free(d->event);
	free(d);
}

static void log_delivery(enum vlog_level lvl, const struct sink *s, const struct delivery *d,
			 const char *msg, const char *k1, const char *v1)
{
	char attempts[16];

	snprintf(attempts, sizeof(attempts), "%d", d->attempts);
	vlog(lvl, "alert", msg, "cluster", d->cluster, "event", d->event, "sink", s->index,
	     "attempts", attempts, k1, v1, NULL);
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

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

/* A configured easy handle for the head delivery, or NULL. */
static CURL *sink_easy(struct sink *s)
{
	CURL *e = curl_easy_init();
	int bad = 0;

	if (!e)
		return NULL;
	bad |= curl_easy_setopt(e, CURLOPT_URL, s->url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->head->body) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(s->head->body)) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
				(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	if (bad) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* The head's attempt ended: done, retry later, or give up. */
static void attempt_over(struct sink *s, bool ok, const char *key, const char *value)
{
	struct delivery *d = s->head;
	uint64_t delay;
	char delay_s[24];

	d->attempts++;
	if (ok) {
		log_delivery(VLOG_INFO, s, d, "alert delivered", key, value);
	} else if (d->attempts <= s->retries) {
		delay = s->backoff_ms;
		for (int i = 1; i < d->attempts && delay < ALERT_BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > ALERT_BACKOFF_MAX_MS)
			delay = ALERT_BACKOFF_MAX_MS;
		snprintf(delay_s, sizeof(delay_s), "%" PRIu64 "ms", delay);
		log_delivery(VLOG_WARNING, s, d, "alert delivery failed; will retry", key, value);
		vlog(VLOG_DEBUG, "alert", "retry scheduled", "sink", s->index, "delay", delay_s, NULL);
		sink_arm(s, delay);
		return;
	} else {
		log_delivery(VLOG_ERR, s, d, "alert delivery failed; giving up", key, value);
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
		attempt_over(s, false, "error", curl_easy_strerror(result));
		return;
	}
	snprintf(status_s, sizeof(status_s), "%ld", status);
	attempt_over(s, status >= 200 && status <= 299, "status", status_s);
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
	s->easy = sink_easy(s);
	if (!s->easy) {
		attempt_over(s, false, "error", "cannot set up transfer");
		return;
	}
	if (curl_loop_add(s->owner->curl, s->easy, transfer_done, s) < 0) {
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
		attempt_over(s, false, "error", "cannot start transfer");
		return;
	}
	s->state = SINK_SENDING;
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
	log_delivery(VLOG_WARNING, s, d, "alert queue full; oldest alert dropped", "limit", limit);
	delivery_free(d);
}

static void sink_enqueue(struct sink *s, const struct alert_event *ev, const char *body)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d) {
		d->body = strdup(body);
		d->cluster = strdup(ev->cluster ? ev->cluster : "");
		d->event = strdup(ev->event ? ev->event : "");
	}
	if (!d || !d->body || !d->cluster || !d->event) {
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

void alerter_send(struct alerter *a, const struct alert_event *ev)
{
	char *body = alert_payload(ev);

	if (!body) {
		vlog(VLOG_ERR, "alert", "alert dropped: cannot build payload",
		     "cluster", ev->cluster, "event", ev->event, NULL);
		return;
	}
	for (size_t i = 0; i < a->n_sinks; i++)
		sink_enqueue(&a->sinks[i], ev, body);
	free(body);
}

size_t alerter_pending(const struct alerter *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_sinks; i++)
		n += a->sinks[i].queued;
	return n;
}

static int sink_init(struct alerter *a, struct sink *s, size_t index,
		     const struct conf_alert *conf, char *err, size_t errlen)
{
	s->owner = a;
	snprintf(s->index, sizeof(s->index), "%zu", index);
	if (conf->type != CONF_ALERT_WEBHOOK || !conf->url) {
		snprintf(err, errlen, "alert sink %zu: not a webhook with a url", index);
		return -1;
	}
	s->retries = conf->retries < 0 ? 0 : conf->retries;
	s->timeout_ms = conf->timeout_ms;
	s->backoff_ms = conf->backoff_ms;
	s->url = strdup(conf->url);
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	s->timer = evtimer_new(a->base, sink_timer, s);
	if (!s->url || !s->headers || !s->timer) {
		snprintf(err, errlen, "alert sink %zu: out of memory", index);
		return -1;
	}
	return 0;
}

struct alerter *alerter_new(struct event_base *base, struct curl_loop *curl,
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

static void sink_fini(struct sink *s)
{
	if (s->easy) {
		curl_loop_remove(s->owner->curl, s->easy);
		curl_easy_cleanup(s->easy);
	}
	while (s->head) {
		struct delivery *d = sink_pop(s);

		log_delivery(VLOG_WARNING, s, d, "alert dropped at shutdown", "state",
			     d->attempts ? "retrying" : "queued");
		delivery_free(d);
	}
	if (s->timer)
		event_free(s->timer);
	curl_slist_free_all(s->headers);
	free(s->url);
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
