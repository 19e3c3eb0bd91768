/*
 * common/curl_loop.c — libcurl's multi-socket API on the libevent base.
 *
 * The hiperfifo shape: curl tells us which sockets it wants watched (one
 * persistent event per socket, kept in curl's own per-socket pointer via
 * curl_multi_assign) and when it wants a timeout (one evtimer).  Either
 * firing calls curl_multi_socket_action, then a completion sweep hands each
 * finished transfer to its owner.  Cost is per socket event, never per
 * handle, so ten thousand idle transfers cost nothing while they wait.
 *
 * The loop runs several multi handles ("shards"), each with its own
 * connection cache.  libcurl 7.88 walks a multi's whole connection cache on
 * every curl_multi_remove_handle; with one multi and 10,000 kept-alive
 * probe connections that walk made probing quadratic (the probes benchmark
 * collapsed at ~2,100 probes/s).  A transfer goes to the shard its key
 * names, so one target always lands on the same cache and keeps reusing its
 * connection, while no cache grows past a few hundred entries.
 */
#include "common/curl_loop.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

/* Connection cache floor per shard; see cache_limit() for why it is large. */
#define CURL_LOOP_MIN_CONNECTS 1024L
#define CURL_LOOP_SHARDS 64

struct curl_loop;

/* One multi handle with its timer and connection cache; created on first use. */
struct shard {
	struct curl_loop *loop;
	CURLM *multi;
	struct event *timer;
	long maxconnects; /* current CURLMOPT_MAXCONNECTS */
	size_t active;    /* transfers in this shard */
};

struct curl_loop {
	struct event_base *base;
	struct shard shards[CURL_LOOP_SHARDS];
	size_t active;    /* transfers added and not yet done or removed */
	struct xfer *xfers; /* those transfers, for curl_loop_free */
};

/* One per transfer in flight; CURLOPT_PRIVATE points here. */
struct xfer {
	struct curl_loop *loop;
	struct shard *shard;
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
	x->shard->active--;
}

/*
 * Hand every finished transfer to its owner.  The owner may add, remove or
 * free easy handles (its own or others) from its callback, so everything
 * needed is copied out of curl's message and our record before the call,
 * and the message queue is read afresh after each one: curl drops a
 * removed handle's pending message itself.
 */
static void sweep(struct shard *sh)
{
	struct curl_loop *loop = sh->loop;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(sh->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct xfer *x = NULL;

		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(sh->multi, easy);
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

static void socket_action(struct shard *sh, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(sh->multi, fd, flags, &running);

	if (mc != CURLM_OK)
		vlog(VLOG_ERR, "curl", "socket action failed",
		     "error", curl_multi_strerror(mc), NULL);
	sweep(sh);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct shard *sh = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	socket_action(sh, (curl_socket_t)fd, flags);
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
	struct shard *sh = userp;

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(sh->timer);
	struct timeval tv = clock_tv_ms((uint64_t)timeout_ms);
	return evtimer_add(sh->timer, &tv);
}

/*
 * CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket, in the
 * direction curl wants.  The event itself is curl's per-socket pointer;
 * curl forgets that pointer with the socket on REMOVE.
 */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct shard *sh = userp;
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
		ev = event_new(sh->loop->base, s, kind, on_socket, sh);
		if (ev == NULL || curl_multi_assign(sh->multi, s, ev) != CURLM_OK) {
			if (ev != NULL)
				event_free(ev);
			return -1;
		}
	} else {
		/* event_assign needs a non-pending event: drop the old interest first. */
		event_del(ev);
		if (event_assign(ev, sh->loop->base, s, kind, on_socket, sh) < 0)
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

static void shard_close(struct shard *sh)
{
	/* Closes cached connections; curl says REMOVE for each socket. */
	if (sh->multi != NULL)
		curl_multi_cleanup(sh->multi);
	if (sh->timer != NULL)
		event_free(sh->timer);
	sh->multi = NULL;
	sh->timer = NULL;
}

static int shard_open(struct curl_loop *loop, struct shard *sh)
{
	sh->loop = loop;
	sh->maxconnects = cache_limit();
	sh->multi = curl_multi_init();
	sh->timer = evtimer_new(loop->base, on_timer, sh);
	if (sh->multi == NULL || sh->timer == NULL ||
	    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
	    curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh) != CURLM_OK ||
	    curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh) != CURLM_OK ||
	    curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, sh->maxconnects) != CURLM_OK) {
		shard_close(sh);
		return -1;
	}
	return 0;
}

struct curl_loop *curl_loop_new(struct event_base *base, char *err, size_t errlen)
{
	struct curl_loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL) {
		err_set(err, errlen, "curl loop: out of memory");
		return NULL;
	}
	loop->base = base;
	/* Shard 0 serves unkeyed transfers; opening it now reports problems early. */
	if (shard_open(loop, &loop->shards[0]) < 0) {
		err_set(err, errlen, "curl loop: cannot create or configure a multi handle");
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
	while (loop->xfers != NULL)
		curl_loop_remove(loop, loop->xfers->easy);
	for (size_t i = 0; i < CURL_LOOP_SHARDS; i++)
		shard_close(&loop->shards[i]);
	free(loop);
}

int curl_loop_add(struct curl_loop *loop, CURL *easy, curl_done_fn cb, void *arg)
{
	return curl_loop_add_keyed(loop, 0, easy, cb, arg);
}

int curl_loop_add_keyed(struct curl_loop *loop, unsigned key, CURL *easy, curl_done_fn cb,
			void *arg)
{
	struct shard *sh = &loop->shards[key % CURL_LOOP_SHARDS];
	struct xfer *x = NULL;

	/* Already running: keep that transfer's record and owner intact. */
	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || x != NULL)
		return -1;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	if (sh->multi == NULL && shard_open(loop, sh) < 0) {
		free(x);
		return -1;
	}
	x->loop = loop;
	x->shard = sh;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x) != CURLE_OK) {
		free(x);
		return -1;
	}
	if (curl_multi_add_handle(sh->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return -1;
	}
	x->next = loop->xfers;
	if (x->next != NULL)
		x->next->prev = x;
	loop->xfers = x;
	loop->active++;
	sh->active++;
	/* Many transfers at once need at least one cached connection each. */
	if ((long)sh->active > sh->maxconnects / 2) {
		sh->maxconnects = (long)sh->active * 2;
		curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, sh->maxconnects);
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
	curl_multi_remove_handle(x->shard->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	xfer_unlink(loop, x);
	free(x);
}
