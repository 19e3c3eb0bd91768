/*
 * tests/unit/test_nginx_drain.c — balancer_drain for nginx, without nginx.
 * The test process plays the nginx master (its pid in the pid file, a
 * `sleep` child as the old worker), so the drain's /proc bookkeeping is
 * checked exactly.  A real nginx is in test_nginx_real.c.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/balancer.h"
#include "common/clock.h"
#include "tests/unit/proc_fixture.h"
#include "tests/unit/unit_util.h"

static char dir[256], file[320], pidf[320];
static struct pf_loop loop;

static struct conf_node nodes[2] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:1" },
	{ .name = (char *)"b", .address = (char *)"127.0.0.1:2" },
};
static struct conf_cluster web = { .name = (char *)"web", .nodes = nodes, .n_nodes = 2 };
static const struct balancer_roles to_b = { .primary = 1 };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vigil-drain-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/upstream.conf", dir);
	snprintf(pidf, sizeof(pidf), "%s/nginx.pid", dir);
	pf_loop_init(&loop);
}

static void teardown(void)
{
	pf_stop_all(loop.base);
	pf_loop_free(&loop);
	unit_rm_tree(dir);
}

static struct conf_balancer bal_conf(char **check, char **reload, const char *pid_file)
{
	struct conf_balancer c = {
		.type = CONF_BALANCER_NGINX, .upstream = (char *)"web_backend",
		.file = file, .check = check, .reload = reload, .timeout_ms = 5000,
		.standby = CONF_STANDBY_BACKUP, .pid_file = (char *)pid_file,
	};
	return c;
}

static char *check_true[] = { (char *)"/bin/true", NULL };
static char *reload_true[] = { (char *)"/bin/true", NULL };
static char *check_false[] = { (char *)"/bin/false", NULL };

/* Apply (it must end as expected), then drain 200 ms: it must wait it all and say why. */
static void assert_waits_whole(const struct conf_balancer *c, bool apply_ok_expected,
			       const char *why)
{
	struct balancer *b = pf_balancer(&loop.env, c);
	struct pf_outcome o = pf_apply(loop.base, b, &web, &to_b, 5000);
	uint64_t start;

	ck_assert_msg(o.ok == apply_ok_expected, "apply: %s", o.error);
	start = clock_mono_ms();
	o = pf_drain(loop.base, b, 200, 5000);
	ck_assert(o.ok);
	ck_assert_uint_ge(o.at - start, 150);
	ck_assert_msg(strncmp(o.error, "drain waited the whole 200 ms: ", 31) == 0 &&
		      strstr(o.error, why), "%s", o.error);
	balancer_free(b);
}

START_TEST(unseen_traffic_waits_whole_timeout)
{
	char missing[400];
	struct conf_balancer c = bal_conf(check_true, reload_true, NULL);

	assert_waits_whole(&c, true, "no pid_file");
	snprintf(missing, sizeof(missing), "%s/missing.pid", dir);
	c.pid_file = missing;
	assert_waits_whole(&c, true, "missing.pid: missing");
	/* A check that fails means no reload: nothing says which traffic is old. */
	pf_write(pidf, "1\n", 0644);
	c = bal_conf(check_false, reload_true, pidf);
	assert_waits_whole(&c, false, "did not reload");
}
END_TEST

static void write_own_pid(void)
{
	char text[32];

	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	pf_write(pidf, text, 0644);
}

START_TEST(no_workers_drains_on_next_turn)
{
	struct conf_balancer c = bal_conf(check_true, reload_true, pidf);
	struct balancer *b = pf_balancer(&loop.env, &c);
	struct pf_outcome o;

	/* This process as the master, with no children at reload time. */
	write_own_pid();
	pf_apply_ok(loop.base, b, &web, &to_b);
	o = pf_drain(loop.base, b, 10000, 5000);
	ck_assert(o.ok);
	ck_assert_str_eq(o.error, "");
	balancer_free(b);
}
END_TEST

START_TEST(waits_for_noted_workers)
{
	char *sleeper[] = { (char *)"/bin/sleep", (char *)"30", NULL };
	struct conf_balancer c = bal_conf(check_true, reload_true, pidf);
	struct balancer *b = pf_balancer(&loop.env, &c);
	struct pf_outcome o;
	char err[256];
	uint64_t start;
	pid_t worker;

	write_own_pid();
	worker = pf_spawn(sleeper, NULL);
	pf_apply_ok(loop.base, b, &web, &to_b);
	/* The "old worker" lives on: the drain runs out, ok but with a note. */
	start = clock_mono_ms();
	o = pf_drain(loop.base, b, 200, 5000);
	ck_assert(o.ok);
	ck_assert_uint_ge(o.at - start, 150);
	ck_assert_str_eq(o.error, "drain timed out after 200 ms: 1 old nginx worker(s) still running");

	/* One drain at a time, and none while an apply runs. */
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(balancer_drain(b, 10000, pf_on_done, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(balancer_drain(b, 10000, pf_on_done, &o, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "already running"), "%s", err);
	/* The worker exits: the drain that is running notices well before its timeout. */
	start = clock_mono_ms();
	pf_stop(loop.base, worker, SIGKILL);
	pf_run(loop.base, &o.done, 5000);
	ck_assert(o.done && o.ok);
	ck_assert_str_eq(o.error, "");
	ck_assert_uint_lt(o.at - start, 10000);
	balancer_free(b);
}
END_TEST

START_TEST(drain_refused_during_apply_and_cancelled_by_free)
{
	char *slow_check[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	struct conf_balancer c = bal_conf(slow_check, reload_true, NULL);
	struct balancer *b = pf_balancer(&loop.env, &c);
	struct pf_outcome a = { 0 }, d = { 0 };
	char err[256];

	ck_assert_int_eq(balancer_apply(b, &web, &to_b, pf_on_done, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(balancer_drain(b, 100, pf_on_done, &d, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "apply is running"), "%s", err);
	ck_assert(!balancer_draining(b));
	balancer_free(b);

	/* Shutdown mid-drain: no callback, the timer goes with the balancer. */
	c = bal_conf(check_true, reload_true, NULL);
	b = pf_balancer(&loop.env, &c);
	pf_apply_ok(loop.base, b, &web, &to_b);
	ck_assert_int_eq(balancer_drain(b, 50, pf_on_done, &d, err, sizeof(err)), 0);
	balancer_free(b);
	unit_run_until(loop.base, NULL, 0, 150);
	ck_assert(!a.done && !d.done);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("nginx_drain");
	TCase *tc = tcase_create("drain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, unseen_traffic_waits_whole_timeout);
	tcase_add_test(tc, no_workers_drains_on_next_turn);
	tcase_add_test(tc, waits_for_noted_workers);
	tcase_add_test(tc, drain_refused_during_apply_and_cancelled_by_free);
	suite_add_tcase(s, tc);
	return s;
}

