/*
 * tests/unit/test_child.c — child processes on the event loop: exit codes,
 * captured output, truncation, timeouts, grandchildren holding the pipe,
 * exec failure, cancel, environment, signals, many at once, re-entrancy.
 */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "common/child.h"
#include "common/clock.h"
#include "tests/unit/unit_util.h"

struct done {
	int calls;
	struct child_result res;
	char output[CHILD_OUTPUT_MAX + 1];
	uint64_t at_ms;
};

static struct event_base *base;
static struct child_runner *runner;

static void setup(void)
{
	char err[256];

	/* Orphaned grandchildren come back to us and are reaped (absorbed) too. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	runner = child_runner_new(base, err, sizeof(err));
	ck_assert_msg(runner != NULL, "runner: %s", err);
}

static void teardown(void)
{
	child_runner_free(runner);
	event_base_free(base);
}

static void on_done(void *arg, const struct child_result *res)
{
	struct done *d = arg;

	d->calls++;
	d->res = *res;
	ck_assert_ptr_nonnull(res->output);
	ck_assert_uint_eq(strlen(res->output), res->output_len);
	memcpy(d->output, res->output, res->output_len + 1);
	d->res.output = d->output;
	d->at_ms = clock_mono_ms();
}

static bool run_until(const int *count, int want, uint64_t ms)
{
	return unit_run_until(base, count, want, ms);
}

static struct child *spawn(char *const argv[], char *const env[], uint64_t timeout_ms,
			   struct done *d)
{
	char err[256];
	struct child *c = child_spawn(runner, argv, env, timeout_ms, on_done, d,
				      err, sizeof(err));

	ck_assert_msg(c != NULL, "spawn %s: %s", argv[0], err);
	return c;
}

static void sh(const char *script, uint64_t timeout_ms, struct done *d)
{
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };

	spawn(argv, NULL, timeout_ms, d);
}

START_TEST(exit_codes)
{
	struct done ok = { 0 }, three = { 0 };
	char desc[64];

	sh("exit 0", 5000, &ok);
	sh("exit 3", 5000, &three);
	ck_assert_uint_eq(child_runner_active(runner), 2);
	ck_assert(run_until(&three.calls, 1, 5000));
	ck_assert(run_until(&ok.calls, 1, 5000));
	ck_assert(ok.res.exited);
	ck_assert_int_eq(ok.res.exit_code, 0);
	ck_assert(three.res.exited);
	ck_assert_int_eq(three.res.exit_code, 3);
	ck_assert(!three.res.timed_out);
	ck_assert_int_eq(three.res.term_signal, 0);
	child_result_describe(&three.res, desc, sizeof(desc));
	ck_assert_str_eq(desc, "exit 3");
	ck_assert_uint_eq(child_runner_active(runner), 0);
	/* Exactly once: nothing more arrives later. */
	run_until(NULL, 0, 100);
	ck_assert_int_eq(ok.calls, 1);
	ck_assert_int_eq(three.calls, 1);
}
END_TEST

START_TEST(output_capture)
{
	struct done d = { 0 };

	sh("echo out; echo err >&2; printf tail", 5000, &d);
	ck_assert(run_until(&d.calls, 1, 5000));
	ck_assert_str_eq(d.output, "out\nerr\ntail");
	ck_assert_uint_eq(d.res.output_len, 12);
}
END_TEST

START_TEST(stdin_is_dev_null)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"cat", NULL };

	/* With a terminal or the parent's stdin, cat would wait forever. */
	spawn(argv, NULL, 5000, &d);
	ck_assert(run_until(&d.calls, 1, 5000));
	ck_assert(d.res.exited);
	ck_assert_int_eq(d.res.exit_code, 0);
	ck_assert_uint_eq(d.res.output_len, 0);
}
END_TEST

START_TEST(output_truncated)
{
	struct done d = { 0 };

	/* 200 KB: more than the pipe holds, so it only exits if we keep draining. */
	sh("i=0; while [ $i -lt 2000 ]; do "
	   "echo 0123456789012345678901234567890123456789012345678901234567890123456789"
	   "01234567890123456789012345678; i=$((i+1)); done; echo done >&2", 10000, &d);
	ck_assert(run_until(&d.calls, 1, 10000));
	ck_assert(d.res.exited);
	ck_assert_int_eq(d.res.exit_code, 0);
	ck_assert_uint_eq(d.res.output_len, CHILD_OUTPUT_MAX);
	ck_assert(strncmp(d.output, "0123456789", 10) == 0);
	ck_assert_ptr_null(strstr(d.output, "done"));
}
END_TEST

START_TEST(timeout_kills_group)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	char desc[64];
	uint64_t t0 = clock_mono_ms();

	spawn(argv, NULL, 100, &d);
	ck_assert(run_until(&d.calls, 1, 3000));
	ck_assert(d.res.timed_out);
	ck_assert(!d.res.exited);
	ck_assert_int_eq(d.res.term_signal, SIGKILL);
	/* libevent's timers run on the coarse monotonic clock: a few ms early is fine. */
	ck_assert_uint_ge(d.at_ms - t0, 80);
	ck_assert_uint_lt(d.at_ms - t0, 2000);
	child_result_describe(&d.res, desc, sizeof(desc));
	ck_assert_msg(strncmp(desc, "timed out after ", 16) == 0, "describe: %s", desc);
}
END_TEST

START_TEST(timeout_kills_grandchildren)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"/bin/sh", (char *)"-c",
			 (char *)"sleep 10 & echo $!; wait", NULL };
	uint64_t t0 = clock_mono_ms();

	spawn(argv, NULL, 200, &d);
	ck_assert(run_until(&d.calls, 1, 3000));
	ck_assert(d.res.timed_out);
	ck_assert_uint_lt(d.at_ms - t0, 2000);
	pid_t grandchild = (pid_t)atoi(d.output);
	ck_assert_int_gt(grandchild, 1);
	/* Killed with its group: gone, or a zombie until init reaps it. */
	bool dead = false;
	for (int i = 0; i < 100 && !dead; i++) {
		char path[64], state = '?';
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)grandchild);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			break;
		if (fscanf(f, "%*d %*s %c", &state) != 1)
			state = '?';
		fclose(f);
		dead = state == 'Z' || state == 'X';
		if (!dead)
			usleep(10000);
	}
	ck_assert_msg(dead || kill(grandchild, 0) == -1, "grandchild %d survived", (int)grandchild);
}
END_TEST

START_TEST(grandchild_holding_pipe)
{
	struct done d = { 0 };
	struct child *c;
	char *argv[] = { (char *)"/bin/sh", (char *)"-c",
			 (char *)"sleep 5 & echo started", NULL };
	uint64_t t0 = clock_mono_ms();

	c = spawn(argv, NULL, 10000, &d);
	pid_t pgid = child_pid(c);
	ck_assert(run_until(&d.calls, 1, 4000));
	ck_assert_uint_lt(d.at_ms - t0, 2000);
	ck_assert(d.res.exited);
	ck_assert_int_eq(d.res.exit_code, 0);
	ck_assert_str_eq(d.output, "started\n");
	/* The sleep still holds the pipe; kill it and let the loop reap it. */
	kill(-pgid, SIGKILL);
	run_until(NULL, 0, 100);
}
END_TEST

START_TEST(exec_failure)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"/bad/path", (char *)"x", NULL };
	char *argv2[] = { (char *)"no-such-command-vigil", NULL };
	struct done d2 = { 0 };

	spawn(argv, NULL, 5000, &d);
	spawn(argv2, NULL, 5000, &d2);
	ck_assert(run_until(&d.calls, 1, 5000));
	ck_assert(run_until(&d2.calls, 1, 5000));
	ck_assert(d.res.exited);
	ck_assert_int_eq(d.res.exit_code, 127);
	ck_assert_str_eq(d.output, "exec /bad/path: No such file or directory\n");
	ck_assert_int_eq(d2.res.exit_code, 127);
	ck_assert_ptr_nonnull(strstr(d2.output, "exec no-such-command-vigil: "));
}
END_TEST

START_TEST(spawn_rejects_empty)
{
	char err[128] = "";
	char *argv[] = { NULL };
	struct done d = { 0 };

	ck_assert_ptr_null(child_spawn(runner, argv, NULL, 0, on_done, &d, err, sizeof(err)));
	ck_assert_str_eq(err, "spawn: empty command");
}
END_TEST

START_TEST(cancel_no_callback)
{
	struct done d = { 0 }, after = { 0 };
	char *argv[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	struct child *c = spawn(argv, NULL, 0, &d);
	pid_t pid = child_pid(c);

	child_cancel(c);
	ck_assert_uint_eq(child_runner_active(runner), 0);
	/* Its reap arrives as an unknown pid and must be absorbed. */
	sh("exit 4", 5000, &after);
	ck_assert(run_until(&after.calls, 1, 5000));
	run_until(NULL, 0, 200);
	ck_assert_int_eq(d.calls, 0);
	ck_assert_int_eq(after.res.exit_code, 4);
	/* Killed and reaped: the pid is gone. */
	ck_assert_int_eq(kill(pid, 0), -1);
}
END_TEST

START_TEST(env_extra)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"/usr/bin/env", NULL };
	char *env[] = { (char *)"VIGIL_TEST_X=42", (char *)"VIGIL_TEST_OVER=new", NULL };

	ck_assert_int_eq(setenv("VIGIL_TEST_OVER", "old", 1), 0);
	ck_assert_int_eq(setenv("VIGIL_TEST_KEEP", "kept", 1), 0);
	spawn(argv, env, 5000, &d);
	ck_assert(run_until(&d.calls, 1, 5000));
	ck_assert_ptr_nonnull(strstr(d.output, "VIGIL_TEST_X=42\n"));
	ck_assert_ptr_nonnull(strstr(d.output, "VIGIL_TEST_OVER=new\n"));
	ck_assert_ptr_null(strstr(d.output, "VIGIL_TEST_OVER=old"));
	ck_assert_ptr_nonnull(strstr(d.output, "VIGIL_TEST_KEEP=kept\n"));
}
END_TEST

START_TEST(fds_closed)
{
	struct done d = { 0 };
	char script[128];
	int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */

	ck_assert_int_ge(fd, 3);
	snprintf(script, sizeof(script), "test -e /proc/$$/fd/%d && echo leaked; exit 0", fd);
	sh(script, 5000, &d);
	ck_assert(run_until(&d.calls, 1, 5000));
	close(fd);
	ck_assert_str_eq(d.output, "");
}
END_TEST

START_TEST(signals_reset)
{
	struct done ign = { 0 }, blk = { 0 };
	sigset_t block, old;
	char desc[64], want[64];

	/* Ignored dispositions and blocked signals survive exec unless reset. */
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	sh("kill -USR1 $$; exit 0", 5000, &ign);
	sh("kill -USR2 $$; exit 0", 5000, &blk);
	ck_assert(run_until(&ign.calls, 1, 5000));
	ck_assert(run_until(&blk.calls, 1, 5000));
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	ck_assert(!ign.res.exited);
	ck_assert_int_eq(ign.res.term_signal, SIGUSR1);
	child_result_describe(&ign.res, desc, sizeof(desc));
	snprintf(want, sizeof(want), "killed by signal %d", SIGUSR1);
	ck_assert_str_eq(desc, want);
	ck_assert(!blk.res.exited);
	ck_assert_int_eq(blk.res.term_signal, SIGUSR2);
}
END_TEST

#define MANY 64

START_TEST(many_at_once)
{
	static struct done d[MANY];
	char arg[MANY][16];
	int total = 0;

	memset(d, 0, sizeof(d));
	for (int i = 0; i < MANY; i++) {
		snprintf(arg[i], sizeof(arg[i]), "%d", i);
		char *argv[] = { (char *)"/bin/sh", (char *)"-c",
				 (char *)"echo child $0; exit $(($0 % 7))", arg[i], NULL };
		spawn(argv, NULL, 10000, &d[i]);
	}
	ck_assert_uint_eq(child_runner_active(runner), MANY);
	for (int i = 0; i < MANY; i++) {
		ck_assert_msg(run_until(&d[i].calls, 1, 10000), "child %d never finished", i);
		char want[32];
		snprintf(want, sizeof(want), "child %d\n", i);
		ck_assert_str_eq(d[i].output, want);
		ck_assert_int_eq(d[i].res.exit_code, i % 7);
		total += d[i].calls;
	}
	ck_assert_int_eq(total, MANY);
	ck_assert_uint_eq(child_runner_active(runner), 0);
}
END_TEST

/* Re-entrancy: a callback that cancels one child and spawns another. */
struct chain {
	struct child *victim;
	struct done victim_done;
	struct done next;
	int calls;
};

static void on_chain(void *arg, const struct child_result *res)
{
	struct chain *ch = arg;
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"exit 5", NULL };
	char err[128];

	(void)res;
	ch->calls++;
	child_cancel(ch->victim);
	ck_assert_ptr_nonnull(child_spawn(runner, argv, NULL, 5000, on_done, &ch->next,
					  err, sizeof(err)));
}

START_TEST(callback_reentrancy)
{
	struct chain ch;
	char *sleeper[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	char *quick[] = { (char *)"/bin/true", NULL };
	char err[128];

	memset(&ch, 0, sizeof(ch));
	ch.victim = spawn(sleeper, NULL, 0, &ch.victim_done);
	ck_assert_ptr_nonnull(child_spawn(runner, quick, NULL, 5000, on_chain, &ch,
					  err, sizeof(err)));
	ck_assert(run_until(&ch.next.calls, 1, 5000));
	run_until(NULL, 0, 100);
	ck_assert_int_eq(ch.calls, 1);
	ck_assert_int_eq(ch.victim_done.calls, 0);
	ck_assert_int_eq(ch.next.res.exit_code, 5);
	ck_assert_uint_eq(child_runner_active(runner), 0);
}
END_TEST

START_TEST(runner_free_kills)
{
	struct done d = { 0 };
	char *argv[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	uint64_t t0 = clock_mono_ms();
	struct child *c = spawn(argv, NULL, 0, &d);
	pid_t pid = child_pid(c);

	child_runner_free(runner);
	runner = NULL;
	ck_assert_uint_lt(clock_mono_ms() - t0, 2000);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(d.calls, 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("child");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, output_capture);
	tcase_add_test(tc, stdin_is_dev_null);
	tcase_add_test(tc, output_truncated);
	tcase_add_test(tc, timeout_kills_group);
	tcase_add_test(tc, timeout_kills_grandchildren);
	tcase_add_test(tc, grandchild_holding_pipe);
	tcase_add_test(tc, exec_failure);
	tcase_add_test(tc, spawn_rejects_empty);
	tcase_add_test(tc, cancel_no_callback);
	tcase_add_test(tc, env_extra);
	tcase_add_test(tc, fds_closed);
	tcase_add_test(tc, signals_reset);
	tcase_add_test(tc, many_at_once);
	tcase_add_test(tc, callback_reentrancy);
	tcase_add_test(tc, runner_free_kills);
	suite_add_tcase(s, tc);
	return s;
}

