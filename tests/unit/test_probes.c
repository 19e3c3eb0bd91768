/*
 * tests/unit/test_probes.c — tcp, http and exec probes against listeners
 * the test opens on loopback (free ports): results, details, timeouts,
 * cancel, latency, connection reuse and the owner-callback rules.
 */
#include <arpa/inet.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/curl_loop.h"
#include "probes/probe.h"
#include "tests/unit/unit_util.h"

static struct event_base *base;
static struct probe_env env;

/* The test's HTTP server: what it saw, for assertions. */
static struct evhttp *http;
static uint16_t http_port;
static int hits;
static uint16_t peer_ports[8];
static enum evhttp_cmd_type last_cmd;

struct done {
	int calls;
	struct probe_result res;
	uint64_t at_ms;
};

static void on_probe(void *arg, const struct probe_result *res)
{
	struct done *d = arg;

	d->calls++;
	d->res = *res;
	d->at_ms = clock_mono_ms();
}

static bool run_until(const int *count, int want, uint64_t ms)
{
	return unit_run_until(base, count, want, ms);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *body = evhttp_request_get_output_buffer(req);
	char *peer = NULL;
	uint16_t port = 0;

	(void)arg;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	if (hits < (int)(sizeof(peer_ports) / sizeof(peer_ports[0])))
		peer_ports[hits] = port;
	hits++;
	last_cmd = evhttp_request_get_command(req);
	if (strcmp(uri, "/hang") == 0)
		return; /* never answered; freed when the client goes away */
	if (strcmp(uri, "/fail") == 0) {
		evbuffer_add_printf(body, "overloaded");
		evhttp_send_reply(req, 503, "Service Unavailable", body);
		return;
	}
	evbuffer_add_printf(body, "all good here");
	evhttp_send_reply(req, 200, "OK", body);
}

static void setup(void)
{
	char err[256];

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	env.base = base;
	env.curl = curl_loop_new(base, err, sizeof(err));
	ck_assert_msg(env.curl != NULL, "curl loop: %s", err);
	env.children = child_runner_new(base, err, sizeof(err));
	ck_assert_msg(env.children != NULL, "runner: %s", err);
	http = evhttp_new(base);
	ck_assert_ptr_nonnull(http);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, on_request, NULL);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len), 0);
	http_port = ntohs(sin.sin_port);
	hits = 0;
	memset(peer_ports, 0, sizeof(peer_ports));
}

static void teardown(void)
{
	evhttp_free(http);
	curl_loop_free(env.curl);
	child_runner_free(env.children);
	event_base_free(base);
}

/* A node at host:port; strings live in the caller's buffers. */
struct node_buf {
	struct conf_node node;
	char host[64];
	char address[80];
};

static const struct conf_node *node_at(struct node_buf *nb, const char *host, uint16_t port)
{
	memset(nb, 0, sizeof(*nb));
	snprintf(nb->host, sizeof(nb->host), "%s", host);
	if (strchr(host, ':') != NULL)
		snprintf(nb->address, sizeof(nb->address), "[%s]:%u", host, (unsigned)port);
	else
		snprintf(nb->address, sizeof(nb->address), "%s:%u", host, (unsigned)port);
	nb->node.name = (char *)"a-node";
	nb->node.host = nb->host;
	nb->node.address = nb->address;
	nb->node.port = port;
	return &nb->node;
}

static struct conf_probe conf_of(enum conf_probe_type type, uint64_t timeout_ms)
{
	struct conf_probe c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.interval_ms = 1000;
	c.timeout_ms = timeout_ms;
	c.tls_verify = true;
	return c;
}

static struct probe *make(const struct conf_probe *c, const struct conf_node *n)
{
	char err[256] = "";
	struct probe *p = probe_new(&env, c, n, "web", err, sizeof(err));

	ck_assert_msg(p != NULL, "probe_new: %s", err);
	return p;
}

/* One run of p; asserts the callback never comes from inside probe_start. */
static struct done run_once(struct probe *p, uint64_t ms)
{
	struct done d = { 0 };

	ck_assert_int_eq(probe_start(p, on_probe, &d), 0);
	ck_assert_int_eq(d.calls, 0);
	ck_assert(probe_running(p));
	ck_assert_msg(run_until(&d.calls, 1, ms), "no result within %llu ms",
		      (unsigned long long)ms);
	ck_assert(!probe_running(p));
	ck_assert_int_eq(d.res.ok, d.res.status == PROBE_OK);
	return d;
}

/* The lowest free fd: unchanged across a run means nothing leaked. */
static int next_fd(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

/* A listening socket on loopback (family AF_INET or AF_INET6); -1 if unavailable. */
static int listener(int family, bool do_listen, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	/* Bound but not listening: the port is ours and refuses connections. */
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (do_listen && listen(fd, 16) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
			: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* ---- tcp ---- */

/* Listening (ok) and bound-only (refused), on 127.0.0.1 and ::1. */
static const struct tcp_case {
	int family;
	const char *host;
	bool listening;
	enum probe_status want;
	const char *detail;
} tcp_cases[] = {
	{ AF_INET, "127.0.0.1", true, PROBE_OK, "connected" },
	{ AF_INET, "127.0.0.1", false, PROBE_ERR_CONNECT, "connect: Connection refused" },
	{ AF_INET6, "::1", true, PROBE_OK, "connected" },
	{ AF_INET6, "::1", false, PROBE_ERR_CONNECT, "connect: Connection refused" },
};

START_TEST(tcp_case)
{
	const struct tcp_case *tc = &tcp_cases[_i];
	struct node_buf nb;
	uint16_t port;
	int fd = listener(tc->family, tc->listening, &port);
	struct conf_probe c = conf_of(CONF_PROBE_TCP, 1000);

	if (fd < 0 && tc->family == AF_INET6) {
		fprintf(stderr, "tcp case %d: no ::1 here, skipped\n", _i);
		return;
	}
	ck_assert_int_ge(fd, 0);
	struct probe *p = make(&c, node_at(&nb, tc->host, port));
	int free_fd = next_fd();
	for (int run = 0; run < 3; run++) {
		struct done d = run_once(p, 2000);
		ck_assert_msg(d.res.status == tc->want, "case %d run %d: %s", _i, run,
			      d.res.detail);
		ck_assert_str_eq(d.res.detail, tc->detail);
		ck_assert(d.res.latency_ms > 0.0 && d.res.latency_ms < 1000.0);
	}
	ck_assert_int_eq(next_fd(), free_fd);
	probe_free(p);
	close(fd);
}
END_TEST

START_TEST(tcp_bad_host)
{
	struct node_buf nb;
	struct conf_probe c = conf_of(CONF_PROBE_TCP, 1000);
	char err[128] = "";

	ck_assert_ptr_null(probe_new(&env, &c, node_at(&nb, "db.example", 5432), "web",
				     err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "db.example"));
}
END_TEST

/* ---- http ---- */

static struct probe *http_probe(const char *path, const char *method, int *status,
				size_t n_status, const char *body, uint64_t timeout_ms)
{
	struct node_buf nb;
	char url[128];
	struct conf_probe c = conf_of(CONF_PROBE_HTTP, timeout_ms);

	snprintf(url, sizeof(url), "http://{address}%s", path);
	c.url = url;
	c.method = (char *)method;
	c.expect_status = status;
	c.n_expect_status = n_status;
	c.expect_body = (char *)body;
	return make(&c, node_at(&nb, "127.0.0.1", http_port));
}

START_TEST(http_ok_and_reuse)
{
	struct probe *p = http_probe("/ok", "GET", NULL, 0, NULL, 2000);
	struct done first = { 0 }, busy = { 0 };

	ck_assert_int_eq(probe_start(p, on_probe, &first), 0);
	/* While a run is in flight, another start is refused. */
	ck_assert_int_eq(probe_start(p, on_probe, &busy), -1);
	ck_assert(run_until(&first.calls, 1, 3000));
	for (int i = 0; i < 2; i++) {
		struct done d = run_once(p, 3000);
		ck_assert_msg(d.res.ok, "run %d: %s", i, d.res.detail);
		ck_assert_str_eq(d.res.detail, "status 200");
		ck_assert(d.res.latency_ms > 0.0);
	}
	ck_assert_int_eq(first.calls, 1);
	ck_assert_int_eq(busy.calls, 0);
	ck_assert_int_eq(hits, 3);
	/* One connection for all three runs: the same client port. */
	ck_assert_uint_ne(peer_ports[0], 0);
	ck_assert_uint_eq(peer_ports[1], peer_ports[0]);
	ck_assert_uint_eq(peer_ports[2], peer_ports[0]);
	probe_free(p);
}
END_TEST

/* Request shapes and answers, each judged by one run. */
static const struct http_case {
	const char *path, *method, *body;
	int status;            /* the one expected status, 0 = default (200) */
	enum probe_status want;
	const char *detail;
	enum evhttp_cmd_type cmd;
} http_cases[] = {
	{ "/fail", "GET", NULL, 0, PROBE_ERR_STATUS, "status 503", EVHTTP_REQ_GET },
	{ "/fail", "GET", NULL, 503, PROBE_OK, "status 503", EVHTTP_REQ_GET },
	{ "/ok", "GET", "good", 0, PROBE_OK, "status 200", EVHTTP_REQ_GET },
	{ "/ok", "GET", "bad", 0, PROBE_ERR_BODY, "status 200, body lacks \"bad\"", EVHTTP_REQ_GET },
	{ "/ok", "get", "", 0, PROBE_OK, "status 200", EVHTTP_REQ_GET },
	{ "/ok", "HEAD", NULL, 0, PROBE_OK, "status 200", EVHTTP_REQ_HEAD },
	{ "/ok", "POST", NULL, 0, PROBE_OK, "status 200", EVHTTP_REQ_POST },
};

START_TEST(http_case)
{
	const struct http_case *hc = &http_cases[_i];
	int status = hc->status;
	struct probe *p = http_probe(hc->path, hc->method, status ? &status : NULL,
				     status ? 1 : 0, hc->body, 2000);

	/* Twice: a second run judges afresh, with nothing left from the first. */
	for (int run = 0; run < 2; run++) {
		struct done d = run_once(p, 3000);
		ck_assert_msg(d.res.status == hc->want, "case %d: %s: %s", _i,
			      probe_status_str(d.res.status), d.res.detail);
		ck_assert_str_eq(d.res.detail, hc->detail);
		ck_assert_int_eq(last_cmd, hc->cmd);
	}
	probe_free(p);
}
END_TEST

/* Probes share pooled curl handles: no option may leak from one to the next. */
START_TEST(http_handles_isolated)
{
	struct probe *head = http_probe("/ok", "HEAD", NULL, 0, NULL, 2000);
	struct probe *post = http_probe("/ok", "POST", NULL, 0, NULL, 2000);
	struct probe *get = http_probe("/ok", "GET", NULL, 0, "good", 2000);
	struct probe *order[] = { head, get, post, get };
	enum evhttp_cmd_type cmds[] = { EVHTTP_REQ_HEAD, EVHTTP_REQ_GET, EVHTTP_REQ_POST,
					EVHTTP_REQ_GET };

	for (int i = 0; i < 4; i++) {
		struct done d = run_once(order[i], 3000);
		ck_assert_msg(d.res.ok, "run %d: %s", i, d.res.detail);
		ck_assert_int_eq(last_cmd, cmds[i]);
	}
	probe_free(head);
	probe_free(post);
	probe_free(get);
}
END_TEST

START_TEST(http_bad_config)
{
	struct node_buf nb;
	struct conf_probe c = conf_of(CONF_PROBE_HTTP, 1000);
	const struct conf_node *n = node_at(&nb, "127.0.0.1", 80);
	char err[256] = "";

	c.url = (char *)"http://{adress}/";
	ck_assert_ptr_null(probe_new(&env, &c, n, "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "adress"));
	c.url = (char *)"http://{address}/";
	c.method = (char *)"DELETE";
	ck_assert_ptr_null(probe_new(&env, &c, n, "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "DELETE"));
}
END_TEST

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static void on_curl_done(void *arg, CURL *easy, CURLcode rc)
{
	long code = 0;

	ck_assert_int_eq(rc, CURLE_OK);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	ck_assert_int_eq(code, 200);
	(*(int *)arg)++;
}

/* The loop on its own, as actions/ use it; freed with a transfer in flight. */
START_TEST(curl_loop_direct)
{
	char url[64];
	int calls = 0;
	CURL *e = curl_easy_init();

	ck_assert_ptr_nonnull(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", (unsigned)http_port);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_loop_remove(env.curl, e); /* not running: nothing happens */
	ck_assert_int_eq(curl_loop_add(env.curl, e, on_curl_done, &calls), 0);
	ck_assert(run_until(&calls, 1, 3000));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hang", (unsigned)http_port);
	curl_easy_setopt(e, CURLOPT_URL, url);
	ck_assert_int_eq(curl_loop_add(env.curl, e, on_curl_done, &calls), 0);
	ck_assert_int_eq(curl_loop_add(env.curl, e, on_curl_done, &calls), -1);
	run_until(&hits, 2, 3000);
	ck_assert_int_eq(hits, 2);
	curl_loop_free(env.curl);
	env.curl = NULL;
	run_until(NULL, 0, 100);
	ck_assert_int_eq(calls, 1);
	curl_easy_cleanup(e);
}
END_TEST

#define MANY 200

START_TEST(http_many)
{
	static struct probe *p[MANY];
	static struct done d[MANY];
	int total = 0;

	memset(d, 0, sizeof(d));
	for (int i = 0; i < MANY; i++) {
		p[i] = http_probe("/ok", "GET", NULL, 0, "good", 5000);
		ck_assert_int_eq(probe_start(p[i], on_probe, &d[i]), 0);
	}
	for (int i = 0; i < MANY; i++) {
		ck_assert_msg(run_until(&d[i].calls, 1, 10000), "probe %d: no result", i);
		ck_assert_msg(d[i].res.ok, "probe %d: %s", i, d[i].res.detail);
		total += d[i].calls;
		probe_free(p[i]);
	}
	ck_assert_int_eq(total, MANY);
	ck_assert_int_eq(hits, MANY);
}
END_TEST

/* ---- exec ---- */

static struct probe *exec_probe(char **argv, uint64_t timeout_ms)
{
	struct node_buf nb;
	struct conf_probe c = conf_of(CONF_PROBE_EXEC, timeout_ms);

	c.argv = argv;
	return make(&c, node_at(&nb, "127.0.0.1", 5432));
}

#define A(s) ((char *)(s))
static char *exec_true[] = { A("/bin/true"), NULL };
static char *exec_false[] = { A("/bin/false"), NULL };
static char *exec_boom[] = { A("/bin/sh"), A("-c"), A("echo boom; echo more; exit 2"), NULL };
static char *exec_missing[] = { A("/nonexistent/check"), NULL };
/* Every placeholder, each expanded into its own argument. */
static char *exec_vars[] = {
	A("/bin/sh"), A("-c"),
	A("test \"$0|$1|$2|$3|$4\" = \"a-node|127.0.0.1:5432|127.0.0.1|5432|web\""),
	A("{node}"), A("{address}"), A("{host}"), A("{port}"), A("{cluster}"), NULL,
};

static const struct exec_case {
	char **argv;
	enum probe_status want;
	const char *detail;
} exec_cases[] = {
	{ exec_true, PROBE_OK, "exit 0" },
	{ exec_false, PROBE_ERR_EXIT, "exit 1" },
	{ exec_boom, PROBE_ERR_EXIT, "exit 2: boom more" },
	{ exec_missing, PROBE_ERR_EXIT,
	  "exit 127: exec /nonexistent/check: No such file or directory" },
	{ exec_vars, PROBE_OK, "exit 0" },
};

START_TEST(exec_case)
{
	const struct exec_case *xc = &exec_cases[_i];
	struct probe *p = exec_probe(xc->argv, 2000);
	int free_fd = next_fd();
	struct done d = run_once(p, 3000);

	ck_assert_int_eq(next_fd(), free_fd);
	ck_assert_msg(d.res.status == xc->want, "case %d: %s", _i, d.res.detail);
	ck_assert_str_eq(d.res.detail, xc->detail);
	ck_assert(d.res.latency_ms > 0.0);
	probe_free(p);
}
END_TEST

/* ---- timeouts, for every type, from probe.c's one timer ---- */

START_TEST(timeout_case)
{
	char *slow[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	struct probe *p = _i == 0 ? http_probe("/hang", "GET", NULL, 0, NULL, 300)
				  : exec_probe(slow, 300);
	uint64_t t0 = clock_mono_ms();

	/* Twice: the probe is usable after a timeout. */
	for (int run = 0; run < 2; run++) {
		struct done d = run_once(p, 3000);
		ck_assert_int_eq(d.res.status, PROBE_ERR_TIMEOUT);
		ck_assert_str_eq(d.res.detail, "no answer within 300 ms");
		ck_assert_uint_ge(d.at_ms - t0, 280); /* coarse timer clock */
		ck_assert_uint_lt(d.at_ms - t0, 1500);
		ck_assert(d.res.latency_ms >= 280.0);
		ck_assert_uint_eq(child_runner_active(env.children), 0);
		t0 = d.at_ms;
	}
	probe_free(p);
}
END_TEST

/* Refused, and TLS spoken to a server that answers in plain text. */
static void on_accept_plain(evutil_socket_t fd, short what, void *arg)
{
	static const char reply[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
	int c = accept(fd, NULL, NULL);

	(void)what;
	(void)arg;
	if (c < 0)
		return;
	ck_assert_int_eq(write(c, reply, sizeof(reply) - 1), (ssize_t)(sizeof(reply) - 1));
	close(c);
}

START_TEST(http_transport_errors)
{
	struct node_buf nb;
	uint16_t port;
	bool tls = _i == 1;
	int fd = listener(AF_INET, tls, &port);
	struct conf_probe c = conf_of(CONF_PROBE_HTTP, 2000);
	struct event *ev = NULL;

	ck_assert_int_ge(fd, 0);
	if (tls) {
		ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept_plain, NULL);
		ck_assert_ptr_nonnull(ev);
		event_add(ev, NULL);
	}
	c.url = (char *)(tls ? "https://{address}/" : "http://{host}:{port}/health");
	struct probe *p = make(&c, node_at(&nb, "127.0.0.1", port));
	struct done d = run_once(p, 3000);
	ck_assert_int_eq(d.res.status, tls ? PROBE_ERR_TLS : PROBE_ERR_CONNECT);
	ck_assert_msg(strncmp(d.res.detail, tls ? "tls: " : "connect: ", tls ? 5 : 9) == 0,
		      "%s", d.res.detail);
	probe_free(p);
	if (ev != NULL)
		event_free(ev);
	close(fd);
}
END_TEST

/* ---- the generic run ---- */

START_TEST(cancel_no_callback)
{
	char *slow[] = { (char *)"/bin/sleep", (char *)"10", NULL };
	struct probe *h = http_probe("/hang", "GET", NULL, 0, NULL, 200);
	struct probe *x = exec_probe(slow, 200);
	struct probe *f = http_probe("/hang", "GET", NULL, 0, NULL, 200);
	struct done dh = { 0 }, dx = { 0 }, df = { 0 };

	ck_assert_int_eq(probe_start(h, on_probe, &dh), 0);
	ck_assert_int_eq(probe_start(x, on_probe, &dx), 0);
	ck_assert_int_eq(probe_start(f, on_probe, &df), 0);
	/* Let the requests reach the server first. */
	run_until(&hits, 2, 2000);
	probe_cancel(h);
	probe_cancel(x);
	probe_free(f);
	ck_assert(!probe_running(h));
	ck_assert(!probe_running(x));
	ck_assert_uint_eq(child_runner_active(env.children), 0);
	/* Past both timeouts: still nothing. */
	run_until(NULL, 0, 500);
	ck_assert_int_eq(dh.calls, 0);
	ck_assert_int_eq(dx.calls, 0);
	ck_assert_int_eq(df.calls, 0);
	/* Cancel of an idle probe is harmless. */
	probe_cancel(h);
	probe_free(h);
	probe_free(x);
}
END_TEST

/* Out of fds, a type fails inside probe_start: the result still waits for the loop. */
START_TEST(start_failure_deferred)
{
	struct node_buf nb;
	uint16_t port;
	int fd = listener(AF_INET, true, &port);
	struct conf_probe c = conf_of(CONF_PROBE_TCP, 1000);
	char *yes[] = { (char *)"/bin/true", NULL };
	struct done dt = { 0 }, dx = { 0 };
	struct rlimit old, tight;

	ck_assert_int_ge(fd, 0);
	struct probe *t = make(&c, node_at(&nb, "127.0.0.1", port));
	struct probe *x = exec_probe(yes, 1000);
	int next = next_fd();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)next;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
	int rt = probe_start(t, on_probe, &dt);
	int rx = probe_start(x, on_probe, &dx);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(rt, 0);
	ck_assert_int_eq(rx, 0);
	ck_assert_int_eq(dt.calls, 0);
	ck_assert_int_eq(dx.calls, 0);
	ck_assert(run_until(&dt.calls, 1, 2000));
	ck_assert(run_until(&dx.calls, 1, 2000));
	ck_assert_int_eq(dt.res.status, PROBE_ERR_INTERNAL);
	ck_assert_str_eq(dt.res.detail, "socket: Too many open files");
	ck_assert_int_eq(dx.res.status, PROBE_ERR_INTERNAL);
	ck_assert_str_eq(dx.res.detail, "spawn: pipe: Too many open files");
	/* With fds back, the same probes work. */
	dt = run_once(t, 2000);
	ck_assert_msg(dt.res.ok, "%s", dt.res.detail);
	probe_free(t);
	probe_free(x);
	close(fd);
}
END_TEST

/* Owner callbacks that restart or free the probe from inside the callback. */
struct again {
	struct probe *p;
	int calls;
	int want;
	bool free_at_end;
};

static void on_again(void *arg, const struct probe_result *res)
{
	struct again *a = arg;

	ck_assert_msg(res->ok || res->status == PROBE_ERR_CONNECT, "%s", res->detail);
	a->calls++;
	if (a->calls < a->want) {
		ck_assert_int_eq(probe_start(a->p, on_again, a), 0);
		return;
	}
	if (a->free_at_end) {
		probe_free(a->p);
		a->p = NULL;
	}
}

START_TEST(restart_and_free_from_callback)
{
	struct node_buf nb;
	uint16_t port;
	int fd = listener(AF_INET, false, &port);
	struct conf_probe c = conf_of(CONF_PROBE_TCP, 1000);
	struct again h = { .want = 5, .free_at_end = true };
	struct again t = { .want = 5, .free_at_end = true };

	ck_assert_int_ge(fd, 0);
	h.p = http_probe("/ok", "GET", NULL, 0, NULL, 2000);
	/* Refused connects may fail inside connect(): the deferred path. */
	t.p = make(&c, node_at(&nb, "127.0.0.1", port));
	ck_assert_int_eq(probe_start(h.p, on_again, &h), 0);
	ck_assert_int_eq(probe_start(t.p, on_again, &t), 0);
	ck_assert(run_until(&h.calls, 5, 5000));
	ck_assert(run_until(&t.calls, 5, 5000));
	ck_assert_ptr_null(h.p);
	ck_assert_ptr_null(t.p);
	ck_assert_int_eq(hits, 5);
	close(fd);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(probe_type_name(CONF_PROBE_TCP), "tcp");
	ck_assert_str_eq(probe_type_name(CONF_PROBE_HTTP), "http");
	ck_assert_str_eq(probe_type_name(CONF_PROBE_EXEC), "exec");
	ck_assert_str_eq(probe_type_name((enum conf_probe_type)42), "unknown");
	ck_assert_str_eq(probe_status_str(PROBE_OK), "ok");
	ck_assert_str_eq(probe_status_str(PROBE_ERR_TIMEOUT), "timeout");
	ck_assert_str_eq(probe_status_str(PROBE_ERR_TLS), "tls");
	ck_assert_str_eq(probe_status_str(PROBE_ERR_INTERNAL), "internal");
	ck_assert_str_eq(probe_status_str((enum probe_status)99), "unknown");
}
END_TEST

static Suite *probes_suite(void)
{
	Suite *s = suite_create("probes");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, tcp_case, 0, (int)(sizeof(tcp_cases) / sizeof(tcp_cases[0])));
	tcase_add_test(tc, tcp_bad_host);
	tcase_add_test(tc, http_ok_and_reuse);
	tcase_add_loop_test(tc, http_case, 0, (int)(sizeof(http_cases) / sizeof(http_cases[0])));
	tcase_add_test(tc, http_handles_isolated);
	tcase_add_test(tc, http_bad_config);
	tcase_add_test(tc, curl_loop_direct);
	tcase_add_test(tc, http_many);
	tcase_add_loop_test(tc, exec_case, 0, (int)(sizeof(exec_cases) / sizeof(exec_cases[0])));
	tcase_add_loop_test(tc, timeout_case, 0, 2);
	tcase_add_loop_test(tc, http_transport_errors, 0, 2);
	tcase_add_test(tc, cancel_no_callback);
	tcase_add_test(tc, start_failure_deferred);
	tcase_add_test(tc, restart_and_free_from_callback);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(probes_suite());
	int failed;

	/* A proxy in the environment must not matter: probes bypass proxies. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed != 0;
}
