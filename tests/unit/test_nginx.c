/*
 * tests/unit/test_nginx.c — the nginx controller: the exact upstream text
 * (with the nodes the roles leave out), and the apply job's promise that a
 * failed check or reload leaves the previous file byte for byte and never
 * reloads an unchecked file.
 * Commands are /bin/true, /bin/false and a recording script; the checks
 * against a real nginx are in test_nginx_real.c.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/balancer.h"
#include "actions/nginx.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "tests/unit/proc_fixture.h"
#include "tests/unit/unit_util.h"

static struct conf_node nodes4[] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:8081", .port = 8081 },
	{ .name = (char *)"b", .address = (char *)"127.0.0.1:8082", .port = 8082 },
};
static struct conf_node nodes6[] = {
	{ .name = (char *)"db1", .address = (char *)"[::1]:5432", .port = 5432 },
	{ .name = (char *)"db2", .address = (char *)"[2001:db8::2]:5432", .port = 5432 },
	{ .name = (char *)"db3", .address = (char *)"10.0.0.3:5432", .port = 5432 },
};
static struct conf_node nodes3[] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:8081", .port = 8081 },
	{ .name = (char *)"b", .address = (char *)"127.0.0.1:8082", .port = 8082 },
	{ .name = (char *)"c", .address = (char *)"127.0.0.1:8083", .port = 8083 },
};
static struct conf_cluster web = { .name = (char *)"web", .nodes = nodes4, .n_nodes = 2 };
static struct conf_cluster db = { .name = (char *)"db", .nodes = nodes6, .n_nodes = 3 };
static struct conf_cluster web3 = { .name = (char *)"web3", .nodes = nodes3, .n_nodes = 3 };
/* a of web3 is out (fenced or being drained). */
static const bool a_out[] = { true, false, false };

static struct conf_balancer render_conf(enum conf_standby_mode mode, const char *opts)
{
	struct conf_balancer c = {
		.type = CONF_BALANCER_NGINX, .upstream = (char *)"web_backend",
		.standby = mode, .server_options = (char *)opts,
	};
	return c;
}

static void assert_render_out(const struct conf_balancer *c, const struct conf_cluster *cl,
			      size_t primary, const bool *out, const char *expect)
{
	struct balancer_roles roles = { .primary = primary, .out = out };
	char *got = nginx_render_upstream(c, cl, &roles);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, expect);
	free(got);
}

static void assert_render(const struct conf_balancer *c, const struct conf_cluster *cl,
			  size_t primary, const char *expect)
{
	assert_render_out(c, cl, primary, NULL, expect);
}

START_TEST(render_backup)
{
	struct conf_balancer c = render_conf(CONF_STANDBY_BACKUP, NULL);

	assert_render(&c, &web, 0,
		"# Managed by vigil: do not edit. Cluster web, primary a, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8081;          # a primary\n"
		"    server 127.0.0.1:8082 backup;   # b standby\n"
		"}\n");
}
END_TEST

START_TEST(render_out_and_second_primary)
{
	struct conf_balancer c = render_conf(CONF_STANDBY_OUT, NULL);

	assert_render(&c, &web, 1,
		"# Managed by vigil: do not edit. Cluster web, primary b, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8082;          # b primary\n"
		"}\n");
	c.standby = CONF_STANDBY_BACKUP;
	assert_render(&c, &web, 1,
		"# Managed by vigil: do not edit. Cluster web, primary b, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8081 backup;   # a standby\n"
		"    server 127.0.0.1:8082;          # b primary\n"
		"}\n");
}
END_TEST

START_TEST(render_ipv6_and_options)
{
	struct conf_balancer c = render_conf(CONF_STANDBY_BACKUP, "max_fails=0 weight=5");

	c.upstream = (char *)"pg";
	assert_render(&c, &db, 1,
		"# Managed by vigil: do not edit. Cluster db, primary db2, epoch 0.\n"
		"upstream pg {\n"
		"    server [::1]:5432 max_fails=0 weight=5 backup; # db1 standby\n"
		"    server [2001:db8::2]:5432 max_fails=0 weight=5; # db2 primary\n"
		"    server 10.0.0.3:5432 max_fails=0 weight=5 backup; # db3 standby\n"
		"}\n");
	c.server_options = NULL;
	c.standby = CONF_STANDBY_OUT;
	assert_render(&c, &db, 0,
		"# Managed by vigil: do not edit. Cluster db, primary db1, epoch 0.\n"
		"upstream pg {\n"
		"    server [::1]:5432;              # db1 primary\n"
		"}\n");
	{
		struct balancer_roles bad = { .primary = 3 };

		ck_assert_ptr_null(nginx_render_upstream(&c, &db, &bad));
	}
}
END_TEST

START_TEST(render_leaves_out_nodes)
{
	struct conf_balancer c = render_conf(CONF_STANDBY_BACKUP, NULL);
	const bool none_out[] = { false, false, false };
	const bool b_out[] = { false, true, false };

	assert_render_out(&c, &web3, 1, a_out,
		"# Managed by vigil: do not edit. Cluster web3, primary b, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8082;          # b primary\n"
		"    server 127.0.0.1:8083 backup;   # c standby\n"
		"}\n");
	/* All-false flags are the same as none. */
	assert_render_out(&c, &web3, 1, none_out,
		"# Managed by vigil: do not edit. Cluster web3, primary b, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8081 backup;   # a standby\n"
		"    server 127.0.0.1:8082;          # b primary\n"
		"    server 127.0.0.1:8083 backup;   # c standby\n"
		"}\n");
	c.standby = CONF_STANDBY_OUT;
	assert_render_out(&c, &web3, 1, a_out,
		"# Managed by vigil: do not edit. Cluster web3, primary b, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8082;          # b primary\n"
		"}\n");
	/* A primary that is out is a contradiction, not a file. */
	{
		struct balancer_roles bad = { .primary = 1, .out = b_out };

		ck_assert_ptr_null(nginx_render_upstream(&c, &web3, &bad));
	}
}
END_TEST

/* ---- the apply job ---- */

static char dir[256], file[320], calls[320], script[320];
static struct pf_loop loop;

static void setup(void)
{
	char body[1024];

	snprintf(dir, sizeof(dir), "/tmp/vigil-nginx-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/upstream.conf", dir);
	snprintf(calls, sizeof(calls), "%s/calls.log", dir);
	snprintf(script, sizeof(script), "%s/rec.sh", dir);
	/* rec.sh TAG STATUS: note TAG, say something on both streams, exit STATUS. */
	snprintf(body, sizeof(body),
		 "#!/bin/sh\necho \"$1\" >> '%s'\n"
		 "echo \"$1: first line of trouble\"\necho \"$1: second line\" >&2\n"
		 "exit \"$2\"\n", calls);
	pf_write(script, body, 0755);
	pf_loop_init(&loop);
}

static void teardown(void)
{
	pf_loop_free(&loop);
	unit_rm_tree(dir);
}

static struct conf_balancer job_conf(char **check, char **reload)
{
	struct conf_balancer c = render_conf(CONF_STANDBY_BACKUP, NULL);

	c.file = file;
	c.check = check;
	c.reload = reload;
	c.timeout_ms = 5000;
	return c;
}

/* Apply roles for cl through a fresh balancer and wait for the outcome. */
static struct pf_outcome apply_roles(const struct conf_balancer *c,
				     const struct conf_cluster *cl,
				     const struct balancer_roles *roles)
{
	struct balancer *b = pf_balancer(&loop.env, c);
	struct pf_outcome o;

	ck_assert_str_eq(balancer_describe(b), "nginx:web_backend");
	o = pf_apply(loop.base, b, cl, roles, 10000);
	balancer_free(b);
	return o;
}

static struct pf_outcome apply(const struct conf_balancer *c, size_t primary)
{
	struct balancer_roles roles = { .primary = primary };

	return apply_roles(c, &web, &roles);
}

static void assert_file(const char *expect, size_t len)
{
	size_t n;
	char *got = pf_slurp(file, &n);

	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(got, expect, len);
	free(got);
}

static void assert_calls(const char *expect)
{
	char *got = pf_slurp(calls, NULL);

	ck_assert_str_eq(got, expect);
	free(got);
}

static const char rendered_a[] =
	"# Managed by vigil: do not edit. Cluster web, primary a, epoch 0.\n"
	"upstream web_backend {\n"
	"    server 127.0.0.1:8081;          # a primary\n"
	"    server 127.0.0.1:8082 backup;   # b standby\n"
	"}\n";
static const char rendered_b[] =
	"# Managed by vigil: do not edit. Cluster web, primary b, epoch 0.\n"
	"upstream web_backend {\n"
	"    server 127.0.0.1:8081 backup;   # a standby\n"
	"    server 127.0.0.1:8082;          # b primary\n"
	"}\n";
/* Previous content with bytes a text round trip could lose. */
static const char previous[] = "# hand-made\r\nupstream web_backend { server x:1; }\0\xff\n";
#define PREVIOUS_LEN (sizeof(previous) - 1)

static void write_previous(void)
{
	char err[256];

	ck_assert(fs_write_atomic(file, previous, PREVIOUS_LEN, 0644, err, sizeof(err)) == 0);
}

START_TEST(apply_true_true)
{
	char *check[] = { (char *)"/bin/true", NULL }, *reload[] = { (char *)"true", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;
	struct stat st;

	write_previous();
	o = apply(&c, 1);
	ck_assert_msg(o.ok, "%s", o.error);
	assert_file(rendered_b, strlen(rendered_b));
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
}
END_TEST

START_TEST(apply_success_runs_reload_once)
{
	char *check[] = { script, (char *)"check", (char *)"0", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;

	o = apply(&c, 0);
	ck_assert_msg(o.ok, "%s", o.error);
	assert_file(rendered_a, strlen(rendered_a));
	assert_calls("check\nreload\n");
}
END_TEST

START_TEST(apply_leaves_out_nodes)
{
	char *check[] = { script, (char *)"check", (char *)"0", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct balancer_roles roles = { .primary = 2, .out = a_out };
	static const char expect[] =
		"# Managed by vigil: do not edit. Cluster web3, primary c, epoch 0.\n"
		"upstream web_backend {\n"
		"    server 127.0.0.1:8082 backup;   # b standby\n"
		"    server 127.0.0.1:8083;          # c primary\n"
		"}\n";
	struct pf_outcome o;

	write_previous();
	o = apply_roles(&c, &web3, &roles);
	ck_assert_msg(o.ok, "%s", o.error);
	assert_file(expect, strlen(expect));
	assert_calls("check\nreload\n");
}
END_TEST

START_TEST(check_false_keeps_previous)
{
	char *check[] = { (char *)"/bin/false", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;

	write_previous();
	o = apply(&c, 1);
	ck_assert(!o.ok);
	ck_assert_str_eq(o.error, "nginx check failed: exit 1");
	assert_file(previous, PREVIOUS_LEN);
	assert_calls("");
}
END_TEST

START_TEST(check_failure_reports_output)
{
	char *check[] = { script, (char *)"check", (char *)"1", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;

	write_previous();
	o = apply(&c, 0);
	ck_assert(!o.ok);
	ck_assert_str_eq(o.error, "nginx check failed: exit 1: "
			 "check: first line of trouble; check: second line");
	assert_file(previous, PREVIOUS_LEN);
	assert_calls("check\n");
	ck_assert_int_eq(access(file, F_OK), 0);
}
END_TEST

START_TEST(check_failure_without_previous_removes_file)
{
	char *check[] = { script, (char *)"check", (char *)"1", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;

	o = apply(&c, 0);
	ck_assert(!o.ok);
	ck_assert_int_eq(access(file, F_OK), -1);
	assert_calls("check\n");
}
END_TEST

START_TEST(reload_failure_restores_previous)
{
	char *check[] = { script, (char *)"check", (char *)"0", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"3", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o;

	write_previous();
	o = apply(&c, 1);
	ck_assert(!o.ok);
	ck_assert_msg(strncmp(o.error, "nginx reload failed: exit 3: reload: first", 42) == 0,
		      "%s", o.error);
	assert_file(previous, PREVIOUS_LEN);
	assert_calls("check\nreload\n");
}
END_TEST

START_TEST(check_timeout_and_missing_command)
{
	char *sleepy[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	char *missing[] = { (char *)"/nonexistent/nginx", (char *)"-t", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(sleepy, reload);
	struct pf_outcome o;
	uint64_t start = clock_mono_ms();

	write_previous();
	c.timeout_ms = 150;
	o = apply(&c, 1);
	ck_assert(!o.ok);
	ck_assert_msg(strncmp(o.error, "nginx check failed: timed out after", 35) == 0,
		      "%s", o.error);
	ck_assert_uint_lt(clock_mono_ms() - start, 3000);
	assert_file(previous, PREVIOUS_LEN);

	c.check = missing;
	o = apply(&c, 1);
	ck_assert(!o.ok);
	ck_assert_msg(strstr(o.error, "exit 127") && strstr(o.error, "/nonexistent/nginx"),
		      "%s", o.error);
	assert_file(previous, PREVIOUS_LEN);
	assert_calls("");
}
END_TEST

START_TEST(busy_and_cancel_restore)
{
	char *check[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o = { 0 }, o2 = { 0 };
	struct balancer_roles to_b = { .primary = 1 }, to_a = { .primary = 0 };
	char err[256];
	struct balancer *b = balancer_new(&loop.env, &c, err, sizeof(err));

	ck_assert_ptr_nonnull(b);
	write_previous();
	ck_assert_int_eq(balancer_apply(b, &web, &to_b, pf_on_done, &o, err, sizeof(err)), 0);
	assert_file(rendered_b, strlen(rendered_b));
	ck_assert_int_eq(balancer_apply(b, &web, &to_a, pf_on_done, &o2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "busy"));
	ck_assert_uint_eq(child_runner_active(loop.runner), 1);
	/* Shutdown mid-check: the child dies, the old file comes back, no callback. */
	balancer_free(b);
	ck_assert_uint_eq(child_runner_active(loop.runner), 0);
	assert_file(previous, PREVIOUS_LEN);
	event_base_loop(loop.base, EVLOOP_NONBLOCK);
	ck_assert(!o.done && !o2.done);
	assert_calls("");
}
END_TEST

START_TEST(spawn_error_is_deferred_and_rolled_back)
{
	char *check[] = { (char *)"/bin/true", NULL }, *reload[] = { (char *)"/bin/true", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct rlimit rl, saved;
	int lowest = dup(0);

	/* Leave room for exactly one new fd: enough for file I/O, not for a pipe. */
	ck_assert_int_ge(lowest, 0);
	close(lowest);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	saved = rl;
	rl.rlim_cur = (rlim_t)lowest + 1;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	write_previous();
	{
		struct pf_outcome o = apply(&c, 0);

		ck_assert(!o.ok);
		ck_assert_msg(strstr(o.error, "nginx check failed: cannot start /bin/true"),
			      "%s", o.error);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_file(previous, PREVIOUS_LEN);
}
END_TEST

START_TEST(balancer_rejects_bad_input)
{
	char *check[] = { (char *)"/bin/true", NULL }, *reload[] = { (char *)"/bin/true", NULL };
	struct conf_balancer c = job_conf(check, reload);
	struct pf_outcome o = { 0 };
	struct balancer_roles beyond = { .primary = 2 }, fenced = { .primary = 0, .out = a_out };
	char err[256] = "";
	struct balancer *b;

	c.type = (enum conf_balancer_type)7;
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown type"));
	c = job_conf(check, NULL);
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "reload"));

	c = job_conf(check, reload);
	b = balancer_new(&loop.env, &c, err, sizeof(err));
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(balancer_apply(b, &web, &beyond, pf_on_done, &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "out of range"));
	ck_assert(!balancer_busy(b));
	ck_assert_int_eq(balancer_apply(b, &web3, &fenced, pf_on_done, &o, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "primary a is marked out"), "%s", err);
	ck_assert(!balancer_busy(b));
	ck_assert_int_eq(balancer_apply(b, &web, NULL, pf_on_done, &o, err, sizeof(err)), -1);
	ck_assert(!balancer_busy(b));
	ck_assert_int_eq(access(file, F_OK), -1);
	balancer_free(b);
	balancer_free(NULL);
	ck_assert(!o.done);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("nginx");
	TCase *render = tcase_create("render"), *job = tcase_create("apply");

	tcase_add_test(render, render_backup);
	tcase_add_test(render, render_out_and_second_primary);
	tcase_add_test(render, render_ipv6_and_options);
	tcase_add_test(render, render_leaves_out_nodes);
	suite_add_tcase(s, render);

	tcase_add_checked_fixture(job, setup, teardown);
	tcase_set_timeout(job, 30);
	tcase_add_test(job, apply_true_true);
	tcase_add_test(job, apply_success_runs_reload_once);
	tcase_add_test(job, apply_leaves_out_nodes);
	tcase_add_test(job, check_false_keeps_previous);
	tcase_add_test(job, check_failure_reports_output);
	tcase_add_test(job, check_failure_without_previous_removes_file);
	tcase_add_test(job, reload_failure_restores_previous);
	tcase_add_test(job, check_timeout_and_missing_command);
	tcase_add_test(job, busy_and_cancel_restore);
	tcase_add_test(job, spawn_error_is_deferred_and_rolled_back);
	tcase_add_test(job, balancer_rejects_bad_input);
	suite_add_tcase(s, job);
	return s;
}

