/*
 * monitor/control_gate.c — the control API's connection cap, descriptor
 * reserve and accept backoff (see control_gate.h).
 *
 * libevent 2.1's evhttp has no connection limit, and its one public hook
 * on a connection's end (evhttp_connection_set_closecb) needs the
 * connection, which an accept does not hand out.  It does hand out the
 * bufferevent it is about to wrap (evhttp_set_bevcb); once the accept
 * callback has returned, that bufferevent's callback argument is the new
 * connection.  So each new bufferevent is held (one reference, so the
 * pointer stays valid even if evhttp drops the connection at once) until a
 * deferred step, right after the accept, sets the connection's close
 * callback, which is where the count goes down.
 */
#include "monitor/control_gate.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fdlimit.h"
#include "common/log.h"

#define GATE_PAUSE_MIN_MS 50
#define GATE_PAUSE_MAX_MS 2000
/* A paused listener is logged at most this often (with how many pauses since). */
#define GATE_LOG_EVERY_MS 10000

struct control_gate {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume;   /* the end of a pause */
	struct event *adopt;    /* the deferred step after accepts */
	struct bufferevent **fresh; /* accepted, close callback not set yet (one ref each) */
	size_t n_fresh, cap_fresh;
	size_t open, cap, reserve;
	bool at_cap;            /* accepting stopped by the cap */
	bool paused;            /* accepting stopped by a pause (resume timer armed) */
	uint64_t pause_ms;      /* the next pause's length */
	uint64_t logged_ms;     /* last warning, monotonic */
	uint64_t pauses;        /* since the last warning */
	gate_fault_fn fault;
	void *fault_arg;
	struct control_gate *next; /* every gate, for on_accept_error */
};

/*
 * The listener's error callback gets the listener's argument, which evhttp
 * owns (it is the evhttp), so a gate is found by its listener here.
 */
static struct control_gate *gates;

static void update_listener(struct control_gate *g)
{
	if (g->paused || g->at_cap)
		evconnlistener_disable(g->listener);
	else
		evconnlistener_enable(g->listener);
}

/* Stop accepting for a while, ever longer while the cause lasts; warn now and then. */
static void pause_accepting(struct control_gate *g, const char *why)
{
	struct timeval tv = clock_tv_ms(g->pause_ms);
	uint64_t now = clock_mono_ms();
	char ms[24], n[24];

	g->pauses++;
	if (g->logged_ms == 0 || now - g->logged_ms >= GATE_LOG_EVERY_MS) {
		snprintf(ms, sizeof(ms), "%" PRIu64, g->pause_ms);
		snprintf(n, sizeof(n), "%" PRIu64, g->pauses);
		vlog(VLOG_WARNING, "control", "not accepting connections for a while", "why", why,
		     "pause_ms", ms, "pauses", n, NULL);
		g->logged_ms = now;
		g->pauses = 0;
	}
	g->paused = true;
	evtimer_add(g->resume, &tv);
	g->pause_ms = g->pause_ms * 2 > GATE_PAUSE_MAX_MS ? GATE_PAUSE_MAX_MS : g->pause_ms * 2;
	update_listener(g);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control_gate *g = arg;

	(void)fd;
	(void)what;
	g->paused = false;
	update_listener(g);
}

/* Fewer than `reserve` descriptors left for the probes: stop taking them. */
static bool short_of_fds(const struct control_gate *g)
{
	size_t limit = fd_limit_soft(), open = fd_open_count();

	if (limit == SIZE_MAX)
		return false;
	return open == SIZE_MAX || open + g->reserve >= limit;
}

static void conn_gone(struct evhttp_connection *evcon, void *arg)
{
	struct control_gate *g = arg;

	(void)evcon;
	g->open--;
	if (g->at_cap && g->open < g->cap) {
		g->at_cap = false;
		update_listener(g);
	}
}

/* Right after the accepts: every new connection gets the close callback. */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct control_gate *g = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < g->n_fresh; i++) {
		bufferevent_data_cb readcb = NULL;
		void *evcon = NULL;

		bufferevent_getcb(g->fresh[i], &readcb, NULL, NULL, &evcon);
		if (readcb && evcon)
			evhttp_connection_set_closecb(evcon, conn_gone, g);
		else
			conn_gone(NULL, g); /* evhttp already dropped it (freed it, callbacks cleared) */
		bufferevent_decref(g->fresh[i]);
	}
	g->n_fresh = 0;
}

/* evhttp's bufferevent for one accepted connection: counted until it closes. */
static struct bufferevent *new_conn(struct event_base *base, void *arg)
{
	struct control_gate *g = arg;
	struct bufferevent *bev;

	if (g->n_fresh == g->cap_fresh) {
		size_t cap = g->cap_fresh ? g->cap_fresh * 2 : 8;
		struct bufferevent **p = realloc(g->fresh, cap * sizeof(*p));

		if (!p)
			return NULL; /* evhttp makes its own then: served, though not counted */
		g->fresh = p;
		g->cap_fresh = cap;
	}
	/* As evhttp's own: no CLOSE_ON_FREE, evhttp closes the socket itself. */
	if (!(bev = bufferevent_socket_new(base, -1, 0)))
		return NULL;
	bufferevent_incref(bev);
	g->fresh[g->n_fresh++] = bev;
	event_active(g->adopt, 0, 0);
	g->open++;
	if (g->open >= g->cap) {
		g->at_cap = true;
		update_listener(g);
	}
	if (short_of_fds(g))
		pause_accepting(g, "few file descriptors left: they are kept for the probes");
	else if (!g->paused)
		g->pause_ms = GATE_PAUSE_MIN_MS;
	return bev;
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct control_gate *g = gates;
	int e = EVUTIL_SOCKET_ERROR();
	char why[96], text[64];

	(void)arg;
	while (g && g->listener != l)
		g = g->next;
	if (!g)
		return;
	snprintf(why, sizeof(why), "accept: %s", fd_errno_text(e, text, sizeof(text)));
	pause_accepting(g, why);
	if (fd_errno_is_local(e) && g->fault) {
		char what[160];

		snprintf(what, sizeof(what), "vigil ran out of its own resources (control socket %s)",
			 why);
		g->fault(g->fault_arg, what);
	}
}

struct control_gate *control_gate_new(struct event_base *base, struct evhttp *http,
				      struct evhttp_bound_socket *bound, size_t cap,
				      size_t reserve, gate_fault_fn fault, void *fault_arg,
				      char *err, size_t errlen)
{
	struct control_gate *g = calloc(1, sizeof(*g));

	if (!g || !(g->resume = evtimer_new(base, on_resume, g)) ||
	    !(g->adopt = event_new(base, -1, 0, on_adopt, g))) {
		if (g && g->resume)
			event_free(g->resume);
		free(g);
		err_set(err, errlen, "control: out of memory");
		return NULL;
	}
	g->base = base;
	g->listener = evhttp_bound_socket_get_listener(bound);
	g->cap = cap ? cap : 1;
	g->reserve = reserve;
	g->pause_ms = GATE_PAUSE_MIN_MS;
	g->fault = fault;
	g->fault_arg = fault_arg;
	evconnlistener_set_error_cb(g->listener, on_accept_error);
	evhttp_set_bevcb(http, new_conn, g);
	g->next = gates;
	gates = g;
	return g;
}

void control_gate_limits(struct control_gate *g, size_t cap, size_t reserve)
{
	g->cap = cap ? cap : 1;
	g->reserve = reserve;
	g->at_cap = g->open >= g->cap;
	update_listener(g);
}

size_t control_gate_open(const struct control_gate *g)
{
	return g->open;
}

void control_gate_free(struct control_gate *g)
{
	struct control_gate **p = &gates;

	if (!g)
		return;
	while (*p && *p != g)
		p = &(*p)->next;
	if (*p)
		*p = g->next;
	on_adopt(-1, 0, g); /* drop the references still held */
	event_free(g->adopt);
	event_free(g->resume);
	free(g->fresh);
	free(g);
}
