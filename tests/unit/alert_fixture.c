/* tests/unit/alert_fixture.c — the alert tests' loop, receivers and log capture. */
#include "tests/unit/alert_fixture.h"

#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/curl_loop.h"

struct event_base *af_base;
struct curl_loop *curl;
struct child_runner *runner;
struct receiver rx;
uint64_t tick_max_gap_ms;

static struct event *tick;
static uint64_t tick_last_ms;
static int saved_stderr = -1;

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	int i = r->count++, status = i < RX_MAX_REQS ? r->script[i] : 200;

	if (i < RX_MAX_REQS) {
		r->bodies[i] = calloc(1, len + 1);
		ck_assert_ptr_nonnull(r->bodies[i]);
		evbuffer_copyout(in, r->bodies[i], len);
	}
	snprintf(r->uri, sizeof(r->uri), "%s", evhttp_request_get_uri(req));
	snprintf(r->method, sizeof(r->method), "%s",
		 evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "other");
	snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
	if (status < 0)
		return;
	evhttp_send_reply(req, status ? status : 200, "whatever", NULL);
}

void receiver_start(struct receiver *r)
{
	struct evhttp_bound_socket *h;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	r->http = evhttp_new(af_base);
	ck_assert_ptr_nonnull(r->http);
	h = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	evhttp_set_gencb(r->http, on_request, r);
}

void receiver_stop(struct receiver *r)
{
	for (int i = 0; i < RX_MAX_REQS; i++) {
		free(r->bodies[i]);
		r->bodies[i] = NULL;
	}
	if (r->http)
		evhttp_free(r->http);
	r->http = NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	(void)arg;
	if (tick_last_ms && now - tick_last_ms > tick_max_gap_ms)
		tick_max_gap_ms = now - tick_last_ms;
	tick_last_ms = now;
}

void af_setup(void)
{
	char err[256];
	struct timeval tv = clock_tv_ms(10);
	struct event_config *ec = event_config_new();

	/*
	 * Precise timers: by default libevent reads CLOCK_MONOTONIC_COARSE
	 * (4 ms ticks here), so a 20 ms backoff could fire 3 ms early on the
	 * precise clock the tests measure with (took 17 < 18, once in a run).
	 */
	ck_assert_ptr_nonnull(ec);
	ck_assert_int_eq(event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER), 0);
	af_base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(af_base);
	curl = curl_loop_new(af_base, err, sizeof(err));
	ck_assert_msg(curl != NULL, "%s", err);
	runner = child_runner_new(af_base, err, sizeof(err));
	ck_assert_msg(runner != NULL, "%s", err);
	tick = event_new(af_base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	tick_last_ms = 0;
	tick_max_gap_ms = 0;
	memset(&rx, 0, sizeof(rx));
	receiver_start(&rx);
}

void af_teardown(void)
{
	receiver_stop(&rx);
	child_runner_free(runner);
	curl_loop_free(curl);
	event_free(tick);
	event_base_free(af_base);
}

static int bound_port(int *out_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*out_fd = fd;
	return ntohs(sa.sin_port);
}

int free_port(void)
{
	int fd, port = bound_port(&fd);

	close(fd);
	return port;
}

int hanging_port(int *fd)
{
	int port = bound_port(fd);

	ck_assert_int_eq(listen(*fd, 16), 0);
	return port;
}

struct alerter *new_alerter(const struct conf_alert *alerts, size_t n)
{
	char err[256];
	struct alerter *a = alerter_new(af_base, curl, runner, alerts, n, err, sizeof(err));

	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

uint64_t drain(struct alerter *a, uint64_t ms)
{
	uint64_t start = clock_mono_ms(), end = start + ms;

	while (alerter_pending(a) > 0 && clock_mono_ms() < end)
		event_base_loop(af_base, EVLOOP_ONCE);
	ck_assert_uint_eq(alerter_pending(a), 0);
	return clock_mono_ms() - start;
}

void run_for(uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end)
		event_base_loop(af_base, EVLOOP_ONCE);
}

void run_until_count(const struct receiver *r, int count, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (r->count < count && clock_mono_ms() < end)
		event_base_loop(af_base, EVLOOP_ONCE);
}

FILE *capture_start(void)
{
	FILE *cap = tmpfile();

	ck_assert_ptr_nonnull(cap);
	fflush(stderr);
	saved_stderr = dup(2);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fileno(cap), 2), 0);
	return cap;
}

void capture_end(void)
{
	fflush(stderr);
	ck_assert_int_ge(dup2(saved_stderr, 2), 0);
	close(saved_stderr);
	saved_stderr = -1;
}

int count_lines(FILE *f, const char *needle)
{
	char line[2048];
	int n = 0;

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	return n;
}
