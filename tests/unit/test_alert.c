/*
 * tests/unit/test_alert.c — webhook alerts against a real HTTP receiver
 * (evhttp on the same loop, 127.0.0.1, a free port): what arrives, retry
 * with backoff, giving up, the queue bound, and that a dead sink delays
 * neither the caller nor the other sinks.  The other sink types:
 * test_alert_sinks.c.
 */
#include <check.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/alert.h"
#include "common/clock.h"
#include "common/curl_loop.h"
#include "tests/unit/alert_fixture.h"

#define MAX_REQS RX_MAX_REQS

static const struct alert_event failover = {
	.cluster = "web", .event = "failover", .severity = "critical", .node = "a",
	.old_primary = "a", .new_primary = "b", .reason = "odown 3/3", .epoch = 3,
};

static struct conf_alert sink(char *url, size_t len, int port, int retries, uint64_t backoff)
{
	struct conf_alert a = {
		.type = CONF_ALERT_WEBHOOK, .url = url, .retries = retries,
		.timeout_ms = 2000, .backoff_ms = backoff,
	};

	snprintf(url, len, "http://127.0.0.1:%d/hook?token=s3cret", port);
	return a;
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

START_TEST(unreachable_gives_up_and_never_logs_url)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), free_port(), 2, 10);
	struct alerter *a = new_alerter(&c, 1);
	FILE *cap = capture_start();

	alerter_send(a, &failover);
	drain(a, 5000);
	capture_end();
	ck_assert_int_eq(count_lines(cap, "will retry"), 2);
	ck_assert_int_eq(count_lines(cap, "giving up"), 1);
	ck_assert_int_eq(count_lines(cap, "attempts=3"), 1);
	ck_assert_int_eq(count_lines(cap, "sink=0"), 3);
	ck_assert_int_eq(count_lines(cap, "type=webhook"), 3);
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
		event_base_loop(af_base, EVLOOP_ONCE);
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
			event_base_loop(af_base, EVLOOP_ONCE);
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
	char prog[] = "/bin/true", *argv[] = { prog, NULL }, pd_url[] = "http://127.0.0.1:1/";
	struct conf_alert c = { .type = CONF_ALERT_WEBHOOK, .url = NULL };
	struct alerter *a;

	ck_assert_ptr_null(alerter_new(af_base, curl, runner, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0 (webhook): no url"));
	c = (struct conf_alert){ .type = CONF_ALERT_PAGERDUTY, .url = pd_url };
	ck_assert_ptr_null(alerter_new(af_base, curl, runner, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0 (pagerduty): no routing key"));
	c = (struct conf_alert){ .type = CONF_ALERT_EXEC };
	ck_assert_ptr_null(alerter_new(af_base, curl, runner, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0 (exec): no command"));
	/* An exec sink needs the child runner. */
	c.argv = argv;
	ck_assert_ptr_null(alerter_new(af_base, curl, NULL, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0 (exec): no child runner"));
	c.type = (enum conf_alert_type)42;
	ck_assert_ptr_null(alerter_new(af_base, curl, runner, &c, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "sink 0: unknown type 42"));
	a = new_alerter(NULL, 0);
	alerter_send(a, &failover);
	ck_assert_uint_eq(alerter_pending(a), 0);
	alerter_free(a);
}
END_TEST

static void send_event(struct alerter *a, const char *event, const char *severity)
{
	struct alert_event ev = failover;

	ev.event = event;
	ev.severity = severity;
	alerter_send(a, &ev);
}

/* Only events at or above the sink's minimum go out (and then "resolved"). */
START_TEST(min_severity_filters)
{
	char url[128];
	struct conf_alert c = sink(url, sizeof(url), rx.port, 0, 10);
	struct alerter *a;
	json_t *o;

	c.min_severity = CONF_SEV_WARNING;
	a = new_alerter(&c, 1);
	send_event(a, "node_up", "info");
	ck_assert_uint_eq(alerter_pending(a), 0);
	/* "resolved" with nothing sent before: there is nothing to close. */
	send_event(a, "resolved", "info");
	ck_assert_uint_eq(alerter_pending(a), 0);
	send_event(a, "node_down", "warning");
	send_event(a, "failover", "critical");
	send_event(a, "tilt_over", "info");
	/* An unknown severity is taken as critical rather than lost. */
	send_event(a, "odd", "bogus");
	send_event(a, "resolved", "info");
	ck_assert_uint_eq(alerter_pending(a), 4);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 4);
	o = json_loads(rx.bodies[0], 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "node_down");
	json_decref(o);
	o = json_loads(rx.bodies[2], 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "severity")), "bogus");
	json_decref(o);
	/* The webhook's "resolved" is the plain JSON, like any event. */
	o = json_loads(rx.bodies[3], 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "resolved");
	ck_assert_str_eq(json_string_value(json_object_get(o, "severity")), "info");
	ck_assert_uint_eq(json_object_size(o), 9);
	json_decref(o);
	/* Closed: the next "resolved" is below the minimum again. */
	send_event(a, "resolved", "info");
	ck_assert_uint_eq(alerter_pending(a), 0);
	alerter_free(a);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, af_setup, af_teardown);
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
	tcase_add_test(tc, min_severity_filters);
	suite_add_tcase(s, tc);
	return s;
}

