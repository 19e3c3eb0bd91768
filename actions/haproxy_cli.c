/*
 * actions/haproxy_cli.c — one haproxy Runtime API command, on the event
 * loop.  haproxy's stats socket, outside interactive mode, runs the one
 * command line it is sent, writes the answer and closes: so the answer is
 * whatever arrives before end of stream.  A connection per command costs
 * a loopback connect and keeps the parsing trivial (no prompt to find).
 *
 * The whole command — connect, send, answer — has one deadline; failing
 * to connect is reported through the callback like any other error, on
 * the next loop turn.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "actions/haproxy.h"
#include "common/clock.h"
#include "conf/address.h"

/* `show servers state` of a big haproxy stays far below this. */
#define CLI_MAX_ANSWER (8u << 20)

struct hap_cli {
	struct bufferevent *bev;
	struct event *timer;
	char *verb; /* the command's first words, for messages */
	char sock[128];
	/* A failure found while starting, reported when the timer fires. */
	char early[192];
	bool starting;
	uint64_t timeout_ms;
	hap_cli_fn cb;
	void *arg;
};

int hap_addr_parse(const char *socket, struct hap_addr *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->text, sizeof(out->text), "%s", socket);
	if (socket[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;

		if (strlen(socket) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "socket path %s is too long", socket);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, socket, strlen(socket) + 1);
		out->len = (socklen_t)sizeof(*un);
		return 0;
	}
	{
		struct conf_address a;
		char e[200];

		if (conf_parse_address(socket, &a, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "socket %s: %s", socket, e);
			return -1;
		}
		if (a.family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;

			in->sin_family = AF_INET;
			in->sin_port = htons(a.port);
			in->sin_addr = a.bin.v4;
			out->len = (socklen_t)sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;

			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(a.port);
			in6->sin6_addr = a.bin.v6;
			out->len = (socklen_t)sizeof(*in6);
		}
	}
	return 0;
}

static void cli_free(struct hap_cli *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	free(c->verb);
	free(c);
}

void hap_cli_cancel(struct hap_cli *c)
{
	if (c)
		cli_free(c);
}

/* Free c, then report; the callback may start the next command. */
static void cli_finish(struct hap_cli *c, const char *answer, const char *error)
{
	hap_cli_fn cb = c->cb;
	void *arg = c->arg;

	cli_free(c);
	cb(arg, answer, error);
}

static void cli_fail(struct hap_cli *c, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "haproxy socket %s: %s: %s", c->sock, c->verb, why);
	cli_finish(c, NULL, msg);
}

static void cli_answered(struct hap_cli *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	char *answer = malloc(len + 1);

	if (!answer) {
		cli_fail(c, "out of memory");
		return;
	}
	evbuffer_remove(in, answer, len);
	answer[len] = '\0';
	cli_finish(c, answer, NULL);
	free(answer);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct hap_cli *c = arg;

	if (evbuffer_get_length(bufferevent_get_input(bev)) > CLI_MAX_ANSWER)
		cli_fail(c, "answer too large");
}

static void fail_later(struct hap_cli *c, const char *why);

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hap_cli *c = arg;
	char why[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	snprintf(why, sizeof(why), "%s", strerror(EVUTIL_SOCKET_ERROR()));
	/* libevent may report a refused connect from inside the connect call. */
	if (c->starting) {
		fail_later(c, why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		cli_answered(c);
		return;
	}
	cli_fail(c, why);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hap_cli *c = arg;
	char why[96];

	(void)fd;
	(void)what;
	if (c->early[0]) {
		cli_fail(c, c->early);
		return;
	}
	snprintf(why, sizeof(why), "no answer within %llu ms", (unsigned long long)c->timeout_ms);
	cli_fail(c, why);
}

/* The command as messages quote it: its first line, at most 96 bytes. */
static char *verb_of(const char *cmd)
{
	size_t len = strcspn(cmd, "\n");

	if (len > 96)
		len = 96;
	return strndup(cmd, len);
}

/*
 * A failure found while starting waits for the next loop turn, so the
 * callback never runs inside hap_cli_run.  The first reason wins.
 */
static void fail_later(struct hap_cli *c, const char *why)
{
	struct timeval now = { 0, 0 };

	if (!c->early[0])
		snprintf(c->early, sizeof(c->early), "%s", why[0] ? why : "failed");
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &now);
}

struct hap_cli *hap_cli_run(struct event_base *base, const struct hap_addr *addr,
			    const char *cmd, uint64_t timeout_ms, hap_cli_fn cb, void *arg)
{
	struct hap_cli *c = calloc(1, sizeof(*c));
	struct timeval tv = clock_tv_ms(timeout_ms);

	if (!c)
		return NULL;
	c->cb = cb;
	c->arg = arg;
	c->timeout_ms = timeout_ms;
	c->verb = verb_of(cmd);
	c->timer = evtimer_new(base, on_timer, c);
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->verb || !c->timer || !c->bev || evtimer_add(c->timer, &tv) < 0) {
		cli_free(c);
		return NULL;
	}
	snprintf(c->sock, sizeof(c->sock), "%s", addr->text);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	c->starting = true;
	if (bufferevent_enable(c->bev, EV_READ) < 0 ||
	    bufferevent_write(c->bev, cmd, strlen(cmd)) < 0 ||
	    bufferevent_write(c->bev, "\n", 1) < 0) {
		fail_later(c, "cannot queue the command");
	} else {
		errno = 0;
		if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&addr->sa,
					       (int)addr->len) < 0) {
			char why[160];

			snprintf(why, sizeof(why), "connect: %s",
				 strerror(errno ? errno : ECONNREFUSED));
			fail_later(c, why);
		}
	}
	c->starting = false;
	return c;
}
