/*
 * tests/unit/test_probes.c — tcp and http probes against listeners the
 * test opens on loopback (free ports): results, details, connection reuse,
 * transport errors, looking through a via node, and the owner-callback
 * rules.  Exec probes, timeouts and cancel: test_probes_exec.c.
 */
#include <arpa/inet.h>
#include <check.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "common/curl_loop.h"
#include "probes/probe.h"
#include "tests/unit/probe_fixture.h"

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

	ck_assert_ptr_null(probe_new(&env, &c, node_at(&nb, "db.example", 5432), NULL,
				     "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "db.example"));
	/* A tcp probe always connects from here: via is refused, not ignored. */
	struct node_buf vb;
	ck_assert_ptr_null(probe_new(&env, &c, node_at(&nb, "127.0.0.1", 5432),
				     node_at(&vb, "127.0.0.2", 5432), "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "via"));
}
END_TEST

/* ---- http ---- */

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
	ck_assert_ptr_null(probe_new(&env, &c, n, NULL, "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "adress"));
	c.url = (char *)"http://{address}/";
	c.method = (char *)"DELETE";
	ck_assert_ptr_null(probe_new(&env, &c, n, NULL, "web", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "DELETE"));
	/* {via_*} mean nothing without a via node. */
	c.method = NULL;
	c.url = (char *)"http://{via_address}/";
	ck_assert_ptr_null(probe_new(&env, &c, n, NULL, "web", err, sizeof(err)));
	ck_assert_msg(strstr(err, "url") && strstr(err, "via_address"), "%s", err);
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

/* ---- via: looking from another node ---- */

/*
 * The probed node's port refuses; the via node (the test server) answers
 * for it.  Each URL must reach the server, carrying what it names.
 */
static const struct via_case {
	const char *url;
	const char *uri; /* what the server must see; %u = the probed node's port */
} via_cases[] = {
	{ "http://{via_address}/ok?node={node}&at={address}", "/ok?node=a-node&at=127.0.0.1:%u" },
	{ "http://{via_host}:{via_port}/ok?via={via_node}&port={port}", "/ok?via=b-node&port=%u" },
};

START_TEST(http_via)
{
	const struct via_case *vc = &via_cases[_i];
	struct node_buf nb, vb;
	uint16_t port;
	int fd = listener(AF_INET, false, &port);
	struct conf_probe c = conf_of(CONF_PROBE_HTTP, 2000);
	char want[128];

	ck_assert_int_ge(fd, 0);
	const struct conf_node *n = node_at(&nb, "127.0.0.1", port);
	node_at(&vb, "127.0.0.1", http_port);
	vb.node.name = (char *)"b-node";
	/* From here the node is down ... */
	c.url = (char *)"http://{address}/ok";
	struct probe *direct = make(&c, n);
	struct done d = run_once(direct, 3000);
	ck_assert_msg(d.res.status == PROBE_ERR_CONNECT, "%s", d.res.detail);
	ck_assert_int_eq(hits, 0);
	/* ... seen through the via node, it is whatever the via node says. */
	c.url = (char *)vc->url;
	struct probe *via = make_via(&c, n, &vb.node);
	d = run_once(via, 3000);
	ck_assert_msg(d.res.ok, "%s", d.res.detail);
	ck_assert_str_eq(d.res.detail, "status 200");
	ck_assert(!d.res.has_lag);
	ck_assert_int_eq(hits, 1);
	snprintf(want, sizeof(want), vc->uri, (unsigned)port);
	ck_assert_str_eq(last_uri, want);
	probe_free(direct);
	probe_free(via);
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
	ck_assert_str_eq(probe_status_str(PROBE_ERR_OUTPUT), "output");
	ck_assert_str_eq(probe_status_str(PROBE_ERR_LOCAL), "local");
	ck_assert_str_eq(probe_status_str((enum probe_status)99), "unknown");
}
END_TEST

Suite *unit_suite(void)
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
	tcase_add_loop_test(tc, http_transport_errors, 0, 2);
	tcase_add_test(tc, restart_and_free_from_callback);
	tcase_add_loop_test(tc, http_via, 0, (int)(sizeof(via_cases) / sizeof(via_cases[0])));
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

int unit_setup(void)
{
	return probe_fixture_setup();
}
