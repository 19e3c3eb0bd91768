/*
 * common/curl_loop.c — libcurl's multi-socket API on the libevent base.
 *
 * The hiperfifo shape: curl tells us which sockets it wants watched (one
 * persistent event per socket, kept in curl's own per-socket pointer via
 * curl_multi_assign) and when it wants a timeout (one evtimer).  Either
 * firing calls curl_multi_socket_action, then a completion sweep hands each
 * finished transfer to its owner.  Cost is per socket event, never per
 * handle, so ten thousand idle transfers cost nothing while they wait.
 */
#include "common/curl_loop.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "common/log.h"

/* Connection cache floor; see cache_limit() for why it is large. */
#define CURL_LOOP_MIN_CONNECTS 1024L

struct curl_loop {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	long maxconnects; /* current CURLMOPT_MAXCONNECTS */
	size_t active;    /* transfers added and not yet done or removed */
	struct xfer *xfers; /* those transfers, for curl_loop_free */
};

/* One per transfer in flight; CURLOPT_PRIVATE points here. */
struct xfer {
	struct curl_loop *loop;
	CURL *easy;
	curl_done_fn cb;
	void *arg;
	struct xfer *prev, *next;
};

static void xfer_unlink(struct curl_loop *loop, struct xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		loop->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	loop->active--;
}

static void set_err(char *err, size_t errlen, const char *what, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, why);
}

/*
 * Hand every finished transfer to its owner.  The owner may add, remove or
 * free easy handles (its own or others) from its callback, so everything
 * needed is copied out of curl's message and our record before the call,
 * and the message queue is read afresh after each one: curl drops a
 * removed handle's pending message itself.
 */
static void sweep(struct curl_loop *loop)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(loop->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct xfer *x = NULL;

		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(loop->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (x == NULL)
			continue;
		xfer_unlink(loop, x);
		curl_done_fn cb = x->cb;
		void *arg = x->arg;
		free(x);
		cb(arg, easy, rc);
	}
}

static void socket_action(struct curl_loop *loop, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(loop->multi, fd, flags, &running);

	if (mc != CURLM_OK)
		vlog(VLOG_ERR, "curl", "socket action failed",
		     "error", curl_multi_strerror(mc), NULL);
	sweep(loop);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct curl_loop *loop = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	socket_action(loop, (curl_socket_t)fd, flags);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes, 0 means "as soon as possible". */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_loop *loop = userp;

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(loop->timer);
	struct timeval tv = clock_tv_ms((uint64_t)timeout_ms);
	return evtimer_add(loop->timer, &tv);
}

/*
 * CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket, in the
 * direction curl wants.  The event itself is curl's per-socket pointer;
 * curl forgets that pointer with the socket on REMOVE.
 */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_loop *loop = userp;
	struct event *ev = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev == NULL) {
		ev = event_new(loop->base, s, kind, on_socket, loop);
		if (ev == NULL || curl_multi_assign(loop->multi, s, ev) != CURLM_OK) {
			if (ev != NULL)
				event_free(ev);
			return -1;
		}
	} else {
		/* event_assign needs a non-pending event: drop the old interest first. */
		event_del(ev);
		if (event_assign(ev, loop->base, s, kind, on_socket, loop) < 0)
			return -1;
	}
	return event_add(ev, NULL) < 0 ? -1 : 0;
}

/*
 * How many connections curl may keep.  curl's default (4 x handles added)
 * counts only transfers currently in the multi; probes are added for a
 * millisecond each and removed, so the default shrinks the cache to a few
 * entries and every run would reconnect.  Idle connections are bounded by
 * distinct targets (one per probe) and curl's idle age limit, and curl can
 * never hold more than the fd limit, so three quarters of that limit keeps
 * every probe's connection while leaving fds for new connects and for the
 * rest of the daemon.
 */
static long cache_limit(void)
{
	struct rlimit rl;
	long limit = CURL_LOOP_MIN_CONNECTS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 * 3 > (rlim_t)limit)
		limit = (long)(rl.rlim_cur / 4 * 3);
	return limit;
}

struct curl_loop *curl_loop_new(struct event_base *base, char *err, size_t errlen)
{
	struct curl_loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL) {
		set_err(err, errlen, "curl loop", "out of memory");
		return NULL;
	}
	loop->base = base;
	loop->maxconnects = cache_limit();
	loop->multi = curl_multi_init();
	loop->timer = evtimer_new(base, on_timer, loop);
	if (loop->multi == NULL || loop->timer == NULL) {
		set_err(err, errlen, "curl loop", "cannot create multi handle or timer");
		curl_loop_free(loop);
		return NULL;
	}
	if (curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
	    curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop) != CURLM_OK ||
	    curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop) != CURLM_OK ||
	    curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, loop->maxconnects) != CURLM_OK) {
		set_err(err, errlen, "curl loop", "cannot configure multi handle");
		curl_loop_free(loop);
		return NULL;
	}
	return loop;
}

/* Not from inside a done callback: the sweep still holds the loop. */
void curl_loop_free(struct curl_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->multi != NULL) {
		while (loop->xfers != NULL)
			curl_loop_remove(loop, loop->xfers->easy);
		/* Closes cached connections; curl says REMOVE for each socket. */
		curl_multi_cleanup(loop->multi);
	}
	if (loop->timer != NULL)
		event_free(loop->timer);
	free(loop);
}

int curl_loop_add(struct curl_loop *loop, CURL *easy, curl_done_fn cb, void *arg)
{
	struct xfer *x = NULL;

	/* Already running: keep that transfer's record and owner intact. */
	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || x != NULL)
		return -1;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	x->loop = loop;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x) != CURLE_OK) {
		free(x);
		return -1;
	}
	if (curl_multi_add_handle(loop->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return -1;
	}
	x->next = loop->xfers;
	if (x->next != NULL)
		x->next->prev = x;
	loop->xfers = x;
	loop->active++;
	/* Many transfers at once need at least one cached connection each. */
	if ((long)loop->active > loop->maxconnects / 2) {
		loop->maxconnects = (long)loop->active * 2;
		curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, loop->maxconnects);
	}
	return 0;
}

void curl_loop_remove(struct curl_loop *loop, CURL *easy)
{
	struct xfer *x = NULL;

	if (loop == NULL || easy == NULL)
		return;
	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK ||
	    x == NULL || x->loop != loop)
		return;
	curl_multi_remove_handle(loop->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	xfer_unlink(loop, x);
	free(x);
}
