/*
 * tests/unit/test_alert.c — webhook alerts against a real HTTP receiver
 * (evhttp on the same loop, 127.0.0.1, a free port): what arrives, retry
 * with backoff, giving up, the queue bound, and that a dead sink delays
 * neither the caller nor the other sinks.
 */
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions/alert.h"
#include "common/clock.h"
#include "common/curl_loop.h"

#define MAX_REQS 16

struct receiver {
	struct evhttp *http;
	int port;
	int count;
	int script[MAX_REQS]; /* status per request; 0 = 200; -1 = never answer */
	char *bodies[MAX_REQS];
	char uri[256];
	char method[16];
	char content_type[64];
};

static struct event_base *base;
static struct curl_loop *curl;
static struct event *tick;
static struct receiver rx;

static const struct alert_event failover = {
	.cluster = "web", .event = "failover", .severity = "critical", .node = "a",
	.old_primary = "a", .new_primary = "b", .reason = "odown 3/3", .epoch = 3,
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	int i = r->count++, status = i < MAX_REQS ? r->script[i] : 200;

	if (i < MAX_REQS) {
		r->bodies[i] = calloc(1, len + 1);
		ck_assert_ptr_nonnull(r->bodies[i]);
		evbuffer_copyout(in, r->bodies[i], len);
	}
	snprintf(r->uri, sizeof(r->uri), "%s", evhttp_request_get_uri(req));
	snprintf(r->method, sizeof(r->method), "%s",
		 evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "other");
	snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
	if (status < 0)
		return;
	evhttp_send_reply(req, status ? status : 200, "whatever", NULL);
}

static void receiver_start(struct receiver *r)
{
	struct evhttp_bound_socket *h;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	r->http = evhttp_new(base);
	ck_assert_ptr_nonnull(r->http);
	h = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	evhttp_set_gencb(r->http, on_request, r);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void setup(void)
{
	char err[256];
	struct timeval tv = clock_tv_ms(10);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	curl = curl_loop_new(base, err, sizeof(err));
	ck_assert_msg(curl != NULL, "%s", err);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	memset(&rx, 0, sizeof(rx));
	receiver_start(&rx);
}

static void teardown(void)
{
	for (int i = 0; i < MAX_REQS; i++)
		free(rx.bodies[i]);
	curl_loop_free(curl);
	evhttp_free(rx.http);
	event_free(tick);
	event_base_free(base);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static struct conf_alert sink(char *url, size_t len, int port, int retries, uint64_t backoff)
{
	struct conf_alert a = {
		.type = CONF_ALERT_WEBHOOK, .url = url, .retries = retries,
		.timeout_ms = 2000, .backoff_ms = backoff,
	};

	snprintf(url, len, "http://127.0.0.1:%d/hook?token=s3cret", port);
	return a;
}

static struct alerter *new_alerter(const struct conf_alert *alerts, size_t n)
{
	char err[256];
	struct alerter *a = alerter_new(base, curl, alerts, n, err, sizeof(err));

	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

/* Run the loop until nothing is pending (or ms pass); the elapsed ms. */
static uint64_t drain(struct alerter *a, uint64_t ms)
{
	uint64_t start = clock_mono_ms(), end = start + ms;

	while (alerter_pending(a) > 0 && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_uint_eq(alerter_pending(a), 0);
	return clock_mono_ms() - start;
}

static void run_for(uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

static void assert_event_json(const char *text, const char *event)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	const char *ts;

	ck_assert_msg(o != NULL, "bad JSON: %s", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(o, "cluster")), "web");
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")), event);
	ck_assert_str_eq(json_string_value(json_object_get(o, "severity")), "critical");
	ck_assert_str_eq(json_string_value(json_object_get(o, "old_primary")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(o, "new_primary")), "b");
	ck_assert_str_eq(json_string_value(json_object_get(o, "node")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "odown 3/3");
	ck_assert(json_is_integer(json_object_get(o, "epoch")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "epoch")), 3);
	ts = json_string_value(json_object_get(o, "timestamp"));
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(strlen(ts), 24);
	ck_assert(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	ck_assert_uint_eq(json_object_size(o), 9);
	json_decref(o);
}

START_TEST(payload_fields)
{
	struct alert_event ev = { .cluster = "web", .event = "node_down", .severity = "warning",
				  .node = "a\"\n", .epoch = 18446744073709551u };
	char *s = alert_payload(&failover);
	json_t *o;

	ck_assert_ptr_nonnull(s);
	assert_event_json(s, "failover");
	free(s);

	s = alert_payload(&ev);
	o = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "node")), "a\"\n");
	ck_assert(json_is_null(json_object_get(o, "old_primary")));
	ck_assert(json_is_null(json_object_get(o, "reason")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "epoch")), 18446744073709551LL);
	json_decref(o);
	free(s);

	/* Not UTF-8 (say, quoted from a probe): the alert still goes out. */
	ev.reason = "bad \xff byte, fine \xc3\xa9";
	s = alert_payload(&ev);
	ck_assert_ptr_nonnull(s);
	o = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "bad ? byte, fine ??");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "epoch")), 18446744073709551LL);
	json_decref(o);
	free(s);
}
END_TEST

START_TEST(delivers_post_json)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), rx.port, 3, 20);
	struct alerter *a = new_alerter(&c, 1);
	uint64_t t0 = clock_mono_us();

	alerter_send(a, &failover);
	/* Queued only: nothing has been sent from inside alerter_send. */
	ck_assert_uint_lt(clock_mono_us() - t0, 50000);
	ck_assert_uint_eq(alerter_pending(a), 1);
	ck_assert_int_eq(rx.count, 0);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 1);
	ck_assert_str_eq(rx.method, "POST");
	ck_assert_str_eq(rx.uri, "/hook?token=s3cret");
	ck_assert_str_eq(rx.content_type, "application/json");
	assert_event_json(rx.bodies[0], "failover");
	alerter_free(a);
}
END_TEST

START_TEST(retries_until_2xx)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), rx.port, 5, 100);
	struct alerter *a = new_alerter(&c, 1);
	uint64_t took;

	rx.script[0] = 500;
	rx.script[1] = 503;
	rx.script[2] = 204;
	alerter_send(a, &failover);
	took = drain(a, 5000);
	ck_assert_int_eq(rx.count, 3);
	/* Backoff doubles: 100 ms, then 200 ms (libevent may fire a few ms early). */
	ck_assert_uint_ge(took, 280);
	assert_event_json(rx.bodies[2], "failover");
	run_for(100);
	ck_assert_int_eq(rx.count, 3);
	alerter_free(a);
}
END_TEST

START_TEST(gives_up_after_retries)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), rx.port, 2, 10);
	struct alerter *a = new_alerter(&c, 1);

	for (int i = 0; i < MAX_REQS; i++)
		rx.script[i] = 500;
	alerter_send(a, &failover);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 3);
	run_for(100);
	ck_assert_int_eq(rx.count, 3);
	alerter_free(a);
}
END_TEST

/* Count lines of captured stderr that contain NEEDLE. */
static int count_lines(FILE *f, const char *needle)
{
	char line[1024];
	int n = 0;

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	return n;
}

START_TEST(unreachable_gives_up_and_never_logs_url)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), free_port(), 2, 10);
	struct alerter *a = new_alerter(&c, 1);
	FILE *cap = tmpfile();
	int saved = dup(2);

	ck_assert_ptr_nonnull(cap);
	fflush(stderr);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(cap), 2), 0);
	alerter_send(a, &failover);
	drain(a, 5000);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(count_lines(cap, "will retry"), 2);
	ck_assert_int_eq(count_lines(cap, "giving up"), 1);
	ck_assert_int_eq(count_lines(cap, "attempts=3"), 1);
	ck_assert_int_eq(count_lines(cap, "sink=0"), 3);
	ck_assert_int_eq(count_lines(cap, "s3cret"), 0);
	ck_assert_int_eq(count_lines(cap, "/hook"), 0);
	fclose(cap);
	alerter_free(a);
}
END_TEST

START_TEST(dead_sink_delays_nothing_else)
{
	char dead_url[128], live_url[128];
	struct conf_alert c[2];
	struct alerter *a;
	uint64_t start;

	c[0] = sink(dead_url, sizeof(dead_url), free_port(), 5, 10000);
	c[1] = sink(live_url, sizeof(live_url), rx.port, 5, 10000);
	a = new_alerter(c, 2);
	alerter_send(a, &failover);
	alerter_send(a, &failover);
	ck_assert_uint_eq(alerter_pending(a), 4);
	start = clock_mono_ms();
	while (alerter_pending(a) > 2 && clock_mono_ms() - start < 5000)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(rx.count, 2);
	/* The dead sink still holds both, waiting out its 10 s backoff. */
	ck_assert_uint_eq(alerter_pending(a), 2);
	ck_assert_uint_lt(clock_mono_ms() - start, 5000);
	alerter_free(a);
}
END_TEST

START_TEST(queue_is_bounded)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), free_port(), 5, 60000);
	struct alerter *a = new_alerter(&c, 1);

	for (int i = 0; i < 300; i++)
		alerter_send(a, &failover);
	ck_assert_uint_eq(alerter_pending(a), 256);
	run_for(100);
	for (int i = 0; i < 10; i++)
		alerter_send(a, &failover);
	ck_assert_uint_eq(alerter_pending(a), 256);
	alerter_free(a);
}
END_TEST

START_TEST(timeout_and_free_in_flight)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), rx.port, 1, 10);
	struct alerter *a;
	uint64_t took;

	/* The receiver never answers: each attempt ends at the 150 ms timeout. */
	for (int i = 0; i < MAX_REQS; i++)
		rx.script[i] = -1;
	c.timeout_ms = 150;
	a = new_alerter(&c, 1);
	alerter_send(a, &failover);
	took = drain(a, 5000);
	ck_assert_int_eq(rx.count, 2);
	ck_assert_uint_ge(took, 300);

	/* Shutdown with a transfer in flight and more queued. */
	c.timeout_ms = 5000;
	alerter_free(a);
	a = new_alerter(&c, 1);
	alerter_send(a, &failover);
	alerter_send(a, &failover);
	{
		uint64_t end = clock_mono_ms() + 3000;

		while (rx.count < 3 && clock_mono_ms() < end)
			event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert_int_eq(rx.count, 3);
	ck_assert_uint_eq(alerter_pending(a), 2);
	alerter_free(a);
	alerter_free(NULL);
}
END_TEST

START_TEST(rejects_bad_sink)
{
	char err[256] = "";
	struct conf_alert c = { .type = CONF_ALERT_WEBHOOK, .url = NULL };
	struct alerter *a;

	ck_assert_ptr_null(alerter_new(base, curl, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0"));
	a = new_alerter(NULL, 0);
	alerter_send(a, &failover);
	ck_assert_uint_eq(alerter_pending(a), 0);
	alerter_free(a);
}
END_TEST

static Suite *alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, payload_fields);
	tcase_add_test(tc, delivers_post_json);
	tcase_add_test(tc, retries_until_2xx);
	tcase_add_test(tc, gives_up_after_retries);
	tcase_add_test(tc, unreachable_gives_up_and_never_logs_url);
	tcase_add_test(tc, dead_sink_delays_nothing_else);
	tcase_add_test(tc, queue_is_bounded);
	tcase_add_test(tc, timeout_and_free_in_flight);
	tcase_add_test(tc, rejects_bad_sink);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	sr = srunner_create(alert_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
