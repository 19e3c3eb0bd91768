/*
 * tests/unit/test_haproxy_live.c — the haproxy controller against a real
 * haproxy 2.6 (master-worker, foreground) in front of two backends that
 * this test serves on its own loop.
 *
 * With the stats socket: an apply moves traffic with no reload (the same
 * worker, its uptime still counting), a switchover's drain ends only once
 * the request in flight to the old primary is answered, and after a
 * reload haproxy still has the state (and a changed address) from the
 * state file.  Without a socket: render, a real `haproxy -c`, a reload by
 * SIGUSR2; a render haproxy rejects leaves the previous file and traffic.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/balancer.h"
#include "actions/haproxy.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "tests/unit/haproxy_fixture.h"
#include "tests/unit/proc_fixture.h"
#include "tests/unit/unit_util.h"

#define SLOW_MS 1500

static char dir[64], sock[128], state[128], file[128];
static struct pf_loop loop;
static struct pf_backend be_a, be_b;

static struct conf_node nodes[3] = { { .name = (char *)"a" }, { .name = (char *)"b" },
				     { .name = (char *)"c" } };
static char addr_a[32], addr_b[32];
static struct conf_cluster web = { .name = (char *)"web", .nodes = nodes, .n_nodes = 2 };

static void set_node(size_t i, char *buf, int port)
{
	snprintf(buf, 32, "127.0.0.1:%d", port);
	nodes[i].address = buf;
	nodes[i].host = (char *)"127.0.0.1";
	nodes[i].port = (uint16_t)port;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vigil-hx-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(file, sizeof(file), "%s/backend.cfg", dir);
	pf_loop_init(&loop);
	pf_backend_start(&be_a, loop.base, 0, "a");
	pf_backend_start(&be_b, loop.base, 0, "b");
	set_node(0, addr_a, be_a.port);
	set_node(1, addr_b, be_b.port);
	web.n_nodes = 2;
}

static void teardown(void)
{
	th_haproxy_stop(loop.base);
	pf_backend_stop(&be_a);
	pf_backend_stop(&be_b);
	pf_loop_free(&loop);
	if (!getenv("VIGIL_KEEP_TMP"))
		unit_rm_tree(dir);
}

static struct conf_balancer live_conf(void)
{
	struct conf_balancer c = {
		.type = CONF_BALANCER_HAPROXY, .backend = (char *)"web", .socket = sock,
		.state_file = state, .standby = CONF_STANDBY_BACKUP, .timeout_ms = 5000,
	};
	return c;
}

static struct pf_outcome apply(struct balancer *b, size_t primary, const bool *out)
{
	struct balancer_roles roles = { .primary = primary, .out = out };

	return pf_apply(loop.base, b, &web, &roles, 15000);
}

static void apply_ok(struct balancer *b, size_t primary, const bool *out)
{
	struct balancer_roles roles = { .primary = primary, .out = out };

	pf_apply_ok(loop.base, b, &web, &roles);
}

/* A switchover's apply: the out nodes may finish their sessions (drain). */
static void apply_drain_ok(struct balancer *b, size_t primary, const bool *out)
{
	struct balancer_roles roles = { .primary = primary, .out = out, .drain = out };

	pf_apply_ok(loop.base, b, &web, &roles);
}

static struct pf_outcome drain(struct balancer *b, uint64_t timeout_ms)
{
	return pf_drain(loop.base, b, timeout_ms, timeout_ms + 10000);
}

static void assert_traffic(int port, const char *body)
{
	char buf[256];

	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(pf_get(loop.base, port, buf, sizeof(buf)), body);
}

/* Start haproxy with web's servers declared as given (their config addresses). */
static int start_haproxy(const char *servers)
{
	char text[1024];
	int port;

	snprintf(text, sizeof(text), "backend web\n%s", servers);
	port = th_write_config(dir, false, text);
	th_haproxy_start(loop.base, dir, NULL, port);
	return port;
}

static int start_ab(void)
{
	char servers[512];

	snprintf(servers, sizeof(servers), "    server a %s\n    server b %s backup\n",
		 addr_a, addr_b);
	return start_haproxy(servers);
}

/* The state file says what haproxy says. */
static void assert_state_file(unsigned admin_a, unsigned admin_b)
{
	char *names[] = { (char *)"a", (char *)"b" }, err[300], *text = NULL;
	struct hap_srv srv[2];
	size_t len;

	ck_assert_int_eq(fs_read_all(state, 1 << 20, &text, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(hap_parse_state(text, "web", names, 2, srv, err, sizeof(err)), 0);
	ck_assert_uint_eq(srv[0].admin, admin_a);
	ck_assert_uint_eq(srv[1].admin, admin_b);
	free(text);
}

START_TEST(apply_moves_traffic_without_reload)
{
	const bool a_out[] = { true, false };
	struct conf_balancer c = live_conf();
	struct balancer *b;
	struct pf_outcome o;
	long pid, up;
	int port;

	if (!th_have_haproxy())
		return;
	port = start_ab();
	pid = th_info(dir, "Pid");
	up = th_info(dir, "Uptime_sec");
	ck_assert_int_gt(pid, 0);
	b = pf_balancer(&loop.env, &c);
	ck_assert_str_eq(balancer_describe(b), "haproxy:web");
	apply_ok(b, 0, NULL);
	assert_traffic(port, "a");
	/* b is declared backup behind an active primary: ready, as the fallback. */
	ck_assert_int_eq(th_admin_state(dir, "b"), 0);
	assert_state_file(0, 0);

	apply_drain_ok(b, 1, a_out);
	assert_traffic(port, "b");
	/* a was serving: drain first, maint once the drain is over. */
	ck_assert_int_eq(th_admin_state(dir, "a"), (int)HAP_ADM_FDRAIN);
	assert_state_file(HAP_ADM_FDRAIN, 0);
	o = drain(b, 5000);
	ck_assert_msg(o.ok && o.error[0] == '\0', "%s", o.error);
	ck_assert_int_eq(th_admin_state(dir, "a"), (int)HAP_ADM_FMAINT);
	assert_state_file(HAP_ADM_FMAINT, 0);
	/* The same worker did it all: no reload, no restart. */
	ck_assert_int_eq(th_info(dir, "Pid"), pid);
	ck_assert_int_ge(th_info(dir, "Uptime_sec"), up);

	/* a comes back as a standby, but haproxy has it as an active server: kept out. */
	apply_ok(b, 1, NULL);
	ck_assert_int_eq(th_admin_state(dir, "a"), (int)HAP_ADM_FMAINT);
	assert_traffic(port, "b");
	balancer_free(b);

	/* With `file` too, the rendered backend follows (for a restart), never reloaded. */
	c.file = file;
	b = pf_balancer(&loop.env, &c);
	apply_ok(b, 1, a_out);
	{
		struct balancer_roles roles = { .primary = 1, .out = a_out };
		char *want = haproxy_render_backend(&c, &web, &roles), *got, err[256];
		size_t len;

		ck_assert_ptr_nonnull(want);
		ck_assert_int_eq(fs_read_all(file, 1 << 20, &got, &len, err, sizeof(err)), 0);
		ck_assert_str_eq(got, want);
		free(got);
		free(want);
	}
	ck_assert_int_eq(th_info(dir, "Pid"), pid);
	balancer_free(b);
}
END_TEST

START_TEST(drain_waits_for_the_request_in_flight)
{
	const bool a_out[] = { true, false };
	struct conf_balancer c = live_conf();
	struct pf_client first;
	struct balancer *b;
	struct pf_outcome o;
	int port;

	if (!th_have_haproxy())
		return;
	be_a.delay_ms = SLOW_MS;
	be_a.body = "slow";
	port = start_ab();
	b = pf_balancer(&loop.env, &c);
	apply_ok(b, 0, NULL);

	pf_client_start(&first, loop.base, port);
	ck_assert(unit_run_until(loop.base, &be_a.accepted, 1, 5000));
	apply_drain_ok(b, 1, a_out);
	ck_assert_msg(!first.done, "the slow answer came before the drain started");
	pf_watched = &first;
	o = drain(b, 10000);
	pf_watched = NULL;
	ck_assert_msg(o.ok && o.error[0] == '\0', "%s", o.error);
	ck_assert_msg(o.client_done, "drained before the in-flight answer arrived");
	pf_assert_answer(&first, "slow");
	ck_assert_int_eq(th_admin_state(dir, "a"), (int)HAP_ADM_FMAINT);
	assert_traffic(port, "b");
	ck_assert_int_eq(be_a.accepted, 1);
	pf_client_stop(&first);
	balancer_free(b);
}
END_TEST

START_TEST(reload_keeps_state_and_address)
{
	const bool a_out[] = { true, false };
	struct conf_balancer c = live_conf();
	struct pf_backend moved;
	struct balancer *b;
	int port;

	if (!th_have_haproxy())
		return;
	port = start_ab();
	/* a moved: vigil's node a is now served elsewhere. */
	pf_backend_start(&moved, loop.base, 0, "a-moved");
	set_node(0, addr_a, moved.port);
	b = pf_balancer(&loop.env, &c);
	apply_ok(b, 0, NULL);
	assert_traffic(port, "a-moved");
	th_haproxy_reload(loop.base, dir);
	assert_traffic(port, "a-moved");

	/* A failover's apply (no drain): the fenced node goes to maint at once. */
	apply_ok(b, 1, a_out);
	assert_traffic(port, "b");
	th_haproxy_reload(loop.base, dir);
	assert_traffic(port, "b");
	ck_assert_int_eq(th_admin_state(dir, "a"), (int)HAP_ADM_FMAINT);
	balancer_free(b);
	pf_backend_stop(&moved);
}
END_TEST

START_TEST(errors_are_clear)
{
	struct conf_balancer c = live_conf();
	struct balancer *b;
	struct pf_outcome o;
	char servers[512];

	if (!th_have_haproxy())
		return;
	/* Both active in haproxy's config: the standby must not share the traffic. */
	snprintf(servers, sizeof(servers), "    server a %s\n    server b %s\n", addr_a, addr_b);
	start_haproxy(servers);
	b = pf_balancer(&loop.env, &c);
	apply_ok(b, 0, NULL);
	ck_assert_int_eq(th_admin_state(dir, "b"), (int)HAP_ADM_FMAINT);

	web.n_nodes = 3;
	set_node(2, addr_b, be_b.port);
	o = apply(b, 0, NULL);
	ck_assert(!o.ok);
	ck_assert_str_eq(o.error, "haproxy web: backend web has no server c (its servers must "
			 "be named after the nodes)");
	web.n_nodes = 2;
	balancer_free(b);

	c.backend = (char *)"nosuch";
	b = pf_balancer(&loop.env, &c);
	o = apply(b, 0, NULL);
	ck_assert_str_eq(o.error, "haproxy nosuch: haproxy answered \"Can't find backend.\"");
	balancer_free(b);
}
END_TEST

/* ---- without a socket ---- */

START_TEST(render_check_and_reload)
{
	struct conf_balancer c = live_conf();
	struct balancer_roles to_a = { .primary = 0 };
	char cfg[128], pidtxt[32], *rendered, *got, err[256], buf[64];
	char *check[] = { (char *)HAPROXY_BIN, (char *)"-c", (char *)"-f", cfg,
			  (char *)"-f", file, NULL };
	char *reload[] = { (char *)"/bin/kill", (char *)"-USR2", pidtxt, NULL };
	struct balancer *b;
	struct pf_outcome o;
	uint64_t end;
	long pid;
	size_t len;
	int port;

	if (!th_have_haproxy())
		return;
	c.socket = NULL;
	c.state_file = NULL;
	c.file = file;
	c.check = check;
	c.reload = reload;
	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
	rendered = haproxy_render_backend(&c, &web, &to_a);
	ck_assert_ptr_nonnull(rendered);
	ck_assert_int_eq(fs_write_atomic(file, rendered, strlen(rendered), 0644, err,
					 sizeof(err)), 0);
	free(rendered);
	port = th_write_config(dir, false, "");
	snprintf(pidtxt, sizeof(pidtxt), "%ld", (long)th_haproxy_start(loop.base, dir, file, port));
	assert_traffic(port, "a");
	pid = th_info(dir, "Pid");

	b = pf_balancer(&loop.env, &c);
	apply_ok(b, 1, NULL);
	end = clock_mono_ms() + 5000;
	while (strcmp(pf_get(loop.base, port, buf, sizeof(buf)), "b") != 0 && clock_mono_ms() < end)
		usleep(20000);
	assert_traffic(port, "b");
	ck_assert_int_ne(th_info(dir, "Pid"), pid);
	balancer_free(b);

	/* haproxy rejects the option: the file stays as checked, traffic as it was. */
	ck_assert_int_eq(fs_read_all(file, 1 << 20, &rendered, &len, err, sizeof(err)), 0);
	c.server_options = (char *)"no_such_keyword";
	b = pf_balancer(&loop.env, &c);
	o = apply(b, 0, NULL);
	ck_assert(!o.ok);
	ck_assert_msg(strncmp(o.error, "haproxy check failed: exit 1: [ALERT]", 37) == 0 &&
		      strstr(o.error, "unknown keyword 'no_such_keyword'"), "%s", o.error);
	ck_assert_int_eq(fs_read_all(file, 1 << 20, &got, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(got, rendered);
	free(got);
	free(rendered);
	assert_traffic(port, "b");
	balancer_free(b);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("haproxy_live");
	TCase *live = tcase_create("socket"), *file_tc = tcase_create("no_socket");

	tcase_add_checked_fixture(live, setup, teardown);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, apply_moves_traffic_without_reload);
	tcase_add_test(live, drain_waits_for_the_request_in_flight);
	tcase_add_test(live, reload_keeps_state_and_address);
	tcase_add_test(live, errors_are_clear);
	suite_add_tcase(s, live);
	tcase_add_checked_fixture(file_tc, setup, teardown);
	tcase_set_timeout(file_tc, 60);
	tcase_add_test(file_tc, render_check_and_reload);
	suite_add_tcase(s, file_tc);
	return s;
}

