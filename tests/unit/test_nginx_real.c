/*
 * tests/unit/test_nginx_real.c — the nginx controller against a real
 * nginx (/usr/sbin/nginx; skipped without it).  One master with one
 * worker proxies to two backends this test serves on its own loop: the
 * drain after a reroute must end only once the request in flight to the
 * slow one has been answered, and that request must succeed.  And a real
 * `nginx -t` rejecting a render leaves the previous file in place.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/balancer.h"
#include "actions/nginx.h"
#include "common/clock.h"
#include "tests/unit/proc_fixture.h"
#include "tests/unit/unit_util.h"

#define NGINX_BIN "/usr/sbin/nginx"
#define SLOW_MS 1500

static char dir[256], file[320], pidf[320], conf_path[320], elog[320];
static struct pf_loop loop;

static struct conf_node nodes[2] = {
	{ .name = (char *)"a" }, { .name = (char *)"b" },
};
static char addr_a[64], addr_b[64];
static struct conf_cluster web = { .name = (char *)"web", .nodes = nodes, .n_nodes = 2 };

static char *nginx_run[] = { (char *)NGINX_BIN, (char *)"-p", dir, (char *)"-e", elog,
			     (char *)"-c", conf_path, NULL };
static char *nginx_check[] = { (char *)NGINX_BIN, (char *)"-t", (char *)"-q", (char *)"-p", dir,
			       (char *)"-e", elog, (char *)"-c", conf_path, NULL };
static char *nginx_reload[] = { (char *)NGINX_BIN, (char *)"-p", dir, (char *)"-e", elog,
				(char *)"-c", conf_path, (char *)"-s", (char *)"reload", NULL };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vigil-ngx-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* nginx workers may run as another user. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/upstream.conf", dir);
	snprintf(pidf, sizeof(pidf), "%s/nginx.pid", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/nginx.conf", dir);
	snprintf(elog, sizeof(elog), "%s/error.log", dir);
	pf_loop_init(&loop);
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:1");
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:2");
	nodes[0].address = addr_a;
	nodes[1].address = addr_b;
}

static void teardown(void)
{
	pf_stop_all(loop.base);
	pf_loop_free(&loop);
	unit_rm_tree(dir);
}

static bool have_nginx(void)
{
	if (access(NGINX_BIN, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: %s not found\n", NGINX_BIN);
	return false;
}

static struct conf_balancer nginx_conf(char **reload, const char *pid_file)
{
	struct conf_balancer c = {
		.type = CONF_BALANCER_NGINX, .upstream = (char *)"web_backend",
		.file = file, .check = nginx_check, .reload = reload, .timeout_ms = 5000,
		.standby = CONF_STANDBY_BACKUP, .pid_file = (char *)pid_file,
	};
	return c;
}

/* nginx.conf: one worker, temp paths in dir, the upstream file, a proxy on a free port. */
static int write_nginx_conf(void)
{
	char text[4096];
	int port = pf_free_port();

	snprintf(text, sizeof(text),
		 "worker_processes 1;\ndaemon off;\nmaster_process on;\n"
		 "pid %s;\nerror_log %s;\nevents { worker_connections 64; }\nhttp {\n"
		 "    access_log off;\n    client_body_temp_path %s/body;\n"
		 "    proxy_temp_path %s/proxy;\n    fastcgi_temp_path %s/fastcgi;\n"
		 "    uwsgi_temp_path %s/uwsgi;\n    scgi_temp_path %s/scgi;\n"
		 "    include %s;\n"
		 "    server { listen 127.0.0.1:%d; location / {\n"
		 "        proxy_pass http://web_backend; proxy_read_timeout 10s; } }\n"
		 "}\n", pidf, elog, dir, dir, dir, dir, dir, file, port);
	pf_write(conf_path, text, 0644);
	return port;
}

/* Write the upstream file for roles, start nginx, wait for its pid file and port.  The port. */
static int nginx_serve(const struct conf_balancer *c, const struct balancer_roles *roles)
{
	char *text = nginx_render_upstream(c, &web, roles);
	int port;

	ck_assert_ptr_nonnull(text);
	pf_write(file, text, 0644);
	free(text);
	port = write_nginx_conf();
	pf_wait_port(loop.base, pf_spawn(nginx_run, NULL), port, pidf, "nginx");
	return port;
}

START_TEST(drain_waits_for_in_flight)
{
	struct conf_balancer c = nginx_conf(nginx_reload, pidf);
	const bool a_out[] = { true, false };
	struct balancer_roles to_a = { .primary = 0 }, to_b = { .primary = 1, .out = a_out };
	struct pf_backend slow, fast;
	struct pf_client first, second;
	struct balancer *b;
	struct pf_outcome o;
	int port;
	uint64_t start;

	if (!have_nginx())
		return;
	pf_backend_start(&slow, loop.base, SLOW_MS, "slow");
	pf_backend_start(&fast, loop.base, 0, "fast");
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", slow.port);
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", fast.port);
	port = nginx_serve(&c, &to_a);
	b = pf_balancer(&loop.env, &c);

	/* A request is in flight at a (which answers after SLOW_MS) when a is taken out. */
	pf_client_start(&first, loop.base, port);
	ck_assert(unit_run_until(loop.base, &slow.accepted, 1, 5000));
	pf_apply_ok(loop.base, b, &web, &to_b);
	ck_assert_msg(!first.done, "the slow answer came before the drain even started");
	pf_watched = &first;
	o = pf_drain(loop.base, b, 10000, 15000);
	pf_watched = NULL;
	ck_assert_msg(o.ok && o.error[0] == '\0', "%s", o.error);
	/* When the drain says drained, the whole answer is here: no request lost. */
	ck_assert_msg(o.client_done, "drained before the in-flight answer arrived");
	pf_assert_answer(&first, "slow");
	ck_assert_int_eq(slow.answered, 1);

	/* Only the new routing is left: b answers. */
	pf_client_start(&second, loop.base, port);
	pf_run(loop.base, &second.done, 5000);
	pf_assert_answer(&second, "fast");
	ck_assert_int_eq(slow.accepted, 1);

	/* Nothing in flight: the next drain ends long before its timeout. */
	pf_apply_ok(loop.base, b, &web, &to_b);
	start = clock_mono_ms();
	o = pf_drain(loop.base, b, 10000, 15000);
	ck_assert_msg(o.ok && o.error[0] == '\0', "%s", o.error);
	ck_assert_uint_lt(o.at - start, 10000);

	balancer_free(b);
	pf_client_stop(&first);
	pf_client_stop(&second);
	pf_stop_all(loop.base);
	pf_backend_stop(&slow);
	pf_backend_stop(&fast);
}
END_TEST

START_TEST(check_rejects_and_keeps_previous)
{
	char *reload_true[] = { (char *)"/bin/true", NULL };
	struct conf_balancer c = nginx_conf(reload_true, NULL);
	struct balancer_roles to_a = { .primary = 0 }, to_b = { .primary = 1 };
	struct balancer *b;
	struct pf_outcome o;
	char *want, *got;

	if (!have_nginx())
		return;
	write_nginx_conf();
	b = pf_balancer(&loop.env, &c);
	pf_apply_ok(loop.base, b, &web, &to_a);
	want = nginx_render_upstream(&c, &web, &to_a);
	ck_assert_ptr_nonnull(want);
	balancer_free(b);

	/* nginx rejects this option: the checked file from before must stay. */
	c.server_options = (char *)"max_fails=abc";
	b = pf_balancer(&loop.env, &c);
	o = pf_apply(loop.base, b, &web, &to_b, 10000);
	ck_assert(!o.ok);
	ck_assert_msg(strncmp(o.error, "nginx check failed: exit 1: ", 28) == 0, "%s", o.error);
	ck_assert_msg(strstr(o.error, "max_fails=abc"), "%s", o.error);
	got = pf_slurp(file, NULL);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	balancer_free(b);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("nginx_real");
	TCase *tc = tcase_create("real_nginx");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, drain_waits_for_in_flight);
	tcase_add_test(tc, check_rejects_and_keeps_previous);
	suite_add_tcase(s, tc);
	return s;
}

