/*
 * tests/unit/test_alert_sinks.c — the PagerDuty, Slack and exec sinks
 * against real receivers: each payload's shape (all Events API v2 fields,
 * one dedup_key for an incident's triggers and its resolve; Slack's text),
 * retry after a 500, a 400 not retried, exec's VIGIL_* environment and
 * retries, no secret in any log line, and that a hanging sink delays
 * neither another sink nor anything else on the loop.
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
#include "common/child.h"
#include "common/curl_loop.h"
#include "common/fsutil.h"
#include "tests/unit/alert_fixture.h"
#include "tests/unit/unit_util.h"

#define KEY "R0UTINGKEYs3cret"

static const struct alert_event failover = {
	.cluster = "web", .event = "failover", .severity = "critical", .node = "a",
	.old_primary = "a", .new_primary = "b", .reason = "odown 3/3", .epoch = 3,
};

static char url[128], pd_key[] = KEY, another_key[] = "another-key";

static struct conf_alert pd_sink(int port)
{
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/enqueue?tok=urls3cret", port);
	return (struct conf_alert){
		.type = CONF_ALERT_PAGERDUTY, .url = url, .routing_key = pd_key,
		.min_severity = CONF_SEV_CRITICAL, .retries = 3, .timeout_ms = 2000,
		.backoff_ms = 20,
	};
}

static struct conf_alert slack_sink(char *buf, size_t len, int port)
{
	snprintf(buf, len, "http://127.0.0.1:%d/services/T0/B0/slacks3cret", port);
	return (struct conf_alert){
		.type = CONF_ALERT_SLACK, .url = buf, .retries = 3, .timeout_ms = 2000,
		.backoff_ms = 20,
	};
}

static void send_ev(struct alerter *a, const char *event, const char *severity,
		    uint64_t epoch)
{
	struct alert_event ev = failover;

	ev.event = event;
	ev.severity = severity;
	ev.epoch = epoch;
	alerter_send(a, &ev);
}

static json_t *body(int i)
{
	json_error_t jerr;
	json_t *o;

	ck_assert_int_lt(i, rx.count);
	o = json_loads(rx.bodies[i], 0, &jerr);
	ck_assert_msg(o != NULL, "bad JSON (%s): %s", jerr.text, rx.bodies[i]);
	return o;
}

static const char *str_at(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	ck_assert_msg(s != NULL, "no string '%s'", key);
	return s;
}

static void assert_trigger(json_t *o, const char *dedup, const char *summary,
			   const char *severity, uint64_t epoch)
{
	json_t *p = json_object_get(o, "payload"), *d;
	const char *ts;

	ck_assert_str_eq(str_at(o, "routing_key"), KEY);
	ck_assert_str_eq(str_at(o, "event_action"), "trigger");
	ck_assert_str_eq(str_at(o, "dedup_key"), dedup);
	ck_assert_str_eq(str_at(o, "client"), "vigil");
	ck_assert_uint_eq(json_object_size(o), 5);
	ck_assert(json_is_object(p));
	ck_assert_str_eq(str_at(p, "summary"), summary);
	ck_assert_str_eq(str_at(p, "source"), "vigil/web");
	ck_assert_str_eq(str_at(p, "severity"), severity);
	ck_assert_str_eq(str_at(p, "component"), "a");
	ck_assert_str_eq(str_at(p, "group"), "web");
	ts = str_at(p, "timestamp");
	ck_assert_uint_eq(strlen(ts), 24);
	ck_assert(ts[4] == '-' && ts[10] == 'T' && ts[23] == 'Z');
	d = json_object_get(p, "custom_details");
	ck_assert(json_is_object(d));
	ck_assert_str_eq(str_at(d, "old_primary"), "a");
	ck_assert_str_eq(str_at(d, "new_primary"), "b");
	ck_assert_str_eq(str_at(d, "reason"), "odown 3/3");
	ck_assert_int_eq(json_integer_value(json_object_get(d, "epoch")), (json_int_t)epoch);
}

static void assert_resolve(json_t *o, const char *dedup)
{
	ck_assert_str_eq(str_at(o, "routing_key"), KEY);
	ck_assert_str_eq(str_at(o, "event_action"), "resolve");
	ck_assert_str_eq(str_at(o, "dedup_key"), dedup);
	ck_assert_uint_eq(json_object_size(o), 3);
}

START_TEST(pagerduty_incident)
{
	struct conf_alert c = pd_sink(rx.port);
	struct alerter *a = new_alerter(&c, 1);
	json_t *o;

	send_ev(a, "node_down", "warning", 2); /* below critical: not paged */
	send_ev(a, "failover", "critical", 3);
	/* A retry takes a new epoch; it is still the same incident. */
	send_ev(a, "failover_failed", "critical", 4);
	send_ev(a, "resolved", "info", 4);
	ck_assert_uint_eq(alerter_pending(a), 3);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 3);
	ck_assert_str_eq(rx.method, "POST");
	ck_assert_str_eq(rx.uri, "/v2/enqueue?tok=urls3cret");
	ck_assert_str_eq(rx.content_type, "application/json");
	o = body(0);
	assert_trigger(o, "vigil-web-3", "vigil web: failover a \xe2\x86\x92 b (epoch 3): odown 3/3",
		       "critical", 3);
	ck_assert_str_eq(str_at(json_object_get(o, "payload"), "class"), "failover");
	json_decref(o);
	o = body(1);
	assert_trigger(o, "vigil-web-3",
		       "vigil web: failover failed a \xe2\x86\x92 b (epoch 4): odown 3/3",
		       "critical", 4);
	json_decref(o);
	o = body(2);
	assert_resolve(o, "vigil-web-3");
	json_decref(o);
	/* The next incident gets its own key. */
	send_ev(a, "tilt", "critical", 9);
	drain(a, 5000);
	o = body(3);
	ck_assert_str_eq(str_at(o, "dedup_key"), "vigil-web-9");
	json_decref(o);
	alerter_free(a);
}
END_TEST

/* Without history (a restart), trigger and resolve still meet on the event's epoch. */
START_TEST(pagerduty_dedup_across_alerters)
{
	struct conf_alert c = pd_sink(rx.port), other;
	struct alerter *a = new_alerter(&c, 1), *b;
	json_t *o, *p;

	send_ev(a, "resolved", "info", 7); /* always sent to PagerDuty */
	drain(a, 5000);
	alerter_free(a);
	a = new_alerter(&c, 1);
	send_ev(a, "failover", "critical", 7);
	drain(a, 5000);
	o = body(0);
	assert_resolve(o, "vigil-web-7");
	json_decref(o);
	o = body(1);
	ck_assert_str_eq(str_at(o, "dedup_key"), "vigil-web-7");
	json_decref(o);

	/* A reload: the new alerter takes over the open incident (epoch 7). */
	other = c;
	other.routing_key = another_key;
	b = new_alerter((struct conf_alert[]){ other, c }, 2);
	alerter_inherit(b, a);
	alerter_free(a);
	send_ev(b, "resolved", "info", 8);
	drain(b, 5000);
	ck_assert_int_eq(rx.count, 4);
	/* The two sinks deliver concurrently: either may arrive first. */
	o = body(2);
	p = body(3);
	if (strcmp(str_at(o, "routing_key"), "another-key") != 0) {
		json_t *t = o;

		o = p;
		p = t;
	}
	ck_assert_str_eq(str_at(o, "routing_key"), "another-key");
	ck_assert_str_eq(str_at(o, "dedup_key"), "vigil-web-8");
	assert_resolve(p, "vigil-web-7");
	json_decref(o);
	json_decref(p);
	alerter_inherit(b, NULL);
	alerter_free(b);
}
END_TEST

START_TEST(pagerduty_400_not_retried_429_is)
{
	struct conf_alert c = pd_sink(rx.port);
	struct alerter *a = new_alerter(&c, 1);
	FILE *cap = capture_start();

	rx.script[0] = 400;
	rx.script[1] = 429;
	rx.script[2] = 202;
	send_ev(a, "failover", "critical", 3);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 1);
	send_ev(a, "failover", "critical", 4);
	drain(a, 5000);
	capture_end();
	ck_assert_int_eq(rx.count, 3);
	ck_assert_int_eq(count_lines(cap, "rejected by the receiver; not retried"), 1);
	ck_assert_int_eq(count_lines(cap, "status=400"), 1);
	ck_assert_int_eq(count_lines(cap, "will retry"), 1);
	ck_assert_int_eq(count_lines(cap, "alert delivered"), 1);
	ck_assert_int_eq(count_lines(cap, "type=pagerduty"), 3);
	fclose(cap);
	alerter_free(a);
}
END_TEST

/* A 500, then 200: retried and delivered, and no secret in any line. */
START_TEST(retry_after_500_never_logs_secrets)
{
	char surl[128];
	struct conf_alert c[2] = { pd_sink(rx.port), slack_sink(surl, sizeof(surl), rx.port) };
	struct alerter *a = new_alerter(c, 2);
	FILE *cap = capture_start();
	uint64_t took;

	rx.script[0] = 500;
	rx.script[1] = 500;
	alerter_send(a, &failover);
	took = drain(a, 5000);
	capture_end();
	ck_assert_int_eq(rx.count, 4);
	ck_assert_uint_ge(took, 18); /* waited out the backoff */
	ck_assert_int_eq(count_lines(cap, "will retry"), 2);
	ck_assert_int_eq(count_lines(cap, "status=500"), 2);
	ck_assert_int_eq(count_lines(cap, "alert delivered"), 2);
	ck_assert_int_eq(count_lines(cap, "attempts=2 status=200"), 2);
	ck_assert_int_eq(count_lines(cap, "R0UTINGKEY"), 0);
	ck_assert_int_eq(count_lines(cap, "s3cret"), 0);
	ck_assert_int_eq(count_lines(cap, "enqueue"), 0);
	ck_assert_int_eq(count_lines(cap, "services"), 0);
	fclose(cap);
	alerter_free(a);
}
END_TEST

static const char *slack_text(int i, json_t **o)
{
	*o = body(i);
	ck_assert_uint_eq(json_object_size(*o), 1);
	return str_at(*o, "text");
}

START_TEST(slack_readable_text)
{
	char surl[128];
	struct conf_alert c = slack_sink(surl, sizeof(surl), rx.port);
	struct alerter *a = new_alerter(&c, 1);
	struct alert_event down = {
		.cluster = "web", .event = "node_down", .severity = "warning", .node = "a",
		.reason = "<!channel> & co\nsecond line", .epoch = 2,
	};
	struct alert_event ok = { .cluster = "web", .event = "resolved", .severity = "info",
				  .reason = "healthy again", .epoch = 3 };
	json_t *o;

	alerter_send(a, &failover);
	alerter_send(a, &down);
	alerter_send(a, &ok);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 3);
	ck_assert_str_eq(rx.uri, "/services/T0/B0/slacks3cret");
	ck_assert_str_eq(rx.content_type, "application/json");
	ck_assert_str_eq(slack_text(0, &o),
			 ":rotating_light: vigil web: failover a \xe2\x86\x92 b (epoch 3): odown 3/3");
	json_decref(o);
	/* Slack's markup characters are escaped, line breaks flattened. */
	ck_assert_str_eq(slack_text(1, &o), ":warning: vigil web: node down a (epoch 2): "
			 "&lt;!channel&gt; &amp; co second line");
	json_decref(o);
	ck_assert_str_eq(slack_text(2, &o),
			 ":white_check_mark: vigil web: resolved (epoch 3): healthy again");
	json_decref(o);
	alerter_free(a);
}
END_TEST

/* A long reason is cut on a character boundary: the JSON stays valid UTF-8. */
START_TEST(long_reason_cut_cleanly)
{
	char surl[128], reason[3001];
	struct conf_alert c[2] = { pd_sink(rx.port), slack_sink(surl, sizeof(surl), rx.port) };
	struct alerter *a = new_alerter(c, 2);
	struct alert_event ev = failover;
	json_t *o;
	const char *s;

	for (size_t i = 0; i < 3000; i += 2)
		memcpy(reason + i, "\xc3\xa9", 2); /* é */
	reason[3000] = '\0';
	ev.reason = reason;
	alerter_send(a, &ev);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 2);
	for (int i = 0; i < 2; i++) {
		o = body(i);
		/* The two sinks deliver side by side: either may arrive first. */
		s = json_object_get(o, "payload") ? str_at(json_object_get(o, "payload"), "summary")
						  : str_at(o, "text");
		ck_assert_uint_le(strlen(s), 1100);
		ck_assert_uint_ge(strlen(s), 1000);
		ck_assert_ptr_null(strchr(s, '?'));
		ck_assert_str_eq(s + strlen(s) - 2, "\xc3\xa9");
		json_decref(o);
	}
	alerter_free(a);
}
END_TEST

/* A sink with min_severity critical hears "resolved" only after it was paged. */
START_TEST(slack_resolved_follows_what_was_sent)
{
	char surl[128];
	struct conf_alert c = slack_sink(surl, sizeof(surl), rx.port);
	struct alerter *a;
	json_t *o;

	c.min_severity = CONF_SEV_CRITICAL;
	a = new_alerter(&c, 1);
	send_ev(a, "node_down", "warning", 2);
	send_ev(a, "resolved", "info", 2);
	ck_assert_uint_eq(alerter_pending(a), 0);
	send_ev(a, "failover", "critical", 3);
	send_ev(a, "node_up", "info", 3);
	send_ev(a, "resolved", "info", 3);
	drain(a, 5000);
	ck_assert_int_eq(rx.count, 2);
	ck_assert_ptr_nonnull(strstr(slack_text(1, &o), "resolved"));
	json_decref(o);
	alerter_free(a);
}
END_TEST

/* ---- exec ---- */

static char dir[64], script[128];

/*
 * alert.sh DIR: counts its runs, records its VIGIL_* environment, and
 * exits with the code on the line of DIR/plan for this run ("hang" sleeps).
 */
static void exec_setup(const char *plan)
{
	char path[128], text[1024], err[256];

	snprintf(dir, sizeof(dir), "/tmp/vigil-alert-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/alert.sh", dir);
	snprintf(text, sizeof(text), "#!/bin/sh\nd=$1\necho run >> \"$d/runs\"\n"
		 "n=$(wc -l < \"$d/runs\")\nenv | grep '^VIGIL_' | sort > \"$d/env\"\n"
		 "code=$(sed -n \"${n}p\" \"$d/plan\")\n[ -n \"$code\" ] || code=0\n"
		 "[ \"$code\" = hang ] && exec sleep 10\n"
		 "echo \"alert script says no ($code)\"\nexit $code\n");
	ck_assert_msg(fs_write_atomic(script, text, strlen(text), 0755, err, sizeof(err)) == 0,
		      "%s", err);
	snprintf(path, sizeof(path), "%s/plan", dir);
	ck_assert_msg(fs_write_atomic(path, plan, strlen(plan), 0644, err, sizeof(err)) == 0,
		      "%s", err);
}

static struct conf_alert exec_sink(char **argv)
{
	argv[0] = script;
	argv[1] = dir;
	argv[2] = NULL;
	return (struct conf_alert){
		.type = CONF_ALERT_EXEC, .argv = argv, .retries = 3, .timeout_ms = 5000,
		.backoff_ms = 20,
	};
}

static char *read_text(const char *name)
{
	char path[128], err[256], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(fs_read_all(path, 65536, &text, &len, err, sizeof(err)) == 0,
		      "%s: %s", path, err);
	return text;
}

START_TEST(exec_env_and_retry)
{
	char *argv[3], *env, *runs;
	struct conf_alert c;
	struct alerter *a;
	FILE *cap;

	exec_setup("1\n0\n");
	c = exec_sink(argv);
	a = new_alerter(&c, 1);
	cap = capture_start();
	alerter_send(a, &failover);
	drain(a, 10000);
	capture_end();
	runs = read_text("runs");
	ck_assert_str_eq(runs, "run\nrun\n");
	env = read_text("env");
	ck_assert_ptr_nonnull(strstr(env, "VIGIL_CLUSTER=web\nVIGIL_EPOCH=3\nVIGIL_EVENT=failover\n"
				     "VIGIL_NEW_PRIMARY=b\nVIGIL_NODE=a\nVIGIL_OLD_PRIMARY=a\n"
				     "VIGIL_REASON=odown 3/3\nVIGIL_SEVERITY=critical\n"
				     "VIGIL_TIMESTAMP=20"));
	ck_assert_int_eq(count_lines(cap, "will retry"), 1);
	ck_assert_int_eq(count_lines(cap, "result=\"exit 1\" output=\"alert script says no (1)\""), 1);
	ck_assert_int_eq(count_lines(cap, "alert delivered"), 1);
	ck_assert_int_eq(count_lines(cap, "type=exec attempts=2 result=\"exit 0\""), 1);
	fclose(cap);
	free(env);
	free(runs);
	alerter_free(a);
	unit_rm_tree(dir);
}
END_TEST

START_TEST(exec_timeout_gives_up)
{
	char *argv[3], *runs;
	struct conf_alert c;
	struct alerter *a;
	FILE *cap;
	uint64_t took;

	exec_setup("hang\nhang\n");
	c = exec_sink(argv);
	c.retries = 1;
	c.timeout_ms = 150;
	a = new_alerter(&c, 1);
	cap = capture_start();
	alerter_send(a, &failover);
	took = drain(a, 10000);
	capture_end();
	ck_assert_uint_ge(took, 300);
	ck_assert_uint_lt(took, 5000);
	runs = read_text("runs");
	ck_assert_str_eq(runs, "run\nrun\n");
	ck_assert_int_eq(count_lines(cap, "result=\"timed out after"), 2);
	ck_assert_int_eq(count_lines(cap, "giving up"), 1);
	fclose(cap);
	free(runs);
	ck_assert_uint_eq(child_runner_active(runner), 0);
	alerter_free(a);
	unit_rm_tree(dir);
}
END_TEST

/* ---- nothing waits for a hanging sink ---- */

struct reroute {
	bool fired;
	uint64_t at_ms;
};

static void on_reroute(evutil_socket_t fd, short what, void *arg)
{
	struct reroute *r = arg;

	(void)fd;
	(void)what;
	r->fired = true;
	r->at_ms = clock_mono_ms();
}

START_TEST(hanging_sinks_delay_nothing)
{
	char surl[128], *argv[3];
	int hang_fd, hang = hanging_port(&hang_fd);
	struct conf_alert c[3];
	struct reroute rr = { 0 };
	struct event *reroute = evtimer_new(af_base, on_reroute, &rr);
	struct timeval tv = clock_tv_ms(30);
	struct alerter *a;
	uint64_t t0, sent_us;

	exec_setup("hang\n");
	c[0] = pd_sink(hang);         /* accepts, never answers */
	c[0].timeout_ms = 5000;
	c[1] = exec_sink(argv);       /* never exits */
	c[2] = slack_sink(surl, sizeof(surl), rx.port);
	a = new_alerter(c, 3);
	ck_assert_ptr_nonnull(reroute);
	t0 = clock_mono_ms();
	sent_us = clock_mono_us();
	alerter_send(a, &failover);
	sent_us = clock_mono_us() - sent_us;
	/* The failover goes on: its next step is a timer 30 ms out. */
	ck_assert_int_eq(evtimer_add(reroute, &tv), 0);
	ck_assert_uint_lt(sent_us, 50000);
	run_until_count(&rx, 1, 3000);
	ck_assert_int_eq(rx.count, 1);
	ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
	run_for(300);
	ck_assert(rr.fired);
	ck_assert_uint_lt(rr.at_ms - t0, 30 + 100);
	/* The loop kept turning: the 10 ms ticker never stalled. */
	ck_assert_uint_lt(tick_max_gap_ms, 150);
	ck_assert_uint_eq(alerter_pending(a), 2);
	ck_assert_uint_eq(child_runner_active(runner), 1);
	alerter_free(a);
	ck_assert_uint_eq(child_runner_active(runner), 0);
	event_free(reroute);
	close(hang_fd);
	unit_rm_tree(dir);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("alert_sinks");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, af_setup, af_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pagerduty_incident);
	tcase_add_test(tc, pagerduty_dedup_across_alerters);
	tcase_add_test(tc, pagerduty_400_not_retried_429_is);
	tcase_add_test(tc, retry_after_500_never_logs_secrets);
	tcase_add_test(tc, slack_readable_text);
	tcase_add_test(tc, long_reason_cut_cleanly);
	tcase_add_test(tc, slack_resolved_follows_what_was_sent);
	tcase_add_test(tc, exec_env_and_retry);
	tcase_add_test(tc, exec_timeout_gives_up);
	tcase_add_test(tc, hanging_sinks_delay_nothing);
	suite_add_tcase(s, tc);
	return s;
}

