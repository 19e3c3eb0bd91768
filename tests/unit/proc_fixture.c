/*
 * tests/unit/proc_fixture.c — see proc_fixture.h.  Processes started here
 * stay in the test's process group: check kills the group when a test
 * times out, and an atexit handler stops them when an assertion ended the
 * test first.
 */
#include "tests/unit/proc_fixture.h"

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
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/fsutil.h"

/* ---- the loop ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

void pf_loop_init(struct pf_loop *l)
{
	char err[256];
	struct timeval tv = clock_tv_ms(20);

	l->base = event_base_new();
	ck_assert_ptr_nonnull(l->base);
	l->runner = child_runner_new(l->base, err, sizeof(err));
	ck_assert_msg(l->runner != NULL, "%s", err);
	l->tick = event_new(l->base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_ptr_nonnull(l->tick);
	ck_assert_int_eq(event_add(l->tick, &tv), 0);
	l->env.base = l->base;
	l->env.children = l->runner;
}

void pf_loop_free(struct pf_loop *l)
{
	event_free(l->tick);
	child_runner_free(l->runner);
	event_base_free(l->base);
}

void pf_run(struct event_base *base, const bool *flag, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!*flag && clock_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

/* ---- files ---- */

void pf_write(const char *path, const char *text, mode_t mode)
{
	char err[256];

	ck_assert_msg(fs_write_atomic(path, text, strlen(text), mode, err, sizeof(err)) == 0,
		      "%s", err);
}

char *pf_slurp(const char *path, size_t *len)
{
	char err[256], *data = NULL;
	size_t n = 0;
	int rc = fs_read_all(path, 1 << 20, &data, &n, err, sizeof(err));

	ck_assert_msg(rc >= 0, "%s", err);
	if (len)
		*len = n;
	return rc == 1 ? strdup("") : data;
}

/* ---- balancer calls ---- */

bool pf_in_call;
struct pf_client *pf_watched;

void pf_on_done(void *arg, bool ok, const char *error)
{
	struct pf_outcome *o = arg;

	ck_assert_msg(!pf_in_call, "callback ran inside the balancer call");
	o->done = true;
	o->ok = ok;
	o->calls++;
	o->at = clock_mono_ms();
	snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
	if (pf_watched) {
		pf_client_pump(pf_watched);
		o->client_done = pf_watched->done;
	}
}

struct balancer *pf_balancer(const struct act_env *env, const struct conf_balancer *c)
{
	char err[256];
	struct balancer *b = balancer_new(env, c, err, sizeof(err));

	ck_assert_msg(b != NULL, "%s", err);
	return b;
}

/* A call was accepted: IN_FLIGHT(b) until its one callback, which comes within ms. */
static struct pf_outcome wait_one(struct event_base *base, struct balancer *b,
				  bool (*in_flight)(const struct balancer *),
				  const struct pf_outcome *o, uint64_t ms, const char *what)
{
	ck_assert_msg(in_flight(b), "no %s in flight", what);
	pf_run(base, &o->done, ms);
	ck_assert_msg(o->done, "%s did not end", what);
	ck_assert(!in_flight(b));
	/* Let a stray second callback show itself. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(o->calls, 1);
	return *o;
}

struct pf_outcome pf_apply(struct event_base *base, struct balancer *b,
			   const struct conf_cluster *cl, const struct balancer_roles *roles,
			   uint64_t ms)
{
	struct pf_outcome o = { 0 };
	char err[256];
	int rc;

	pf_in_call = true;
	rc = balancer_apply(b, cl, roles, pf_on_done, &o, err, sizeof(err));
	pf_in_call = false;
	ck_assert_msg(rc == 0, "apply: %s", err);
	return wait_one(base, b, balancer_busy, &o, ms, "apply");
}

void pf_apply_ok(struct event_base *base, struct balancer *b, const struct conf_cluster *cl,
		 const struct balancer_roles *roles)
{
	struct pf_outcome o = pf_apply(base, b, cl, roles, 15000);

	ck_assert_msg(o.ok, "apply: %s", o.error);
}

struct pf_outcome pf_drain(struct event_base *base, struct balancer *b, uint64_t timeout_ms,
			   uint64_t ms)
{
	struct pf_outcome o = { 0 };
	char err[256];
	int rc;

	pf_in_call = true;
	rc = balancer_drain(b, timeout_ms, pf_on_done, &o, err, sizeof(err));
	pf_in_call = false;
	ck_assert_msg(rc == 0, "drain: %s", err);
	return wait_one(base, b, balancer_draining, &o, ms, "drain");
}

/* ---- backends ---- */

static void conn_close(struct pf_conn *c)
{
	event_free(c->ev);
	c->ev = NULL;
	close(c->fd);
}

/* Readable: the request is in (proxies send it in one go); answer after the delay. */
static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct pf_conn *c = arg;
	char buf[4096];
	struct timeval tv = clock_tv_ms(c->be->delay_ms);

	if (what & EV_TIMEOUT) {
		int n = snprintf(buf, sizeof(buf), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n%s", strlen(c->be->body), c->be->body);

		/* A few bytes always fit in a fresh socket's buffer. */
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
	struct pf_backend *be = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct pf_conn *c = be->conns;

	(void)what;
	if (cfd < 0)
		return;
	while (c < be->conns + PF_MAX_CONNS && c->ev)
		c++;
	ck_assert_ptr_ne(c, be->conns + PF_MAX_CONNS);
	c->fd = cfd;
	c->be = be;
	c->ev = event_new(be->base, cfd, EV_READ, on_conn, c);
	ck_assert_ptr_nonnull(c->ev);
	ck_assert_int_eq(event_add(c->ev, NULL), 0);
	be->accepted++;
}

/* A socket bound to 127.0.0.1 on a port the kernel picks; its port in *port. */
static int bind_loopback(int flags, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

void pf_backend_start(struct pf_backend *be, struct event_base *base, uint64_t delay_ms,
		      const char *body)
{
	memset(be, 0, sizeof(*be));
	be->base = base;
	be->delay_ms = delay_ms;
	be->body = body;
	be->fd = bind_loopback(SOCK_NONBLOCK, &be->port);
	ck_assert_int_eq(listen(be->fd, 32), 0);
	be->acc = event_new(base, be->fd, EV_READ | EV_PERSIST, on_accept, be);
	ck_assert_ptr_nonnull(be->acc);
	ck_assert_int_eq(event_add(be->acc, NULL), 0);
}

void pf_backend_stop(struct pf_backend *be)
{
	if (!be->acc)
		return;
	for (size_t i = 0; i < PF_MAX_CONNS; i++)
		if (be->conns[i].ev)
			conn_close(&be->conns[i]);
	event_free(be->acc);
	be->acc = NULL;
	close(be->fd);
}

int pf_free_port(void)
{
	int port, fd = bind_loopback(0, &port);

	close(fd);
	return port;
}

int pf_connect(int port)
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

/* ---- clients ---- */

void pf_client_pump(struct pf_client *c)
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
	pf_client_pump(arg);
}

void pf_client_start(struct pf_client *c, struct event_base *base, int port)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

	memset(c, 0, sizeof(*c));
	c->fd = pf_connect(port);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	ck_assert_int_eq(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	c->rd = event_new(base, c->fd, EV_READ | EV_PERSIST, on_client_read, c);
	ck_assert_ptr_nonnull(c->rd);
	ck_assert_int_eq(event_add(c->rd, NULL), 0);
}

void pf_client_stop(struct pf_client *c)
{
	event_free(c->rd);
	close(c->fd);
}

void pf_assert_answer(const struct pf_client *c, const char *body)
{
	const char *p = strstr(c->buf, "\r\n\r\n");

	ck_assert_msg(c->done, "no complete answer: %s", c->buf);
	ck_assert_msg(strncmp(c->buf, "HTTP/1.", 7) == 0 && strncmp(c->buf + 8, " 200 ", 5) == 0,
		      "%s", c->buf);
	ck_assert_msg(p && strcmp(p + 4, body) == 0, "%s", c->buf);
}

const char *pf_get(struct event_base *base, int port, char *buf, size_t len)
{
	struct pf_client c;
	const char *p;

	pf_client_start(&c, base, port);
	pf_run(base, &c.done, 5000);
	p = strstr(c.buf, "\r\n\r\n");
	snprintf(buf, len, "%s", c.done && strstr(c.buf, " 200 ") && p ? p + 4 : "");
	pf_client_stop(&c);
	return buf;
}

/* ---- processes ---- */

#define PF_MAX_PROCS 4

static pid_t procs[PF_MAX_PROCS]; /* 0: slot free */

static void stop_at_exit(void)
{
	for (size_t i = 0; i < PF_MAX_PROCS; i++)
		if (procs[i] > 0)
			kill(procs[i], SIGTERM);
}

pid_t pf_spawn(char *const argv[], const char *log)
{
	static bool registered;
	size_t slot = 0;
	pid_t pid;

	while (slot < PF_MAX_PROCS && procs[slot])
		slot++;
	ck_assert_uint_lt(slot, PF_MAX_PROCS);
	if (!registered) {
		ck_assert_int_eq(atexit(stop_at_exit), 0);
		registered = true;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;

		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	procs[slot] = pid;
	return pid;
}

bool pf_gone(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) < 0 && errno == ESRCH);
}

void pf_wait_port(struct event_base *base, pid_t pid, int port, const char *ready_file,
		  const char *what)
{
	uint64_t end = clock_mono_ms() + 5000;
	int fd = -1;

	while (clock_mono_ms() < end) {
		if ((!ready_file || access(ready_file, R_OK) == 0) && (fd = pf_connect(port)) >= 0)
			break;
		ck_assert_msg(!pf_gone(pid), "%s exited at start", what);
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	ck_assert_msg(fd >= 0, "%s did not come up on port %d", what, port);
	close(fd);
}

/* Run the loop (a child runner on it may be the one reaping) until PID is gone. */
static bool wait_gone(struct event_base *base, pid_t pid, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!pf_gone(pid) && clock_mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	return pf_gone(pid);
}

void pf_stop(struct event_base *base, pid_t pid, int sig)
{
	for (size_t i = 0; i < PF_MAX_PROCS; i++)
		if (procs[i] == pid)
			procs[i] = 0;
	kill(pid, sig);
	if (!wait_gone(base, pid, 5000)) {
		kill(pid, SIGKILL);
		wait_gone(base, pid, 2000);
	}
	ck_assert_msg(pf_gone(pid), "%ld did not stop", (long)pid);
}

void pf_stop_all(struct event_base *base)
{
	for (size_t i = 0; i < PF_MAX_PROCS; i++)
		if (procs[i] > 0)
			pf_stop(base, procs[i], SIGTERM);
}
