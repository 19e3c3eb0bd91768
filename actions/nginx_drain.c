/*
 * actions/nginx_drain.c — wait for the requests nginx was serving before a
 * reload.  `nginx -s reload` is graceful: the master starts new workers
 * with the new upstream file and tells the old ones to finish what they
 * are doing and exit.  So the old workers being gone means the old routing
 * carries no more traffic.
 *
 * Just before an apply's reload we read the master's pid from pid_file and
 * note its children (pid and start time) from /proc; a drain then polls,
 * on a short timer, until none of them is still a live child of that
 * master.  A pid counts only while its start time and parent still match,
 * so a pid the kernel reused for something else is not waited for.  These
 * are a few tiny /proc reads per poll, cheap enough for the event loop.
 *
 * When the workers could not be noted (no pid_file, an unreadable pid
 * file, an apply that did not reload) the drain cannot see the traffic and
 * waits its whole timeout: the safe fallback.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "actions/nginx.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"

#define DRAIN_POLL_MS 25
/* Far above any real /proc/PID/stat line or pid file; anything larger is not one. */
#define PROC_MAX_READ (64u * 1024)

struct proc_id {
	pid_t pid;
	unsigned long long start; /* clock ticks after boot: tells a reused pid apart */
};

/* The master's workers at one moment, or why they are not known. */
struct worker_set {
	bool known;
	pid_t master;
	struct proc_id *ids;
	size_t n;
	char why[384];
};

struct ngx_drain {
	char *upstream;
	char *pid_file;
	struct worker_set noted; /* before the reload of the apply in flight */
	struct worker_set last;  /* confirmed by the last apply's reload */
	/* The drain in flight. */
	struct worker_set watch;
	struct event *timer;
	bool running;
	uint64_t timeout_ms;
	uint64_t deadline;
	act_done_fn cb;
	void *arg;
};

static void set_unknown(struct worker_set *s, const char *why)
{
	free(s->ids);
	memset(s, 0, sizeof(*s));
	snprintf(s->why, sizeof(s->why), "%s", why);
}

/* dst takes over src; src becomes unknown. */
static void set_move(struct worker_set *dst, struct worker_set *src)
{
	free(dst->ids);
	*dst = *src;
	memset(src, 0, sizeof(*src));
	snprintf(src->why, sizeof(src->why), "no workers noted");
}

static int set_copy(struct worker_set *dst, const struct worker_set *src)
{
	free(dst->ids);
	*dst = *src;
	dst->ids = NULL;
	if (src->n == 0)
		return 0;
	dst->ids = malloc(src->n * sizeof(*dst->ids));
	if (!dst->ids) {
		set_unknown(dst, "out of memory");
		return -1;
	}
	memcpy(dst->ids, src->ids, src->n * sizeof(*dst->ids));
	return 0;
}

static int set_add(struct worker_set *s, pid_t pid, unsigned long long start)
{
	struct proc_id *ids = realloc(s->ids, (s->n + 1) * sizeof(*ids));

	if (!ids)
		return -1;
	s->ids = ids;
	s->ids[s->n].pid = pid;
	s->ids[s->n].start = start;
	s->n++;
	return 0;
}

/*
 * Parent, state and start time of PID from /proc/PID/stat.  0, or -1 when
 * the process is gone or the line does not parse.  The command name may
 * hold spaces and parentheses, so the fields are counted from the last ')'.
 */
static int proc_stat(pid_t pid, pid_t *ppid, char *state, unsigned long long *start)
{
	char path[64], err[256], *data = NULL, *p;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (fs_read_all(path, PROC_MAX_READ, &data, &len, err, sizeof(err)) != 0)
		return -1;
	p = strrchr(data, ')');
	rc = -1;
	if (p) {
		long pp;

		/* state(3) ppid(4) then 17 fields up to starttime(22). */
		if (sscanf(p + 1, " %c %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
			   " %*s %*s %*s %*s %*s %llu", state, &pp, start) == 3) {
			*ppid = (pid_t)pp;
			rc = 0;
		}
	}
	free(data);
	return rc;
}

/* True while ID is still running as a child of MASTER. */
static bool proc_alive(const struct proc_id *id, pid_t master)
{
	pid_t ppid;
	char state;
	unsigned long long start;

	if (proc_stat(id->pid, &ppid, &state, &start) < 0)
		return false;
	/* An exited worker the master has not reaped yet serves nothing. */
	if (state == 'Z' || state == 'X')
		return false;
	return ppid == master && start == id->start;
}

/* Add PID to s if it is a live child of s->master. */
static int note_if_child(struct worker_set *s, pid_t pid)
{
	pid_t ppid;
	char state;
	unsigned long long start;

	if (proc_stat(pid, &ppid, &state, &start) < 0 || ppid != s->master ||
	    state == 'Z' || state == 'X')
		return 0;
	return set_add(s, pid, start);
}

static bool parse_pid(const char *text, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || v <= 0 || (long)(pid_t)v != v)
		return false;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return false;
	*pid = (pid_t)v;
	return true;
}

/* Every process whose parent is s->master, the slow way: one stat per process. */
static int scan_all_procs(struct worker_set *s, char *err, size_t errlen)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		snprintf(err, errlen, "open /proc: %s", strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		pid_t pid;

		if (parse_pid(de->d_name, &pid))
			rc = note_if_child(s, pid);
	}
	closedir(dir);
	if (rc < 0)
		snprintf(err, errlen, "list nginx workers: out of memory");
	return rc;
}

/* The children of s->master: its /proc children list, or a scan of /proc. */
static int list_children(struct worker_set *s, char *err, size_t errlen)
{
	char path[96], *data = NULL, *p, *end;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)s->master,
		 (long)s->master);
	rc = fs_read_all(path, PROC_MAX_READ, &data, &len, err, errlen);
	if (rc < 0)
		return -1;
	/* Kernels built without CONFIG_PROC_CHILDREN have no such file. */
	if (rc == 1)
		return scan_all_procs(s, err, errlen);
	for (p = data; rc == 0 && *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 0)
			rc = note_if_child(s, (pid_t)v);
	}
	free(data);
	if (rc < 0)
		snprintf(err, errlen, "list nginx workers: out of memory");
	return rc;
}

/* Fill s with the workers of the master named in pid_file; -1 with err. */
static int note_workers(struct worker_set *s, const char *pid_file, char *err, size_t errlen)
{
	char e[256], *data = NULL, state;
	size_t len;
	pid_t ppid;
	unsigned long long start;
	int rc = fs_read_all(pid_file, PROC_MAX_READ, &data, &len, e, sizeof(e));

	if (rc != 0) {
		snprintf(err, errlen, "pid file %s: %s", pid_file, rc == 1 ? "missing" : e);
		return -1;
	}
	if (!parse_pid(data, &s->master)) {
		snprintf(err, errlen, "pid file %s: no pid in it", pid_file);
		free(data);
		return -1;
	}
	free(data);
	if (proc_stat(s->master, &ppid, &state, &start) < 0) {
		snprintf(err, errlen, "nginx master %ld (from %s) is not running",
			 (long)s->master, pid_file);
		return -1;
	}
	if (list_children(s, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "nginx master %ld: %s", (long)s->master, e);
		return -1;
	}
	s->known = true;
	return 0;
}

void ngx_drain_note_workers(struct ngx_drain *d)
{
	char err[300], count[32];
	struct worker_set *s = &d->noted;

	set_unknown(s, "no pid_file configured for nginx, so in-flight requests cannot be seen");
	if (!d->pid_file)
		return;
	if (note_workers(s, d->pid_file, err, sizeof(err)) < 0) {
		char why[340];

		vlog(VLOG_WARNING, "nginx", "cannot note the nginx workers: "
		     "a drain will wait its whole timeout", "upstream", d->upstream,
		     "error", err, NULL);
		snprintf(why, sizeof(why), "nginx workers unknown: %s", err);
		set_unknown(s, why);
		return;
	}
	snprintf(count, sizeof(count), "%zu", s->n);
	vlog(VLOG_DEBUG, "nginx", "workers noted before reload", "upstream", d->upstream,
	     "workers", count, NULL);
}

void ngx_drain_apply_started(struct ngx_drain *d)
{
	set_unknown(&d->last, "the last apply did not reload nginx");
	set_unknown(&d->noted, "no workers noted");
}

void ngx_drain_reloaded(struct ngx_drain *d)
{
	set_move(&d->last, &d->noted);
}

static size_t count_alive(const struct worker_set *s)
{
	size_t alive = 0;

	for (size_t i = 0; i < s->n; i++)
		alive += proc_alive(&s->ids[i], s->master);
	return alive;
}

static int drain_arm(struct ngx_drain *d, uint64_t ms)
{
	struct timeval tv = clock_tv_ms(ms);

	return evtimer_add(d->timer, &tv);
}

/* End the drain and report; the callback is last since it may free d. */
static void drain_finish(struct ngx_drain *d, const char *note)
{
	act_done_fn cb = d->cb;
	void *arg = d->arg;

	d->running = false;
	d->cb = NULL;
	d->arg = NULL;
	set_unknown(&d->watch, "no drain running");
	/* The caller logs the note where it matters (the switchover), so this stays quiet. */
	if (note)
		vlog(VLOG_INFO, "nginx", "drain ended", "upstream", d->upstream, "detail", note, NULL);
	else
		vlog(VLOG_INFO, "nginx", "drained", "upstream", d->upstream, NULL);
	cb(arg, true, note);
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ngx_drain *d = arg;
	uint64_t now = clock_mono_ms();
	char note[512];
	size_t alive;

	(void)fd;
	(void)what;
	if (!d->watch.known) {
		snprintf(note, sizeof(note), "drain waited the whole %llu ms: %s",
			 (unsigned long long)d->timeout_ms, d->watch.why);
		drain_finish(d, note);
		return;
	}
	alive = count_alive(&d->watch);
	if (alive == 0) {
		drain_finish(d, NULL);
		return;
	}
	if (now >= d->deadline) {
		snprintf(note, sizeof(note),
			 "drain timed out after %llu ms: %zu old nginx worker(s) still running",
			 (unsigned long long)d->timeout_ms, alive);
		drain_finish(d, note);
		return;
	}
	/* Only a broken event base refuses a timer; stop rather than hang the caller. */
	if (drain_arm(d, d->deadline - now < DRAIN_POLL_MS ? d->deadline - now : DRAIN_POLL_MS) < 0)
		drain_finish(d, "drain stopped early: cannot arm its timer");
}

int ngx_drain_start(struct ngx_drain *d, uint64_t timeout_ms, act_done_fn cb, void *arg,
		    char *err, size_t errlen)
{
	char count[32];

	if (d->running) {
		snprintf(err, errlen, "nginx %s: a drain is already running", d->upstream);
		return -1;
	}
	if (set_copy(&d->watch, &d->last) < 0) {
		snprintf(err, errlen, "nginx %s: drain: out of memory", d->upstream);
		return -1;
	}
	/* The first look is on the next loop turn, so cb never runs inside this call. */
	if (drain_arm(d, d->watch.known ? 0 : timeout_ms) < 0) {
		snprintf(err, errlen, "nginx %s: drain: cannot arm a timer", d->upstream);
		return -1;
	}
	d->running = true;
	d->cb = cb;
	d->arg = arg;
	d->timeout_ms = timeout_ms;
	d->deadline = clock_mono_ms() + timeout_ms;
	snprintf(count, sizeof(count), "%zu", d->watch.n);
	vlog(VLOG_INFO, "nginx", "draining", "upstream", d->upstream,
	     "old_workers", d->watch.known ? count : "unknown", NULL);
	return 0;
}

void ngx_drain_cancel(struct ngx_drain *d)
{
	if (!d || !d->running)
		return;
	evtimer_del(d->timer);
	d->running = false;
	d->cb = NULL;
	d->arg = NULL;
	set_unknown(&d->watch, "no drain running");
	vlog(VLOG_WARNING, "nginx", "drain cancelled", "upstream", d->upstream, NULL);
}

struct ngx_drain *ngx_drain_new(struct event_base *base, const char *upstream,
				const char *pid_file, char *err, size_t errlen)
{
	struct ngx_drain *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "nginx drain: out of memory");
		return NULL;
	}
	d->upstream = strdup(upstream);
	d->pid_file = pid_file ? strdup(pid_file) : NULL;
	d->timer = evtimer_new(base, drain_tick, d);
	if (!d->upstream || (pid_file && !d->pid_file) || !d->timer) {
		snprintf(err, errlen, "nginx drain: out of memory");
		ngx_drain_free(d);
		return NULL;
	}
	set_unknown(&d->last, "no apply has reloaded nginx yet");
	set_unknown(&d->noted, "no workers noted");
	set_unknown(&d->watch, "no drain running");
	return d;
}

void ngx_drain_free(struct ngx_drain *d)
{
	if (!d)
		return;
	ngx_drain_cancel(d);
	if (d->timer)
		event_free(d->timer);
	free(d->noted.ids);
	free(d->last.ids);
	free(d->watch.ids);
	free(d->upstream);
	free(d->pid_file);
	free(d);
}
