/*
 * tests/unit/probe_fixture.c — the base, server and helpers the probe
 * tests share (see probe_fixture.h).
 */
#include "tests/unit/probe_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/curl_loop.h"
#include "tests/unit/unit_util.h"

struct event_base *base;
struct probe_env env;
uint16_t http_port;
int hits;
uint16_t peer_ports[8];
enum evhttp_cmd_type last_cmd;
char last_uri[256];

static struct evhttp *http;

void on_probe(void *arg, const struct probe_result *res)
{
	struct done *d = arg;

	d->calls++;
	d->res = *res;
	d->at_ms = clock_mono_ms();
}

bool run_until(const int *count, int want, uint64_t ms)
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
	snprintf(last_uri, sizeof(last_uri), "%s", uri);
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

void setup(void)
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
	last_uri[0] = '\0';
}

void teardown(void)
{
	evhttp_free(http);
	curl_loop_free(env.curl);
	child_runner_free(env.children);
	event_base_free(base);
}

const struct conf_node *node_at(struct node_buf *nb, const char *host, uint16_t port)
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

struct conf_probe conf_of(enum conf_probe_type type, uint64_t timeout_ms)
{
	struct conf_probe c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.interval_ms = 1000;
	c.timeout_ms = timeout_ms;
	c.tls_verify = true;
	c.via_node = -1;
	return c;
}

struct probe *make_via(const struct conf_probe *c, const struct conf_node *n,
		       const struct conf_node *via)
{
	char err[256] = "";
	struct probe *p = probe_new(&env, c, n, via, "web", err, sizeof(err));

	ck_assert_msg(p != NULL, "probe_new: %s", err);
	return p;
}

struct probe *make(const struct conf_probe *c, const struct conf_node *n)
{
	return make_via(c, n, NULL);
}

struct done run_once(struct probe *p, uint64_t ms)
{
	struct done d = { 0 };

	ck_assert_int_eq(probe_start(p, on_probe, &d), 0);
	ck_assert_int_eq(d.calls, 0);
	ck_assert(probe_running(p));
	ck_assert_msg(run_until(&d.calls, 1, ms), "no result within %llu ms",
		      (unsigned long long)ms);
	ck_assert(!probe_running(p));
	ck_assert_int_eq(d.res.ok, d.res.status == PROBE_OK);
	/* Whatever the type: a lag only ever comes with a healthy run. */
	ck_assert(!d.res.has_lag || d.res.ok);
	return d;
}

int next_fd(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

int listener(int family, bool do_listen, uint16_t *port)
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

struct probe *http_probe(const char *path, const char *method, int *status,
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

struct probe *exec_probe(char **argv, uint64_t timeout_ms)
{
	struct node_buf nb;
	struct conf_probe c = conf_of(CONF_PROBE_EXEC, timeout_ms);

	c.argv = argv;
	return make(&c, node_at(&nb, "127.0.0.1", 5432));
}

int probe_fixture_setup(void)
{
	/* A proxy in the environment must not matter: probes bypass proxies. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	return 0;
}
