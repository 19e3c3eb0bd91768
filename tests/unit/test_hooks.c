/*
 * tests/unit/test_hooks.c — operator hooks: per-element placeholder
 * expansion (no shell), the VIGIL_* environment, exit status and output in
 * the error, timeout, and cancel without a callback.
 */
#include <check.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/harness.h"
#include "actions/hooks.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/template.h"
#include "tests/unit/unit_util.h"

static char dir[256], out_path[320], script[320];
static struct event_base *base;
static struct child_runner *runner;
static struct event *tick;
static struct act_env env;

struct outcome {
	bool done;
	bool ok;
	int calls;
	char error[1024];
};

static const struct hook_ctx ctx = {
	.cluster = "web", .event = "promote", .node = "b", .address = "[::1]:8082",
	.old_primary = "a", .new_primary = "b", .reason = "odown 3/3; a unreachable",
	.epoch = 42,
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void setup(void)
{
	char err[256], body[1024];
	struct timeval tv = clock_tv_ms(20);

	snprintf(dir, sizeof(dir), "/tmp/vigil-hooks-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(script, sizeof(script), "%s/hook.sh", dir);
	/* hook.sh STATUS ARGS...: record args and VIGIL_* env, complain, exit STATUS. */
	snprintf(body, sizeof(body),
		 "#!/bin/sh\nst=$1; shift\nfor a in \"$@\"; do echo \"arg:$a\"; done > '%s'\n"
		 "env | grep '^VIGIL_' | sort >> '%s'\n"
		 "[ \"$st\" = 0 ] || { echo 'cannot promote:'; echo 'replica lagging' >&2; }\n"
		 "exit $st\n", out_path, out_path);
	ck_assert(fs_write_atomic(script, body, strlen(body), 0755, err, sizeof(err)) == 0);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	runner = child_runner_new(base, err, sizeof(err));
	ck_assert_msg(runner != NULL, "%s", err);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	env.base = base;
	env.children = runner;
}

static void teardown(void)
{
	event_free(tick);
	child_runner_free(runner);
	event_base_free(base);
	unit_rm_tree(dir);
}

static void on_done(void *arg, bool ok, const char *error)
{
	struct outcome *o = arg;

	o->done = true;
	o->ok = ok;
	o->calls++;
	snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
}

static struct outcome run(char *const *argv, const struct hook_ctx *c, uint64_t timeout_ms)
{
	struct outcome o = { 0 };
	char err[256];
	uint64_t end = clock_mono_ms() + 10000;
	struct hook_job *job = hook_run(&env, argv, c, timeout_ms, on_done, &o, err, sizeof(err));

	ck_assert_msg(job != NULL, "%s", err);
	ck_assert(!o.done);
	while (!o.done && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_msg(o.done, "hook did not finish");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(o.calls, 1);
	return o;
}

static char *slurp(const char *path)
{
	char err[256], *data = NULL;
	size_t len;

	ck_assert_msg(fs_read_all(path, 1 << 16, &data, &len, err, sizeof(err)) == 0, "%s", err);
	return data;
}

START_TEST(expands_args_and_sets_env)
{
	char *argv[] = { script, (char *)"0", (char *)"--node={node}", (char *)"{address}",
			 (char *)"{old_primary} -> {new_primary}", (char *)"epoch={epoch}",
			 (char *)"{cluster}", (char *)"{{literal}} $HOME `id`", NULL };
	struct outcome o = run(argv, &ctx, 5000);
	char *got;

	ck_assert_msg(o.ok, "%s", o.error);
	got = slurp(out_path);
	ck_assert_str_eq(got,
		"arg:--node=b\n"
		"arg:[::1]:8082\n"
		"arg:a -> b\n"
		"arg:epoch=42\n"
		"arg:web\n"
		"arg:{literal} $HOME `id`\n"
		"VIGIL_CLUSTER=web\n"
		"VIGIL_EPOCH=42\n"
		"VIGIL_EVENT=promote\n"
		"VIGIL_NEW_PRIMARY=b\n"
		"VIGIL_NODE=b\n"
		"VIGIL_OLD_PRIMARY=a\n"
		"VIGIL_REASON=odown 3/3; a unreachable\n");
	free(got);
}
END_TEST

START_TEST(missing_context_is_empty)
{
	struct hook_ctx c = { .cluster = "web", .event = "promote", .epoch = 0 };
	char *argv[] = { script, (char *)"0", (char *)"[{old_primary}]", NULL };
	struct outcome o = run(argv, &c, 5000);
	char *got;

	ck_assert_msg(o.ok, "%s", o.error);
	got = slurp(out_path);
	ck_assert_ptr_nonnull(strstr(got, "arg:[]\n"));
	ck_assert_ptr_nonnull(strstr(got, "VIGIL_OLD_PRIMARY=\n"));
	ck_assert_ptr_nonnull(strstr(got, "VIGIL_EPOCH=0\n"));
	free(got);
}
END_TEST

START_TEST(failure_carries_status_and_output)
{
	char *argv[] = { script, (char *)"2", NULL };
	struct outcome o = run(argv, &ctx, 5000);

	ck_assert(!o.ok);
	ck_assert_str_eq(o.error, "promote hook failed: exit 2: cannot promote:; replica lagging");

	{
		char *f[] = { (char *)"/bin/false", NULL };

		o = run(f, &ctx, 5000);
		ck_assert(!o.ok);
		ck_assert_str_eq(o.error, "promote hook failed: exit 1");
	}
}
END_TEST

START_TEST(timeout_kills)
{
	char *argv[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	uint64_t start = clock_mono_ms();
	struct outcome o = run(argv, &ctx, 100);

	ck_assert(!o.ok);
	ck_assert_msg(strncmp(o.error, "promote hook failed: timed out after", 36) == 0,
		      "%s", o.error);
	ck_assert_uint_lt(clock_mono_ms() - start, 3000);
}
END_TEST

START_TEST(bad_templates_and_cancel)
{
	char *typo[] = { script, (char *)"{nod}", NULL };
	char *empty[] = { NULL };
	char *sleepy[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	struct outcome o = { 0 };
	char err[256] = "";
	struct hook_job *job;

	ck_assert_ptr_null(hook_run(&env, typo, &ctx, 1000, on_done, &o, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "promote hook: ", 14) == 0 && strstr(err, "nod"), "%s", err);
	ck_assert_ptr_null(hook_run(&env, empty, &ctx, 1000, on_done, &o, err, sizeof(err)));
	ck_assert_uint_eq(child_runner_active(runner), 0);

	job = hook_run(&env, sleepy, &ctx, 0, on_done, &o, err, sizeof(err));
	ck_assert_ptr_nonnull(job);
	ck_assert_uint_eq(child_runner_active(runner), 1);
	hook_cancel(job);
	ck_assert_uint_eq(child_runner_active(runner), 0);
	{
		uint64_t end = clock_mono_ms() + 200;

		while (clock_mono_ms() < end)
			event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert(!o.done);
	hook_cancel(NULL);
}
END_TEST

START_TEST(placeholder_list)
{
	const char *want[] = { "cluster", "node", "address", "old_primary", "new_primary", "epoch" };
	char err[256];

	ck_assert_uint_eq(hook_n_placeholders, 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_str_eq(hook_placeholders[i], want[i]);
	ck_assert_int_eq(tmpl_check("{node}@{address}#{epoch}", hook_placeholders,
				    hook_n_placeholders, err, sizeof(err)), 0);
	ck_assert_int_eq(tmpl_check("{reason}", hook_placeholders, hook_n_placeholders,
				    err, sizeof(err)), -1);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, expands_args_and_sets_env);
	tcase_add_test(tc, missing_context_is_empty);
	tcase_add_test(tc, failure_carries_status_and_output);
	tcase_add_test(tc, timeout_kills);
	tcase_add_test(tc, bad_templates_and_cancel);
	tcase_add_test(tc, placeholder_list);
	suite_add_tcase(s, tc);
	return s;
}

