/*
 * tests/unit/haproxy_fixture.c — see haproxy_fixture.h.  The haproxy
 * started here stays in the test's process group and is stopped by the
 * test, or at exit when an assertion ended the test first.
 */
#include "tests/unit/haproxy_fixture.h"

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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fsutil.h"

/* ---- backends ---- */

static void conn_close(struct th_conn *c)
{
	event_free(c->ev);
	c->ev = NULL;
	close(c->fd);
}

/* Readable: the request is in (haproxy sends it in one go); answer after the delay. */
static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct th_conn *c = arg;
	char buf[4096];
	struct timeval tv = clock_tv_ms(c->be->delay_ms);

	if (what & EV_TIMEOUT) {
		int n = snprintf(buf, sizeof(buf), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n%s", strlen(c->be->body), c->be->body);

		ck_assert_int_eq(send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
		c->be->answered++;
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
	struct th_backend *be = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct th_conn *c = be->conns;

	(void)what;
	if (cfd < 0)
		return;
	while (c < be->conns + TH_MAX_CONNS && c->ev)
		c++;
	ck_assert_ptr_ne(c, be->conns + TH_MAX_CONNS);
	c->fd = cfd;
	c->be = be;
	c->ev = event_new(be->base, cfd, EV_READ, on_conn, c);
	ck_assert_ptr_nonnull(c->ev);
	ck_assert_int_eq(event_add(c->ev, NULL), 0);
	be->accepted++;
}

void th_backend_start(struct th_backend *be, struct event_base *base, uint64_t delay_ms,
		      const char *body)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(be, 0, sizeof(*be));
	be->base = base;
	be->delay_ms = delay_ms;
	be->body = body;
	be->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(be->fd, 0);
	ck_assert_int_eq(bind(be->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(be->fd, 32), 0);
	ck_assert_int_eq(getsockname(be->fd, (struct sockaddr *)&sa, &len), 0);
	be->port = ntohs(sa.sin_port);
	be->acc = event_new(base, be->fd, EV_READ | EV_PERSIST, on_accept, be);
	ck_assert_ptr_nonnull(be->acc);
	ck_assert_int_eq(event_add(be->acc, NULL), 0);
}

void th_backend_stop(struct th_backend *be)
{
	if (!be->acc)
		return;
	for (size_t i = 0; i < TH_MAX_CONNS; i++)
		if (be->conns[i].ev)
			conn_close(&be->conns[i]);
	event_free(be->acc);
	be->acc = NULL;
	close(be->fd);
}

/* ---- clients ---- */

void th_client_pump(struct th_client *c)
{
	ssize_t n;

	while (!c->done && (n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0)) != 0) {
		if (n < 0 && errno != EINTR)
			return; /* EAGAIN: more later; a reset shows as an incomplete answer */
		if (n > 0)
			c->len += (size_t)n;
	}
	c->buf[c->len] = '\0';
	c->done = true;
	event_del(c->rd);
}

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	th_client_pump(arg);
}

/* A blocking connect: on loopback it is answered at once.  -1 if refused. */
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

void th_client_start(struct th_client *c, struct event_base *base, int port)
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

void th_client_stop(struct th_client *c)
{
	event_free(c->rd);
	close(c->fd);
}

void th_assert_answer(const struct th_client *c, const char *body)
{
	const char *p = strstr(c->buf, "\r\n\r\n");

	ck_assert_msg(c->done, "no complete answer: %s", c->buf);
	ck_assert_msg(strncmp(c->buf, "HTTP/1.", 7) == 0 && strncmp(c->buf + 8, " 200 ", 5) == 0,
		      "%s", c->buf);
	ck_assert_msg(p && strcmp(p + 4, body) == 0, "%s", c->buf);
}

const char *th_get(struct event_base *base, int port, char *buf, size_t len)
{
	struct th_client c;
	const char *p;

	th_client_start(&c, base, port);
	th_run(base, &c.done, 5000);
	p = strstr(c.buf, "\r\n\r\n");
	snprintf(buf, len, "%s", c.done && strstr(c.buf, " 200 ") && p ? p + 4 : "");
	th_client_stop(&c);
	return buf;
}

int th_free_port(void)
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

void th_run(struct event_base *base, const bool *flag, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!*flag && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

/* ---- haproxy ---- */

static pid_t master;

static void stop_at_exit(void)
{
	if (master > 0)
		kill(master, SIGKILL);
}

bool th_have_haproxy(void)
{
	if (access(HAPROXY_BIN, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: %s not found\n", HAPROXY_BIN);
	return false;
}

int th_write_config(const char *dir, bool no_socket, const char *backend_text)
{
	char text[8192], path[512], sock[400], err[256];
	int port = th_free_port();

	snprintf(sock, sizeof(sock), "    stats socket %s/admin.sock level admin\n", dir);
	snprintf(text, sizeof(text),
		 "global\n%s    server-state-file %s/state\n"
		 "defaults\n    mode http\n    load-server-state-from-file global\n"
		 "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n"
		 "frontend fe\n    bind 127.0.0.1:%d\n    default_backend web\n%s",
		 no_socket ? "" : sock, dir, port, backend_text);
	snprintf(path, sizeof(path), "%s/haproxy.cfg", dir);
	ck_assert_msg(fs_write_atomic(path, text, strlen(text), 0644, err, sizeof(err)) == 0,
		      "%s", err);
	return port;
}

/* Gone, reaped by us or by a child runner on the loop. */
static bool master_gone(void)
{
	return waitpid(master, NULL, WNOHANG) == master || (kill(master, 0) < 0 && errno == ESRCH);
}

/*
 * The master handles SIGUSR2 (reload) only once its loop runs; a signal
 * sent before may be lost.  Ready when /proc says it catches SIGUSR2.
 */
static bool master_catches_usr2(void)
{
	char path[64], err[256], *text = NULL;
	const char *p;
	unsigned long long caught = 0;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)master);
	if (fs_read_all(path, 1 << 16, &text, &len, err, sizeof(err)) != 0)
		return false;
	p = strstr(text, "\nSigCgt:");
	if (p)
		caught = strtoull(p + 8, NULL, 16);
	free(text);
	return caught & (1ull << (SIGUSR2 - 1));
}

pid_t th_haproxy_start(struct event_base *base, const char *dir, const char *extra, int port)
{
	static bool registered;
	char cfg[512];
	char *argv[] = { (char *)HAPROXY_BIN, (char *)"-W", (char *)"-db", (char *)"-f", cfg,
			 (char *)"-f", (char *)extra, NULL };
	uint64_t end = clock_mono_ms() + 5000;
	int fd = -1;

	ck_assert_int_eq(master, 0);
	if (!registered) {
		ck_assert_int_eq(atexit(stop_at_exit), 0);
		registered = true;
	}
	if (!extra)
		argv[5] = NULL;
	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
	master = fork();
	ck_assert_int_ge(master, 0);
	if (master == 0) {
		char log[512];
		int out;

		/* Its notices would drown the test's output: they go to DIR/haproxy.log. */
		snprintf(log, sizeof(log), "%s/haproxy.log", dir);
		out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (clock_mono_ms() < end && (fd = connect_to(port)) < 0) {
		ck_assert_msg(!master_gone(), "haproxy exited at start");
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	ck_assert_msg(fd >= 0, "haproxy did not come up on port %d", port);
	close(fd);
	while (clock_mono_ms() < end && !master_catches_usr2())
		usleep(10000);
	ck_assert_msg(master_catches_usr2(), "haproxy's master does not handle SIGUSR2");
	return master;
}

/*
 * A master still starting up may lose a SIGUSR2 (seen with 2.6 right after
 * "Loading success"), so the signal is sent again if nothing happened.
 */
void th_haproxy_reload(struct event_base *base, const char *dir)
{
	long old = th_info(dir, "Pid"), now = old;
	uint64_t end = clock_mono_ms() + 6000, resend = 0;

	ck_assert_int_gt(old, 0);
	while (clock_mono_ms() < end && (now == old || now < 0)) {
		if (clock_mono_ms() >= resend) {
			ck_assert_int_eq(kill(master, SIGUSR2), 0);
			resend = clock_mono_ms() + 2000;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(20000);
		now = th_info(dir, "Pid");
	}
	ck_assert_msg(now > 0 && now != old, "haproxy did not reload (worker %ld)", now);
}

void th_haproxy_stop(struct event_base *base)
{
	uint64_t end = clock_mono_ms() + 5000;

	if (master <= 0)
		return;
	kill(master, SIGTERM);
	while (!master_gone() && clock_mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	if (!master_gone()) {
		kill(master, SIGKILL);
		waitpid(master, NULL, 0);
	}
	master = 0;
}

char *th_cli(const char *dir, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[4096];
	ssize_t n;

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/admin.sock", dir);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) == (ssize_t)strlen(cmd) &&
	    send(fd, "\n", 1, MSG_NOSIGNAL) == 1)
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			fwrite(buf, 1, (size_t)n, mem);
	close(fd);
	ck_assert_int_eq(fclose(mem), 0);
	return out;
}

long th_info(const char *dir, const char *field)
{
	char *info = th_cli(dir, "show info"), key[64];
	const char *p;
	long v = -1;

	snprintf(key, sizeof(key), "\n%s: ", field);
	p = strstr(info, key);
	if (p)
		v = strtol(p + strlen(key), NULL, 10);
	free(info);
	return v;
}

int th_admin_state(const char *dir, const char *name)
{
	char *st = th_cli(dir, "show servers state web"), pat[64];
	const char *p;
	int admin = -1;

	/* "<be_id> web <srv_id> NAME <addr> <op> <admin> ..." */
	snprintf(pat, sizeof(pat), " web ");
	for (p = strstr(st, pat); p; p = strstr(p + 1, pat)) {
		char srv[64];
		int op, adm;

		if (sscanf(p, " web %*d %63s %*s %d %d", srv, &op, &adm) == 3 &&
		    strcmp(srv, name) == 0) {
			admin = adm;
			break;
		}
	}
	free(st);
	return admin;
}
