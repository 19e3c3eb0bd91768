/*
 * tests/unit/test_nginx_drain.c — balancer_drain, and the nginx controller
 * against a real nginx.
 *
 * Without nginx, the test process plays the nginx master (its pid in the
 * pid file, a `sleep` child as the old worker), so the drain's /proc
 * bookkeeping is checked exactly.  With /usr/sbin/nginx, a real master
 * with one worker proxies to a deliberately slow upstream served by this
 * test: the drain after a reroute must end only once the in-flight request
 * has been answered, and that request must succeed.  Processes started
 * here stay in the test's process group and are stopped at the end (or
 * at exit, when an assertion ended the test first).
 */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/balancer.h"
#include "actions/nginx.h"
#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "tests/unit/unit_util.h"

#define NGINX_BIN "/usr/sbin/nginx"
#define SLOW_MS 1500

static char dir[256], file[320], pidf[320], conf_path[320], elog[320];
static struct event_base *base;
static struct child_runner *runner;
static struct event *tick;
static struct act_env env;
static bool inside_call;

static struct conf_node nodes[2] = {
	{ .name = (char *)"a" }, { .name = (char *)"b" },
};
static char addr_a[64], addr_b[64];
static struct conf_cluster web = { .name = (char *)"web", .nodes = nodes, .n_nodes = 2 };

struct outcome {
	bool done;
	bool ok;
	int calls;
	char error[1024];
	uint64_t at;
	bool client_done; /* the watched client had its whole answer when cb ran */
};

struct client;
static void client_pump(struct client *c);
static bool client_done(const struct client *c);
/* A client whose answer on_done looks at, the moment the callback runs. */
static struct client *watched;

/* ---- the one process a test may start (sleep or nginx) ---- */

static pid_t started;

/* An assertion exits the test process: stop what it started. */
static void stop_started_at_exit(void)
{
	if (started > 0)
		kill(started, SIGTERM);
}

/* Run argv in this test's process group, which check kills on a timeout. */
static pid_t start_proc(char *const argv[])
{
	static bool registered;

	ck_assert_int_eq(started, 0);
	if (!registered) {
		ck_assert_int_eq(atexit(stop_started_at_exit), 0);
		registered = true;
	}
	started = fork();
	ck_assert_int_ge(started, 0);
	if (started == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return started;
}

static bool proc_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* The child runner reaps whatever dies, so running the loop lets pids vanish. */
static bool wait_gone(pid_t pid, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!proc_gone(pid) && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return proc_gone(pid);
}

static void stop_started(int sig)
{
	pid_t pid = started;

	kill(pid, sig);
	if (!wait_gone(pid, 5000)) {
		kill(pid, SIGKILL);
		wait_gone(pid, 2000);
	}
	started = 0;
	ck_assert(proc_gone(pid));
}

/* ---- fixture ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void write_text(const char *path, const char *text)
{
	char err[256];

	ck_assert_msg(fs_write_atomic(path, text, strlen(text), 0644, err, sizeof(err)) == 0,
		      "%s", err);
}

static void setup(void)
{
	char err[256];
	struct timeval tv = clock_tv_ms(20);

	snprintf(dir, sizeof(dir), "/tmp/vigil-drain-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* nginx workers may run as another user. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/upstream.conf", dir);
	snprintf(pidf, sizeof(pidf), "%s/nginx.pid", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/nginx.conf", dir);
	snprintf(elog, sizeof(elog), "%s/error.log", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	runner = child_runner_new(base, err, sizeof(err));
	ck_assert_msg(runner != NULL, "%s", err);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	env.base = base;
	env.children = runner;
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:1");
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:2");
	nodes[0].address = addr_a;
	nodes[1].address = addr_b;
}

static void teardown(void)
{
	if (started > 0)
		stop_started(SIGTERM);
	event_free(tick);
	child_runner_free(runner);
	event_base_free(base);
	unit_rm_tree(dir);
}

static void on_done(void *arg, bool ok, const char *error)
{
	struct outcome *o = arg;

	ck_assert_msg(!inside_call, "callback ran inside the balancer call");
	o->done = true;
	o->ok = ok;
	o->calls++;
	o->at = clock_mono_ms();
	snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
	if (watched) {
		client_pump(watched);
		o->client_done = client_done(watched);
	}
}

static void run_loop(const bool *flag, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!*flag && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
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

static struct balancer *make(const struct conf_balancer *c)
{
	char err[256];
	struct balancer *b = balancer_new(&env, c, err, sizeof(err));

	ck_assert_msg(b != NULL, "%s", err);
	return b;
}

static void apply_ok(struct balancer *b, const struct balancer_roles *roles)
{
	struct outcome o = { 0 };
	char err[256];

	ck_assert_msg(balancer_apply(b, &web, roles, on_done, &o, err, sizeof(err)) == 0,
		      "%s", err);
	run_loop(&o.done, 10000);
	ck_assert_msg(o.done && o.ok, "apply: %s", o.error);
}

/* Start a drain (asserting cb does not run inside) and return when it has ended. */
static struct outcome drain(struct balancer *b, uint64_t timeout_ms, uint64_t wait_ms)
{
	struct outcome o = { 0 };
	char err[256];

	inside_call = true;
	ck_assert_msg(balancer_drain(b, timeout_ms, on_done, &o, err, sizeof(err)) == 0,
		      "%s", err);
	inside_call = false;
	ck_assert(balancer_draining(b));
	run_loop(&o.done, wait_ms);
	ck_assert_msg(o.done, "drain did not end");
	ck_assert(!balancer_draining(b));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(o.calls, 1);
	return o;
}

static char *check_true[] = { (char *)"/bin/true", NULL };
static char *reload_true[] = { (char *)"/bin/true", NULL };
static char *check_false[] = { (char *)"/bin/false", NULL };

/* ---- drains without nginx ---- */

/* Apply (it must end as expected), then drain 200 ms: it must wait it all and say why. */
static void assert_waits_whole(const struct conf_balancer *c, bool apply_ok_expected,
			       const char *why)
{
	struct balancer *b = make(c);
	struct balancer_roles roles = { .primary = 1 };
	struct outcome o = { 0 };
	char err[256];
	uint64_t start;

	ck_assert_int_eq(balancer_apply(b, &web, &roles, on_done, &o, err, sizeof(err)), 0);
	run_loop(&o.done, 5000);
	ck_assert_msg(o.done && o.ok == apply_ok_expected, "apply: %s", o.error);
	start = clock_mono_ms();
	o = drain(b, 200, 5000);
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
	write_text(pidf, "1\n");
	c = bal_conf(check_false, reload_true, pidf);
	assert_waits_whole(&c, false, "did not reload");
}
END_TEST

static void write_own_pid(void)
{
	char text[32];

	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	write_text(pidf, text);
}

START_TEST(no_workers_drains_on_next_turn)
{
	struct conf_balancer c = bal_conf(check_true, reload_true, pidf);
	struct balancer *b = make(&c);
	struct balancer_roles roles = { .primary = 1 };
	struct outcome o;

	/* This process as the master, with no children at reload time. */
	write_own_pid();
	apply_ok(b, &roles);
	o = drain(b, 10000, 5000);
	ck_assert(o.ok);
	ck_assert_str_eq(o.error, "");
	balancer_free(b);
}
END_TEST

START_TEST(waits_for_noted_workers)
{
	char *sleeper[] = { (char *)"/bin/sleep", (char *)"30", NULL };
	struct conf_balancer c = bal_conf(check_true, reload_true, pidf);
	struct balancer *b = make(&c);
	struct balancer_roles roles = { .primary = 1 };
	struct outcome o = { 0 };
	char err[256];
	uint64_t start;

	write_own_pid();
	start_proc(sleeper);
	apply_ok(b, &roles);
	/* The "old worker" lives on: the drain runs out, ok but with a note. */
	start = clock_mono_ms();
	o = drain(b, 200, 5000);
	ck_assert(o.ok);
	ck_assert_uint_ge(o.at - start, 150);
	ck_assert_str_eq(o.error, "drain timed out after 200 ms: 1 old nginx worker(s) still running");

	/* One drain at a time, and none while an apply runs. */
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(balancer_drain(b, 10000, on_done, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(balancer_drain(b, 10000, on_done, &o, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "already running"), "%s", err);
	/* The worker exits: the drain that is running notices well before its timeout. */
	start = clock_mono_ms();
	stop_started(SIGKILL);
	run_loop(&o.done, 5000);
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
	struct balancer *b = make(&c);
	struct balancer_roles roles = { .primary = 1 };
	struct outcome a = { 0 }, d = { 0 };
	char err[256];

	ck_assert_int_eq(balancer_apply(b, &web, &roles, on_done, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(balancer_drain(b, 100, on_done, &d, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "apply is running"), "%s", err);
	ck_assert(!balancer_draining(b));
	balancer_free(b);

	/* Shutdown mid-drain: no callback, the timer goes with the balancer. */
	c = bal_conf(check_true, reload_true, NULL);
	b = make(&c);
	apply_ok(b, &roles);
	ck_assert_int_eq(balancer_drain(b, 50, on_done, &d, err, sizeof(err)), 0);
	balancer_free(b);
	unit_run_until(base, NULL, 0, 150);
	ck_assert(!a.done && !d.done);
}
END_TEST

/* ---- a slow upstream and a client, both on the test's loop ---- */

#define MAX_CONNS 8

/* Answers each request with body, delay_ms after it arrived. */
struct upstream {
	int fd, port;
	struct event *acc;
	uint64_t delay_ms;
	const char *body;
	int accepted, answered;
	struct srv_conn {
		int fd;
		struct event *ev; /* NULL: slot free */
		struct upstream *up;
	} conns[MAX_CONNS];
};

static void conn_close(struct srv_conn *c)
{
	event_free(c->ev);
	c->ev = NULL;
	close(c->fd);
}

/* Readable: the request (one small write by nginx) is in, answer later.  Timeout: answer now. */
static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct srv_conn *c = arg;
	char buf[4096];
	struct timeval tv = clock_tv_ms(c->up->delay_ms);

	if (what & EV_TIMEOUT) {
		int n = snprintf(buf, sizeof(buf), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n%s", strlen(c->up->body), c->up->body);

		/* A few bytes always fit in a fresh socket's buffer. */
		ck_assert_int_eq(send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
		c->up->answered++;
		conn_close(c);
		return;
	}
	if (recv(fd, buf, sizeof(buf), 0) <= 0) {
		conn_close(c);
		return;
	}
	ck_assert_int_eq(event_add(c->ev, &tv), 0);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct srv_conn *c = up->conns;

	(void)what;
	if (cfd < 0)
		return;
	while (c < up->conns + MAX_CONNS && c->ev)
		c++;
	ck_assert_ptr_ne(c, up->conns + MAX_CONNS);
	c->fd = cfd;
	c->up = up;
	c->ev = event_new(base, cfd, EV_READ, on_conn, c);
	ck_assert_ptr_nonnull(c->ev);
	ck_assert_int_eq(event_add(c->ev, NULL), 0);
	up->accepted++;
}

static void upstream_start(struct upstream *up, uint64_t delay_ms, const char *body)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(up, 0, sizeof(*up));
	up->delay_ms = delay_ms;
	up->body = body;
	up->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(up->fd, 0);
	ck_assert_int_eq(bind(up->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(up->fd, 16), 0);
	ck_assert_int_eq(getsockname(up->fd, (struct sockaddr *)&sa, &len), 0);
	up->port = ntohs(sa.sin_port);
	up->acc = event_new(base, up->fd, EV_READ | EV_PERSIST, on_accept, up);
	ck_assert_ptr_nonnull(up->acc);
	ck_assert_int_eq(event_add(up->acc, NULL), 0);
}

static void upstream_stop(struct upstream *up)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (up->conns[i].ev)
			conn_close(&up->conns[i]);
	event_free(up->acc);
	close(up->fd);
}

struct client {
	int fd;
	struct event *rd;
	char buf[4096];
	size_t len;
	bool done; /* the whole answer is in: end of stream */
};

/* Read whatever has arrived. */
static void client_pump(struct client *c)
{
	ssize_t n;

	while (!c->done && (n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0)) != 0) {
		if (n < 0 && errno != EINTR)
			return; /* EAGAIN: more later; an error shows as an incomplete answer */
		if (n > 0)
			c->len += (size_t)n;
	}
	c->buf[c->len] = '\0';
	c->done = true;
	event_del(c->rd);
}

static bool client_done(const struct client *c)
{
	return c->done;
}

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_pump(arg);
}

/* A blocking connect: on loopback it answers at once.  -1 if refused. */
static int connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void client_start(struct client *c, int port)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

	memset(c, 0, sizeof(*c));
	c->fd = connect_to(port);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	c->rd = event_new(base, c->fd, EV_READ | EV_PERSIST, on_client_read, c);
	ck_assert_ptr_nonnull(c->rd);
	ck_assert_int_eq(event_add(c->rd, NULL), 0);
}

static void client_stop(struct client *c)
{
	event_free(c->rd);
	close(c->fd);
}

/* The request succeeded: complete, status 200, exactly this body. */
static void assert_answer(const struct client *c, const char *body)
{
	const char *p = strstr(c->buf, "\r\n\r\n");

	ck_assert_msg(c->done, "no complete answer: %s", c->buf);
	ck_assert_msg(strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0, "%s", c->buf);
	ck_assert_msg(p && strcmp(p + 4, body) == 0, "%s", c->buf);
}

/* ---- a real nginx ---- */

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int write_nginx_conf(void)
{
	char text[4096];
	int port = free_port();

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
	write_text(conf_path, text);
	return port;
}

static bool have_nginx(void)
{
	if (access(NGINX_BIN, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: %s not found\n", NGINX_BIN);
	return false;
}

static char *nginx_run[] = { (char *)NGINX_BIN, (char *)"-p", dir, (char *)"-e", elog,
			     (char *)"-c", conf_path, NULL };
static char *nginx_check[] = { (char *)NGINX_BIN, (char *)"-t", (char *)"-q", (char *)"-p", dir,
			       (char *)"-e", elog, (char *)"-c", conf_path, NULL };
static char *nginx_reload[] = { (char *)NGINX_BIN, (char *)"-p", dir, (char *)"-e", elog,
				(char *)"-c", conf_path, (char *)"-s", (char *)"reload", NULL };

/*
 * Write the upstream file for roles and nginx's config, start nginx, and
 * wait until its pid file is written and it accepts connections.  Its port.
 */
static int nginx_serve(const struct conf_balancer *c, const struct balancer_roles *roles)
{
	char *text = nginx_render_upstream(c, &web, roles);
	int port, fd = -1;
	pid_t pid;
	uint64_t end = clock_mono_ms() + 5000;

	ck_assert_ptr_nonnull(text);
	write_text(file, text);
	free(text);
	port = write_nginx_conf();
	pid = start_proc(nginx_run);

	while (clock_mono_ms() < end) {
		if (access(pidf, R_OK) == 0 && (fd = connect_to(port)) >= 0)
			break;
		ck_assert_msg(!proc_gone(pid), "nginx exited at start (see %s)", elog);
		event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert_msg(fd >= 0, "nginx did not come up");
	close(fd);
	return port;
}

START_TEST(real_nginx_drain_waits_for_in_flight)
{
	struct conf_balancer c = bal_conf(nginx_check, nginx_reload, pidf);
	const bool a_out[] = { true, false };
	struct balancer_roles to_a = { .primary = 0 }, to_b = { .primary = 1, .out = a_out };
	struct upstream slow, fast;
	struct client first, second;
	struct balancer *b;
	struct outcome o;
	int port;
	uint64_t start;

	if (!have_nginx())
		return;
	upstream_start(&slow, SLOW_MS, "slow");
	upstream_start(&fast, 0, "fast");
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", slow.port);
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", fast.port);
	port = nginx_serve(&c, &to_a);
	b = make(&c);

	/* A request is in flight at a (which answers after SLOW_MS) when a is taken out. */
	client_start(&first, port);
	ck_assert(unit_run_until(base, &slow.accepted, 1, 5000));
	apply_ok(b, &to_b);
	ck_assert_msg(!first.done, "the slow answer came before the drain even started");
	watched = &first;
	o = drain(b, 10000, 15000);
	watched = NULL;
	ck_assert(o.ok);
	ck_assert_msg(o.error[0] == '\0', "%s", o.error);
	/* When the drain says drained, the whole answer is here: no request lost. */
	ck_assert_msg(o.client_done, "drained before the in-flight answer arrived");
	assert_answer(&first, "slow");
	ck_assert_int_eq(slow.answered, 1);

	/* Only the new routing is left: b answers. */
	client_start(&second, port);
	run_loop(&second.done, 5000);
	assert_answer(&second, "fast");
	ck_assert_int_eq(slow.accepted, 1);

	/* Nothing in flight: the next drain ends long before its timeout. */
	apply_ok(b, &to_b);
	start = clock_mono_ms();
	o = drain(b, 10000, 15000);
	ck_assert_msg(o.ok && o.error[0] == '\0', "%s", o.error);
	ck_assert_uint_lt(o.at - start, 10000);

	balancer_free(b);
	client_stop(&first);
	client_stop(&second);
	stop_started(SIGTERM);
	upstream_stop(&slow);
	upstream_stop(&fast);
}
END_TEST

START_TEST(real_nginx_check)
{
	struct conf_balancer c = bal_conf(nginx_check, reload_true, NULL);
	struct balancer_roles to_a = { .primary = 0 }, to_b = { .primary = 1 };
	struct balancer *b;
	struct outcome o = { 0 };
	char err[256], *want, *got;
	size_t len;

	if (!have_nginx())
		return;
	write_nginx_conf();
	b = make(&c);
	apply_ok(b, &to_a);
	want = nginx_render_upstream(&c, &web, &to_a);
	ck_assert_ptr_nonnull(want);

	/* nginx rejects this option: the checked file from before must stay. */
	balancer_free(b);
	c.server_options = (char *)"max_fails=abc";
	b = make(&c);
	ck_assert_int_eq(balancer_apply(b, &web, &to_b, on_done, &o, err, sizeof(err)), 0);
	run_loop(&o.done, 10000);
	ck_assert(o.done && !o.ok);
	ck_assert_msg(strncmp(o.error, "nginx check failed: exit 1: ", 28) == 0, "%s", o.error);
	ck_assert_msg(strstr(o.error, "max_fails=abc"), "%s", o.error);
	ck_assert_int_eq(fs_read_all(file, 1 << 20, &got, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	balancer_free(b);
}
END_TEST

static Suite *drain_suite(void)
{
	Suite *s = suite_create("nginx_drain");
	TCase *fake = tcase_create("drain"), *real = tcase_create("real_nginx");

	tcase_add_checked_fixture(fake, setup, teardown);
	tcase_set_timeout(fake, 30);
	tcase_add_test(fake, unseen_traffic_waits_whole_timeout);
	tcase_add_test(fake, no_workers_drains_on_next_turn);
	tcase_add_test(fake, waits_for_noted_workers);
	tcase_add_test(fake, drain_refused_during_apply_and_cancelled_by_free);
	suite_add_tcase(s, fake);

	tcase_add_checked_fixture(real, setup, teardown);
	tcase_set_timeout(real, 60);
	tcase_add_test(real, real_nginx_drain_waits_for_in_flight);
	tcase_add_test(real, real_nginx_check);
	suite_add_tcase(s, real);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(drain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
