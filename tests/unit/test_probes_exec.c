/*
 * tests/unit/test_probes_exec.c — exec probes (exit status, output in the
 * detail, placeholders, the lag a lag probe prints, the via node's
 * placeholders), and what probe.c does for every type: timeouts, cancel,
 * and start failures delivered from the loop.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "common/child.h"
#include "common/clock.h"
#include "probes/probe.h"
#include "tests/unit/probe_fixture.h"
#include "tests/unit/unit_util.h"

/* ---- exec ---- */

#define A(s) ((char *)(s))
static char *exec_true[] = { A("/bin/true"), NULL };
static char *exec_false[] = { A("/bin/false"), NULL };
static char *exec_boom[] = { A("/bin/sh"), A("-c"), A("echo boom; echo more; exit 2"), NULL };
static char *exec_missing[] = { A("/nonexistent/check"), NULL };
/* Prints a number, but this probe was not asked for a lag. */
static char *exec_number[] = { A("/bin/sh"), A("-c"), A("echo 1234"), NULL };
/* Every placeholder, each expanded into its own argument. */
static char *exec_vars[] = {
	A("/bin/sh"), A("-c"),
	A("test \"$0|$1|$2|$3|$4\" = \"a-node|127.0.0.1:5432|127.0.0.1|5432|web\""),
	A("{node}"), A("{address}"), A("{host}"), A("{port}"), A("{cluster}"), NULL,
};

static const struct exec_case {
	char **argv;
	enum probe_status want;
	const char *detail;
} exec_cases[] = {
	{ exec_true, PROBE_OK, "exit 0" },
	{ exec_false, PROBE_ERR_EXIT, "exit 1" },
	{ exec_boom, PROBE_ERR_EXIT, "exit 2: boom more" },
	{ exec_missing, PROBE_ERR_EXIT,
	  "exit 127: exec /nonexistent/check: No such file or directory" },
	{ exec_vars, PROBE_OK, "exit 0" },
	{ exec_number, PROBE_OK, "exit 0" },
};

START_TEST(exec_case)
{
	const struct exec_case *xc = &exec_cases[_i];
	struct probe *p = exec_probe(xc->argv, 2000);
	int free_fd = next_fd();
	struct done d = run_once(p, 3000);

	ck_assert_int_eq(next_fd(), free_fd);
	ck_assert_msg(d.res.status == xc->want, "case %d: %s", _i, d.res.detail);
	ck_assert_str_eq(d.res.detail, xc->detail);
	ck_assert(!d.res.has_lag);
	ck_assert(d.res.latency_ms > 0.0);
	probe_free(p);
}
END_TEST

/* ---- lag: the first word of a healthy run's output ---- */

static const struct lag_case {
	const char *out;  /* printf %b of it */
	const char *exit; /* the program's exit code */
	enum probe_status want;
	int64_t lag;      /* when want is PROBE_OK */
	const char *detail;
} lag_cases[] = {
	{ "1234\n", "0", PROBE_OK, 1234, "lag 1234" },
	{ " \n\t42 seconds behind\n", "0", PROBE_OK, 42, "lag 42" },
	{ "0", "0", PROBE_OK, 0, "lag 0" },
	{ "-3\n", "0", PROBE_OK, -3, "lag -3" },
	{ "9223372036854775807\n", "0", PROBE_OK, INT64_MAX, "lag 9223372036854775807" },
	{ "abc\n", "0", PROBE_ERR_OUTPUT, 0, "lag: expected an integer, got \"abc\"" },
	{ "12ms 3\n", "0", PROBE_ERR_OUTPUT, 0, "lag: expected an integer, got \"12ms\"" },
	{ "\\001x", "0", PROBE_ERR_OUTPUT, 0, "lag: expected an integer, got \"?x\"" },
	{ "", "0", PROBE_ERR_OUTPUT, 0, "lag: expected an integer, got no output" },
	{ " \n\t\n", "0", PROBE_ERR_OUTPUT, 0, "lag: expected an integer, got no output" },
	{ "9223372036854775808", "0", PROBE_ERR_OUTPUT, 0,
	  "lag: 9223372036854775808 is out of range" },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "0", PROBE_ERR_OUTPUT, 0,
	  "lag: expected an integer, got \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"" },
	/* A failed run's number is no lag: the exit status decides. */
	{ "1234\n", "1", PROBE_ERR_EXIT, 0, "exit 1: 1234" },
	{ "abc", "3", PROBE_ERR_EXIT, 0, "exit 3: abc" },
};

static struct conf_probe lag_conf(char **argv, uint64_t timeout_ms)
{
	struct conf_probe c = conf_of(CONF_PROBE_EXEC, timeout_ms);

	c.argv = argv;
	c.lag = true;
	return c;
}

START_TEST(lag_case)
{
	const struct lag_case *lc = &lag_cases[_i];
	char *argv[] = { A("/bin/sh"), A("-c"), A("printf '%b' \"$0\"; exit \"$1\""),
			 A(lc->out), A(lc->exit), NULL };
	struct conf_probe c = lag_conf(argv, 2000);
	struct node_buf nb;
	struct probe *p = make(&c, node_at(&nb, "127.0.0.1", 5432));
	struct done d = run_once(p, 3000);

	ck_assert_msg(d.res.status == lc->want, "case %d: %s: %s", _i,
		      probe_status_str(d.res.status), d.res.detail);
	ck_assert_str_eq(d.res.detail, lc->detail);
	ck_assert_int_eq(d.res.has_lag, lc->want == PROBE_OK);
	ck_assert_int_eq(d.res.lag, lc->lag);
	probe_free(p);
}
END_TEST

/* Each run judges afresh: a lag from the last run never lingers. */
START_TEST(lag_not_carried_over)
{
	char dir[] = "/tmp/vigil-lag-XXXXXX";
	char flag[64];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(flag, sizeof(flag), "%s/ran", dir);
	char *argv[] = { A("/bin/sh"), A("-c"),
			 A("if [ -e \"$0\" ]; then echo none; else : > \"$0\"; echo 7; fi"),
			 flag, NULL };
	struct conf_probe c = lag_conf(argv, 2000);
	struct node_buf nb;
	struct probe *p = make(&c, node_at(&nb, "127.0.0.1", 5432));
	struct done first = run_once(p, 3000);
	struct done second = run_once(p, 3000);

	probe_free(p);
	unit_rm_tree(dir);
	ck_assert_msg(first.res.ok, "%s", first.res.detail);
	ck_assert(first.res.has_lag);
	ck_assert_int_eq(first.res.lag, 7);
	ck_assert_int_eq(second.res.status, PROBE_ERR_OUTPUT);
	ck_assert(!second.res.has_lag);
	ck_assert_int_eq(second.res.lag, 0);
}
END_TEST

/* Printed in time, but the run never ended: a timeout, with no lag. */
START_TEST(lag_timeout)
{
	char *argv[] = { A("/bin/sh"), A("-c"), A("echo 5; exec sleep 10"), NULL };
	struct conf_probe c = lag_conf(argv, 300);
	struct node_buf nb;
	struct probe *p = make(&c, node_at(&nb, "127.0.0.1", 5432));
	struct done d = run_once(p, 3000);

	ck_assert_int_eq(d.res.status, PROBE_ERR_TIMEOUT);
	ck_assert(!d.res.has_lag);
	probe_free(p);
}
END_TEST

/* ---- via: the command gets the via node's placeholders ---- */

START_TEST(exec_via)
{
	char *argv[] = { A("/bin/sh"), A("-c"), A("echo \"$0|$1|$2|$3|$4|$5\"; exit 3"),
			 A("{via_node}"), A("{via_address}"), A("{via_host}"), A("{via_port}"),
			 A("{node}"), A("{address}"), NULL };
	struct conf_probe c = conf_of(CONF_PROBE_EXEC, 2000);
	struct node_buf nb, vb;
	char err[256] = "";

	c.argv = argv;
	node_at(&vb, "::1", 9);
	vb.node.name = A("b-node");
	struct probe *p = make_via(&c, node_at(&nb, "127.0.0.1", 5432), &vb.node);
	struct done d = run_once(p, 3000);
	ck_assert_int_eq(d.res.status, PROBE_ERR_EXIT);
	ck_assert_str_eq(d.res.detail, "exit 3: b-node|[::1]:9|::1|9|a-node|127.0.0.1:5432");
	probe_free(p);
	/* Without a via node, {via_*} are unknown: refused up front, not run as text. */
	ck_assert_ptr_null(probe_new(&env, &c, &nb.node, NULL, "web", err, sizeof(err)));
	ck_assert_msg(strstr(err, "command") && strstr(err, "via_node"), "%s", err);
}
END_TEST

/* ---- timeouts, for every type, from probe.c's one timer ---- */

START_TEST(timeout_case)
{
	char *slow[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	struct probe *p = _i == 0 ? http_probe("/hang", "GET", NULL, 0, NULL, 300)
				  : exec_probe(slow, 300);
	uint64_t t0 = clock_mono_ms();

	/* Twice: the probe is usable after a timeout. */
	for (int run = 0; run < 2; run++) {
		struct done d = run_once(p, 3000);
		ck_assert_int_eq(d.res.status, PROBE_ERR_TIMEOUT);
		ck_assert_str_eq(d.res.detail, "no answer within 300 ms");
		ck_assert_uint_ge(d.at_ms - t0, 280); /* coarse timer clock */
		ck_assert_uint_lt(d.at_ms - t0, 1500);
		ck_assert(d.res.latency_ms >= 280.0);
		ck_assert_uint_eq(child_runner_active(env.children), 0);
		t0 = d.at_ms;
	}
	probe_free(p);
}
END_TEST

/* ---- the generic run ---- */

START_TEST(cancel_no_callback)
{
	char *slow[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	struct probe *h = http_probe("/hang", "GET", NULL, 0, NULL, 200);
	struct probe *x = exec_probe(slow, 200);
	struct probe *f = http_probe("/hang", "GET", NULL, 0, NULL, 200);
	struct done dh = { 0 }, dx = { 0 }, df = { 0 };

	ck_assert_int_eq(probe_start(h, on_probe, &dh), 0);
	ck_assert_int_eq(probe_start(x, on_probe, &dx), 0);
	ck_assert_int_eq(probe_start(f, on_probe, &df), 0);
	/* Let the requests reach the server first. */
	run_until(&hits, 2, 2000);
	probe_cancel(h);
	probe_cancel(x);
	probe_free(f);
	ck_assert(!probe_running(h));
	ck_assert(!probe_running(x));
	ck_assert_uint_eq(child_runner_active(env.children), 0);
	/* Past both timeouts: still nothing. */
	run_until(NULL, 0, 500);
	ck_assert_int_eq(dh.calls, 0);
	ck_assert_int_eq(dx.calls, 0);
	ck_assert_int_eq(df.calls, 0);
	/* Cancel of an idle probe is harmless. */
	probe_cancel(h);
	probe_free(h);
	probe_free(x);
}
END_TEST

/*
 * Out of fds once curl is already running: its socket() fails inside the
 * transfer, which curl reports like a refused connect.  The probe must say
 * it was vigil's own fault (EMFILE), not the node's.
 */
START_TEST(http_without_fds_is_local)
{
	struct node_buf nb;
	uint16_t port;
	int fd = listener(AF_INET, true, &port); /* listens, never answers */
	struct conf_probe c = conf_of(CONF_PROBE_HTTP, 200);
	struct rlimit old, tight;
	struct done d;

	ck_assert_int_ge(fd, 0);
	c.url = (char *)"http://{address}/health";
	struct probe *p = make(&c, node_at(&nb, "127.0.0.1", port));
	/* A first run opens the curl shard and times out: no connection is kept. */
	d = run_once(p, 2000);
	ck_assert_int_eq(d.res.status, PROBE_ERR_TIMEOUT);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)next_fd();
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
	d = run_once(p, 2000);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(d.res.status, PROBE_ERR_LOCAL);
	ck_assert_str_eq(d.res.detail, "local: socket: Too many open files (EMFILE)");
	ck_assert(!d.res.ok);
	/* With fds back, the same probe reaches the listener again. */
	d = run_once(p, 2000);
	ck_assert_int_eq(d.res.status, PROBE_ERR_TIMEOUT);
	probe_free(p);
	close(fd);
}
END_TEST

/* Out of fds, a type fails inside probe_start: the result still waits for the loop. */
START_TEST(start_failure_deferred)
{
	struct node_buf nb;
	uint16_t port;
	int fd = listener(AF_INET, true, &port);
	struct conf_probe c = conf_of(CONF_PROBE_TCP, 1000);
	char *yes[] = { (char *)"/bin/true", NULL };
	struct done dt = { 0 }, dx = { 0 };
	struct rlimit old, tight;

	ck_assert_int_ge(fd, 0);
	struct probe *t = make(&c, node_at(&nb, "127.0.0.1", port));
	struct probe *x = exec_probe(yes, 1000);
	int next = next_fd();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)next;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
	int rt = probe_start(t, on_probe, &dt);
	int rx = probe_start(x, on_probe, &dx);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(rt, 0);
	ck_assert_int_eq(rx, 0);
	ck_assert_int_eq(dt.calls, 0);
	ck_assert_int_eq(dx.calls, 0);
	ck_assert(run_until(&dt.calls, 1, 2000));
	ck_assert(run_until(&dx.calls, 1, 2000));
	ck_assert_int_eq(dt.res.status, PROBE_ERR_LOCAL);
	ck_assert_str_eq(dt.res.detail, "socket: Too many open files (EMFILE)");
	ck_assert_int_eq(dx.res.status, PROBE_ERR_LOCAL);
	ck_assert_str_eq(dx.res.detail, "spawn: pipe: Too many open files (EMFILE)");
	/* With fds back, the same probes work. */
	dt = run_once(t, 2000);
	ck_assert_msg(dt.res.ok, "%s", dt.res.detail);
	probe_free(t);
	probe_free(x);
	close(fd);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("probes_exec");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, exec_case, 0, (int)(sizeof(exec_cases) / sizeof(exec_cases[0])));
	tcase_add_loop_test(tc, lag_case, 0, (int)(sizeof(lag_cases) / sizeof(lag_cases[0])));
	tcase_add_test(tc, lag_not_carried_over);
	tcase_add_test(tc, lag_timeout);
	tcase_add_test(tc, exec_via);
	tcase_add_loop_test(tc, timeout_case, 0, 2);
	tcase_add_test(tc, cancel_no_callback);
	tcase_add_test(tc, start_failure_deferred);
	tcase_add_test(tc, http_without_fds_is_local);
	suite_add_tcase(s, tc);
	return s;
}

int unit_setup(void)
{
	return probe_fixture_setup();
}
