/*
 * tests/unit/test_haproxy.c — the haproxy controller without a haproxy:
 * the exact backend text, the parsers of haproxy's answers (as 2.6 prints
 * them), the state file, the Runtime API client's failures, the file job's
 * rollback, and what balancer_new refuses.  A real haproxy is in
 * test_haproxy_live.c.
 */
#include <check.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/balancer.h"
#include "actions/haproxy.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "tests/unit/proc_fixture.h"
#include "tests/unit/unit_util.h"

static struct conf_node nodes3[] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:8081", .host = (char *)"127.0.0.1",
	  .port = 8081 },
	{ .name = (char *)"b", .address = (char *)"[::1]:8082", .host = (char *)"::1", .port = 8082 },
	{ .name = (char *)"c", .address = (char *)"10.0.0.3:8083", .host = (char *)"10.0.0.3",
	  .port = 8083 },
};
static struct conf_cluster web3 = { .name = (char *)"web", .nodes = nodes3, .n_nodes = 3 };

static struct conf_balancer hconf(enum conf_standby_mode mode, const char *opts)
{
	struct conf_balancer c = {
		.type = CONF_BALANCER_HAPROXY, .backend = (char *)"web", .standby = mode,
		.server_options = (char *)opts, .timeout_ms = 5000,
	};
	return c;
}

static void assert_render(const struct conf_balancer *c, size_t primary, const bool *out,
			  const char *expect)
{
	struct balancer_roles roles = { .primary = primary, .out = out };
	char *got = haproxy_render_backend(c, &web3, &roles);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, expect);
	free(got);
}

START_TEST(render_modes)
{
	struct conf_balancer c = hconf(CONF_STANDBY_BACKUP, NULL);
	const bool a_out[] = { true, false, false };
	struct balancer_roles bad = { .primary = 0, .out = a_out }, beyond = { .primary = 3 };

	assert_render(&c, 0, NULL,
		"# Managed by vigil: do not edit. Cluster web, primary a, epoch 0.\n"
		"backend web\n"
		"    server a 127.0.0.1:8081\n"
		"    server b [::1]:8082 backup\n"
		"    server c 10.0.0.3:8083 backup\n");
	c.server_options = (char *)"check inter 1s";
	assert_render(&c, 1, a_out,
		"# Managed by vigil: do not edit. Cluster web, primary b, epoch 0.\n"
		"backend web\n"
		"    server b [::1]:8082 check inter 1s\n"
		"    server c 10.0.0.3:8083 check inter 1s backup\n");
	c.standby = CONF_STANDBY_OUT;
	assert_render(&c, 2, NULL,
		"# Managed by vigil: do not edit. Cluster web, primary c, epoch 0.\n"
		"backend web\n"
		"    server c 10.0.0.3:8083 check inter 1s\n");
	ck_assert_ptr_null(haproxy_render_backend(&c, &web3, &bad));
	ck_assert_ptr_null(haproxy_render_backend(&c, &web3, &beyond));
}
END_TEST

/* ---- answers ---- */

static const char state_answer[] =
	"1\n"
	"# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
	"srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
	"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
	"srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
	"srv_agent_port\n"
	"2 other 1 a 192.0.2.1 2 1 1 1 5 1 0 2 0 0 0 0 - 80 - 0 0 - - 0\n"
	"3 web 1 a 127.0.0.1 0 8 1 1 0 8 2 0 6 0 0 0 - 19083 - 0 0 - - 0\n"
	"3 web 2 b ::1 2 0 1 1 1 1 0 2 0 0 0 0 - 8082 - 0 0 - - 0\n"
	"3 web 3 z 127.0.0.1 2 1 1 1 1 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n"
	"\n";

static const char stat_answer[] =
	"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
	"wretr,wredis,status,weight,act,bck,chkfail,check_desc,addr\n"
	"web,a,1,0,2,0,,0,0,0,,0,,0,0,0,0,DRAIN,1,1,0,1,\"a, \"\"quoted\"\" desc\",127.0.0.1:1\n"
	"web,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,0,1,,,127.0.0.1:2\n"
	"web,BACKEND,0,0,2,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,,,\n"
	"\n";

START_TEST(parse_answers)
{
	char *names[] = { (char *)"a", (char *)"b", (char *)"c" };
	struct hap_srv srv[3];
	char err[300];

	ck_assert_int_eq(hap_parse_state(state_answer, "web", names, 3, srv, err, sizeof(err)), 0);
	ck_assert(srv[0].found && srv[1].found && !srv[2].found);
	ck_assert_str_eq(srv[0].addr, "127.0.0.1");
	ck_assert_uint_eq(srv[0].port, 19083);
	ck_assert_int_eq(srv[0].op, 0);
	ck_assert_uint_eq(srv[0].admin, HAP_ADM_FDRAIN);
	ck_assert_str_eq(srv[1].addr, "::1");
	ck_assert_uint_eq(srv[1].port, 8082);
	ck_assert_int_eq(srv[1].op, 2);
	ck_assert_uint_eq(srv[1].admin, 0);

	ck_assert_int_eq(hap_parse_stat(stat_answer, "web", names, 3, srv, err, sizeof(err)), 0);
	ck_assert(srv[0].found && srv[1].found && !srv[2].found);
	ck_assert(!srv[0].backup && srv[1].backup);
	ck_assert_int_eq(srv[0].sessions, 3);
	ck_assert_int_eq(srv[1].sessions, 0);

	/* haproxy saying no is quoted back. */
	ck_assert_int_eq(hap_parse_state("Can't find backend.\n\n", "web", names, 3, srv, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "haproxy answered \"Can't find backend.\"");
	ck_assert_int_eq(hap_parse_stat("No such proxy.\n\n", "web", names, 3, srv, err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "haproxy answered \"No such proxy.\"");
	ck_assert_int_eq(hap_parse_state("", "web", names, 3, srv, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "haproxy answered \"(empty answer)\"");
}
END_TEST

START_TEST(state_file_written_as_haproxy_reads_it)
{
	char dir[] = "/tmp/vigil-haproxy-XXXXXX", path[64], err[300], *got = NULL;
	size_t len;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	ck_assert_int_eq(hap_save_state(state_answer, path, err, sizeof(err)), 0);
	ck_assert_int_eq(fs_read_all(path, 1 << 20, &got, &len, err, sizeof(err)), 0);
	/* The CLI's closing empty line is not part of the file. */
	ck_assert_uint_eq(len, strlen(state_answer) - 1);
	ck_assert_mem_eq(got, state_answer, len);
	free(got);
	/* An error answer never replaces a good file. */
	ck_assert_int_eq(hap_save_state("Permission denied\n\n", path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not written") && strstr(err, "Permission denied"), "%s", err);
	ck_assert_int_eq(fs_read_all(path, 1 << 20, &got, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, strlen(state_answer) - 1);
	free(got);
	unit_rm_tree(dir);
}
END_TEST

/* ---- the Runtime API client ---- */

static struct event_base *base;

struct reply {
	bool done;
	int calls;
	char answer[256];
	char error[512];
};

static void on_reply(void *arg, const char *answer, const char *error)
{
	struct reply *r = arg;

	ck_assert_msg(!pf_in_call, "callback ran inside hap_cli_run");
	r->done = true;
	r->calls++;
	snprintf(r->answer, sizeof(r->answer), "%s", answer ? answer : "");
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
}

static struct reply run_cmd(const char *socket, const char *cmd, uint64_t timeout_ms)
{
	struct hap_addr addr;
	struct reply r = { 0 };
	char err[256];
	struct hap_cli *c;

	ck_assert_msg(hap_addr_parse(socket, &addr, err, sizeof(err)) == 0, "%s", err);
	pf_in_call = true;
	c = hap_cli_run(base, &addr, cmd, timeout_ms, on_reply, &r);
	pf_in_call = false;
	ck_assert_ptr_nonnull(c);
	pf_run(base, &r.done, timeout_ms + 3000);
	ck_assert(r.done);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(r.calls, 1);
	return r;
}

START_TEST(cli_failures)
{
	char dir[] = "/tmp/vigil-haproxy-XXXXXX", path[96], tcp[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hap_addr addr;
	struct reply r;
	char err[256];
	uint64_t start;
	int fd;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	r = run_cmd(path, "show info", 1000);
	ck_assert_msg(strstr(r.error, "missing.sock: show info: connect: No such file"), "%s",
		      r.error);

	snprintf(tcp, sizeof(tcp), "127.0.0.1:%d", pf_free_port());
	r = run_cmd(tcp, "show servers state web", 1000);
	ck_assert_msg(strstr(r.error, "show servers state web") &&
		      strstr(r.error, "Connection refused"), "%s", r.error);

	/* Listening, never answering: the deadline ends it. */
	snprintf(path, sizeof(path), "%s/mute.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	start = clock_mono_ms();
	r = run_cmd(path, "show stat web 4 -1", 200);
	ck_assert_msg(strstr(r.error, "no answer within 200 ms"), "%s", r.error);
	ck_assert_uint_ge(clock_mono_ms() - start, 150);
	close(fd);

	ck_assert_int_eq(hap_addr_parse("localhost:9999", &addr, err, sizeof(err)), -1);
	ck_assert_int_eq(hap_addr_parse("[::1]:9999", &addr, err, sizeof(err)), 0);
	ck_assert_int_eq(addr.sa.ss_family, AF_INET6);
	unit_rm_tree(dir);
	event_base_free(base);
}
END_TEST

/* ---- the file job (no socket) and what balancer_new refuses ---- */

static char dir[64], file[128], calls[128], script[128];
static struct pf_loop loop;

static void setup(void)
{
	char body[512];

	snprintf(dir, sizeof(dir), "/tmp/vigil-haproxy-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/backend.cfg", dir);
	snprintf(calls, sizeof(calls), "%s/calls.log", dir);
	snprintf(script, sizeof(script), "%s/rec.sh", dir);
	/* rec.sh TAG STATUS: note TAG, say what haproxy -c says, exit STATUS. */
	snprintf(body, sizeof(body), "#!/bin/sh\necho \"$1\" >> '%s'\n"
		 "echo \"[NOTICE] haproxy version is 2.6\"\n"
		 "echo \"[ALERT] $1: bad server line\" >&2\nexit \"$2\"\n", calls);
	pf_write(script, body, 0755);
	pf_loop_init(&loop);
}

static void teardown(void)
{
	pf_loop_free(&loop);
	unit_rm_tree(dir);
}

static struct pf_outcome apply(const struct conf_balancer *c, size_t primary)
{
	struct balancer_roles roles = { .primary = primary };
	struct balancer *b = pf_balancer(&loop.env, c);
	struct pf_outcome o;

	ck_assert_str_eq(balancer_describe(b), "haproxy:web");
	o = pf_apply(loop.base, b, &web3, &roles, 10000);
	balancer_free(b);
	return o;
}

static const char previous[] = "# by hand\r\nbackend web\n    server a 1.1.1.1:1\0\xff\n";

START_TEST(file_job_checks_reloads_and_rolls_back)
{
	char *ok_check[] = { script, (char *)"check", (char *)"0", NULL };
	char *ok_reload[] = { script, (char *)"reload", (char *)"0", NULL };
	char *bad[] = { script, (char *)"check", (char *)"1", NULL };
	char *bad_reload[] = { script, (char *)"reload", (char *)"2", NULL };
	struct conf_balancer c = hconf(CONF_STANDBY_OUT, NULL);
	struct pf_outcome o;
	char *got, err[256];

	c.file = file;
	c.check = ok_check;
	c.reload = ok_reload;
	o = apply(&c, 1);
	ck_assert_msg(o.ok, "%s", o.error);
	got = pf_slurp(file, NULL);
	ck_assert_str_eq(got, "# Managed by vigil: do not edit. Cluster web, primary b, epoch 0.\n"
			 "backend web\n    server b [::1]:8082\n");
	free(got);
	got = pf_slurp(calls, NULL);
	ck_assert_str_eq(got, "check\nreload\n");
	free(got);

	/* A rejected render: the previous bytes come back, no reload. */
	ck_assert_int_eq(fs_write_atomic(file, previous, sizeof(previous) - 1, 0644, err,
					 sizeof(err)), 0);
	c.check = bad;
	o = apply(&c, 0);
	ck_assert(!o.ok);
	/* The excerpt starts at haproxy's alert, past its notices. */
	ck_assert_str_eq(o.error, "haproxy check failed: exit 1: [ALERT] check: bad server line");
	got = pf_slurp(file, NULL);
	ck_assert_mem_eq(got, previous, sizeof(previous) - 1);
	free(got);
	got = pf_slurp(calls, NULL);
	ck_assert_str_eq(got, "check\nreload\ncheck\n");
	free(got);

	c.check = ok_check;
	c.reload = bad_reload;
	o = apply(&c, 0);
	ck_assert_msg(strncmp(o.error, "haproxy reload failed: exit 2", 29) == 0, "%s", o.error);
	got = pf_slurp(file, NULL);
	ck_assert_mem_eq(got, previous, sizeof(previous) - 1);
	free(got);
}
END_TEST

/* Socket mode's use of the file job: checked, never reloaded; a cancel puts the old file back. */
START_TEST(file_job_without_reload_and_cancelled)
{
	char *check[] = { script, (char *)"check", (char *)"0", NULL };
	char *reload[] = { script, (char *)"reload", (char *)"0", NULL };
	char *slow[] = { (char *)"/bin/sleep", (char *)"5", NULL };
	struct conf_balancer c = hconf(CONF_STANDBY_OUT, NULL);
	struct pf_outcome o = { 0 };
	struct render_job *j;
	char err[256], *got;

	c.file = file;
	c.check = check;
	c.reload = reload;
	j = hap_render_new(&loop.env, &c, err, sizeof(err));
	ck_assert_msg(j != NULL, "%s", err);
	ck_assert_int_eq(render_job_start(j, "web", "backend web\n", NULL, false, pf_on_done, &o,
					  err, sizeof(err)), 0);
	pf_run(loop.base, &o.done, 5000);
	ck_assert_msg(o.done && o.ok, "%s", o.error);
	got = pf_slurp(calls, NULL);
	ck_assert_str_eq(got, "check\n");
	free(got);
	render_job_free(j);

	c.check = slow;
	j = hap_render_new(&loop.env, &c, err, sizeof(err));
	ck_assert_msg(j != NULL, "%s", err);
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(render_job_start(j, "web", "backend next\n", NULL, false, pf_on_done, &o,
					  err, sizeof(err)), 0);
	ck_assert_int_eq(render_job_start(j, "web", "backend next\n", NULL, false, pf_on_done, &o,
					  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "haproxy web: a file job is already running");
	/* Cancelled mid-check: the child is gone, the file as it was, no callback. */
	render_job_cancel(j);
	ck_assert_uint_eq(child_runner_active(loop.runner), 0);
	got = pf_slurp(file, NULL);
	ck_assert_str_eq(got, "backend web\n");
	free(got);
	unit_run_until(loop.base, NULL, 0, 100);
	ck_assert(!o.done);
	render_job_free(j);
}
END_TEST

START_TEST(drain_without_socket_waits_whole_timeout)
{
	char *t[] = { (char *)"/bin/true", NULL };
	struct conf_balancer c = hconf(CONF_STANDBY_BACKUP, NULL);
	struct balancer *b;
	struct pf_outcome o;
	uint64_t start = clock_mono_ms();

	c.file = file;
	c.check = t;
	c.reload = t;
	b = pf_balancer(&loop.env, &c);
	o = pf_drain(loop.base, b, 200, 5000);
	ck_assert(o.ok);
	ck_assert_uint_ge(o.at - start, 150);
	ck_assert_str_eq(o.error, "drain waited the whole 200 ms: no haproxy stats socket "
			 "configured, so in-flight sessions cannot be seen");
	balancer_free(b);
}
END_TEST

START_TEST(new_refuses_incomplete_conf)
{
	char *t[] = { (char *)"/bin/true", NULL };
	struct conf_balancer c = hconf(CONF_STANDBY_BACKUP, NULL);
	char err[256];

	c.backend = NULL;
	c.socket = (char *)"/run/haproxy.sock";
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "backend is required"), "%s", err);
	c = hconf(CONF_STANDBY_BACKUP, NULL);
	c.file = file;
	c.check = t;
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "without socket, file, check and reload are required"), "%s",
		      err);
	c.reload = t;
	c.state_file = file;
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "state_file needs socket"), "%s", err);
	c = hconf(CONF_STANDBY_BACKUP, NULL);
	c.socket = (char *)"haproxy.example:9999";
	ck_assert_ptr_null(balancer_new(&loop.env, &c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "socket haproxy.example:9999"), "%s", err);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("haproxy");
	TCase *pure = tcase_create("pure"), *cli = tcase_create("cli"), *job = tcase_create("job");

	tcase_add_test(pure, render_modes);
	tcase_add_test(pure, parse_answers);
	tcase_add_test(pure, state_file_written_as_haproxy_reads_it);
	suite_add_tcase(s, pure);
	tcase_set_timeout(cli, 20);
	tcase_add_test(cli, cli_failures);
	suite_add_tcase(s, cli);
	tcase_add_checked_fixture(job, setup, teardown);
	tcase_set_timeout(job, 30);
	tcase_add_test(job, file_job_checks_reloads_and_rolls_back);
	tcase_add_test(job, file_job_without_reload_and_cancelled);
	tcase_add_test(job, drain_without_socket_waits_whole_timeout);
	tcase_add_test(job, new_refuses_incomplete_conf);
	suite_add_tcase(s, job);
	return s;
}

