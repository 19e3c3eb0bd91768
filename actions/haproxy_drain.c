/*
 * actions/haproxy_drain.c — wait for the sessions haproxy still carries to
 * the servers an apply set to `drain`.
 *
 * In drain a server gets no new traffic but keeps what it has, so once its
 * current sessions (scur, plus qcur waiting for it) are 0 the old routing
 * carries nothing more.  The drain polls `show stat B 4 -1` every
 * DRAIN_POLL_MS until then (or until the timeout), sets those servers to
 * `maint`, and saves the state file again so a reload keeps maint.
 *
 * A server a later apply took back (made primary or standby again) is not
 * set to maint: the drain only finishes what it waited for.  Without a
 * socket the sessions cannot be seen and a drain waits its whole timeout.
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"
#include "common/clock.h"
#include "common/log.h"

#define DRAIN_POLL_MS 50

enum drain_phase { D_WAIT, D_POLL, D_MAINT, D_SAVE };

struct hap_drain {
	struct event_base *base;
	const struct hap_addr *addr; /* NULL: no socket */
	const char *backend;         /* the controller's, which outlives the drain */
	const char *state_file;
	uint64_t cmd_timeout_ms;
	/* Servers the last apply left in `drain`. */
	char **set;
	size_t n_set;
	/* The drain in flight. */
	bool running;
	enum drain_phase phase;
	char **watch;
	size_t n_watch, next;
	struct hap_srv srv[CONF_MAX_NODES];
	struct event *timer;
	struct hap_cli *cli;
	uint64_t timeout_ms, deadline;
	char note[768];
	char last_error[300];
	act_done_fn cb;
	void *arg;
};

static void list_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* A copy of n names (NULL when n is 0); -1 when out of memory. */
static int list_dup(char *const *names, size_t n, char ***out)
{
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	for (size_t i = 0; *out && i < n; i++) {
		(*out)[i] = strdup(names[i]);
		if (!(*out)[i]) {
			list_free(*out, i);
			*out = NULL;
		}
	}
	return *out ? 0 : -1;
}

bool hap_drain_has(const struct hap_drain *d, const char *name)
{
	for (size_t i = 0; i < d->n_set; i++)
		if (strcmp(d->set[i], name) == 0)
			return true;
	return false;
}

static void note_add(struct hap_drain *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The note for the caller collects every problem, "; "-separated. */
static void note_add(struct hap_drain *d, const char *fmt, ...)
{
	size_t used = strlen(d->note);
	va_list ap;

	if (used + 3 >= sizeof(d->note))
		return;
	if (used) {
		memcpy(d->note + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(d->note + used, sizeof(d->note) - used, fmt, ap);
	va_end(ap);
}

static void drain_stop(struct hap_drain *d)
{
	evtimer_del(d->timer);
	hap_cli_cancel(d->cli);
	d->cli = NULL;
	list_free(d->watch, d->n_watch);
	d->watch = NULL;
	d->n_watch = 0;
	d->running = false;
	d->cb = NULL;
	d->arg = NULL;
}

/* End the drain: ok, with the note when there is one; the callback is last. */
static void drain_finish(struct hap_drain *d)
{
	act_done_fn cb = d->cb;
	void *arg = d->arg;
	char note[sizeof(d->note)];

	snprintf(note, sizeof(note), "%s", d->note);
	drain_stop(d);
	if (note[0])
		vlog(VLOG_INFO, "haproxy", "drain ended", "backend", d->backend, "detail", note,
		     NULL);
	else
		vlog(VLOG_INFO, "haproxy", "drained", "backend", d->backend, NULL);
	cb(arg, true, note[0] ? note : NULL);
}

static void arm(struct hap_drain *d, uint64_t ms)
{
	struct timeval tv = clock_tv_ms(ms);

	/* Only a broken event base refuses a timer; stop rather than hang the caller. */
	if (evtimer_add(d->timer, &tv) < 0) {
		note_add(d, "drain stopped early: cannot arm its timer");
		drain_finish(d);
	}
}

static void on_cli(void *arg, const char *answer, const char *error);

static void send_cmd(struct hap_drain *d, enum drain_phase phase, const char *cmd)
{
	d->phase = phase;
	d->cli = hap_cli_run(d->base, d->addr, cmd, d->cmd_timeout_ms, on_cli, d);
	if (!d->cli) {
		note_add(d, "%s: out of memory", cmd);
		drain_finish(d);
	}
}

/* The next watched server still draining goes to maint; then the state file. */
static void maint_next(struct hap_drain *d)
{
	char cmd[256];

	while (d->next < d->n_watch && !hap_drain_has(d, d->watch[d->next]))
		d->next++;
	if (d->next < d->n_watch) {
		snprintf(cmd, sizeof(cmd), "set server %s/%s state maint", d->backend,
			 d->watch[d->next++]);
		send_cmd(d, D_MAINT, cmd);
		return;
	}
	if (d->state_file && d->phase != D_SAVE) {
		send_cmd(d, D_SAVE, "show servers state");
		return;
	}
	drain_finish(d);
}

/* The wait is over (drained or out of time): what was waited for goes to maint. */
static void wait_over(struct hap_drain *d)
{
	d->next = 0;
	maint_next(d);
}

/* A maint command done: that server no longer drains. */
static void maint_answered(struct hap_drain *d, const char *answer, const char *error)
{
	const char *name = d->watch[d->next - 1];
	char ex[240];

	while (answer && (*answer == '\n' || *answer == ' '))
		answer++;
	if (error || (answer && *answer)) {
		if (!error)
			hap_answer_excerpt(answer, ex, sizeof(ex));
		note_add(d, "setting %s to maint failed: %s", name, error ? error : ex);
		vlog(VLOG_ERR, "haproxy", "setting a drained server to maint failed",
		     "backend", d->backend, "server", name, "error", error ? error : ex, NULL);
	} else {
		vlog(VLOG_NOTICE, "haproxy", "drained server set to maint", "backend", d->backend,
		     "server", name, NULL);
	}
	for (size_t i = 0; i < d->n_set; i++) {
		if (strcmp(d->set[i], name) == 0) {
			free(d->set[i]);
			d->set[i] = d->set[--d->n_set];
			break;
		}
	}
	maint_next(d);
}

/* Sessions on the watched servers, or -1 (why in last_error). */
static long count_sessions(struct hap_drain *d, const char *answer, const char *error)
{
	long total = 0;

	if (error) {
		snprintf(d->last_error, sizeof(d->last_error), "%s", error);
		return -1;
	}
	if (hap_parse_stat(answer, d->backend, d->watch, d->n_watch, d->srv, d->last_error,
			   sizeof(d->last_error)) < 0)
		return -1;
	for (size_t i = 0; i < d->n_watch; i++)
		total += d->srv[i].sessions;
	return total;
}

static void polled(struct hap_drain *d, const char *answer, const char *error)
{
	long n = count_sessions(d, answer, error);
	uint64_t now = clock_mono_ms();

	if (n == 0) {
		wait_over(d);
		return;
	}
	if (now >= d->deadline) {
		if (n < 0)
			note_add(d, "drain waited the whole %llu ms: cannot see haproxy's sessions: %s",
				 (unsigned long long)d->timeout_ms, d->last_error);
		else
			note_add(d, "drain timed out after %llu ms: %ld session(s) still on the "
				 "drained haproxy server(s)", (unsigned long long)d->timeout_ms, n);
		wait_over(d);
		return;
	}
	arm(d, d->deadline - now < DRAIN_POLL_MS ? d->deadline - now : DRAIN_POLL_MS);
}

static void on_cli(void *arg, const char *answer, const char *error)
{
	struct hap_drain *d = arg;
	char err[400];

	d->cli = NULL;
	switch (d->phase) {
	case D_POLL:
		polled(d, answer, error);
		return;
	case D_MAINT:
		maint_answered(d, answer, error);
		return;
	case D_SAVE:
		if (error)
			note_add(d, "state file not saved: %s", error);
		else if (hap_save_state(answer, d->state_file, err, sizeof(err)) < 0)
			note_add(d, "%s", err);
		drain_finish(d);
		return;
	case D_WAIT:
		break;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hap_drain *d = arg;
	char cmd[160];

	(void)fd;
	(void)what;
	if (d->phase == D_WAIT) {
		if (!d->addr)
			note_add(d, "drain waited the whole %llu ms: no haproxy stats socket "
				 "configured, so in-flight sessions cannot be seen",
				 (unsigned long long)d->timeout_ms);
		drain_finish(d);
		return;
	}
	snprintf(cmd, sizeof(cmd), "show stat %s 4 -1", d->backend);
	send_cmd(d, D_POLL, cmd);
}

int hap_drain_start(struct hap_drain *d, uint64_t timeout_ms, act_done_fn cb, void *arg,
		    char *err, size_t errlen)
{
	char count[32];

	if (d->running) {
		snprintf(err, errlen, "haproxy %s: a drain is already running", d->backend);
		return -1;
	}
	if (list_dup(d->set, d->n_set, &d->watch) < 0) {
		snprintf(err, errlen, "haproxy %s: drain: out of memory", d->backend);
		return -1;
	}
	d->n_watch = d->n_set;
	d->note[0] = '\0';
	d->last_error[0] = '\0';
	d->timeout_ms = timeout_ms;
	d->deadline = clock_mono_ms() + timeout_ms;
	/* Nothing was left draining: done on the next turn.  No socket: the whole wait. */
	d->phase = d->addr && d->n_watch ? D_POLL : D_WAIT;
	{
		struct timeval tv = clock_tv_ms(d->addr ? 0 : timeout_ms);

		/* The first look is on the next loop turn, so cb never runs inside this call. */
		if (evtimer_add(d->timer, &tv) < 0) {
			drain_stop(d);
			snprintf(err, errlen, "haproxy %s: drain: cannot arm a timer", d->backend);
			return -1;
		}
	}
	d->running = true;
	d->cb = cb;
	d->arg = arg;
	snprintf(count, sizeof(count), "%zu", d->n_watch);
	vlog(VLOG_INFO, "haproxy", "draining", "backend", d->backend,
	     "servers", d->addr ? count : "unknown (no socket)", NULL);
	return 0;
}

void hap_drain_cancel(struct hap_drain *d)
{
	if (!d || !d->running)
		return;
	drain_stop(d);
	vlog(VLOG_WARNING, "haproxy", "drain cancelled", "backend", d->backend, NULL);
}

int hap_drain_set(struct hap_drain *d, char *const *names, size_t n)
{
	char **copy;

	if (list_dup(names, n, &copy) < 0)
		return -1;
	list_free(d->set, d->n_set);
	d->set = copy;
	d->n_set = n;
	return 0;
}

struct hap_drain *hap_drain_new(struct event_base *base, const struct conf_balancer *conf,
				const struct hap_addr *addr, char *err, size_t errlen)
{
	struct hap_drain *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "haproxy drain: out of memory");
		return NULL;
	}
	d->base = base;
	d->addr = addr;
	d->backend = conf->backend;
	d->state_file = conf->state_file;
	d->cmd_timeout_ms = conf->timeout_ms;
	d->timer = evtimer_new(base, on_timer, d);
	if (!d->timer) {
		snprintf(err, errlen, "haproxy drain: cannot create a timer");
		hap_drain_free(d);
		return NULL;
	}
	return d;
}

void hap_drain_free(struct hap_drain *d)
{
	if (!d)
		return;
	hap_drain_cancel(d);
	if (d->timer)
		event_free(d->timer);
	list_free(d->set, d->n_set);
	free(d);
}
