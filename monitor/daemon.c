/*
 * monitor/daemon.c — the daemon's life: build the shared loop objects, run
 * the clusters of the current config generation, reload on SIGHUP, stop on
 * SIGTERM/SIGINT (see daemon.h).
 *
 * A reload builds and validates a whole new config; a bad one is logged
 * with every error and the old one keeps running.  A reload that arrives
 * while a failover runs waits for it to finish: a job is never cut short
 * by a config change.
 */
#include "monitor/daemon.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/curl_loop.h"
#include "common/fdlimit.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "monitor/backup_jobs.h"
#include "monitor/control.h"
#include "monitor/event.h"
#include "monitor/journal.h"
#include "monitor/journal_roles.h"

/*
 * The signals the daemon handles: TERM and INT stop it, HUP reloads; the
 * others whose default would kill it silently (leaving a stale socket)
 * are logged and ignored.  Handled, not SIG_IGN: children (hooks) get
 * their default back at exec.
 */
static const int handled_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM };
#define N_SIGNALS (sizeof(handled_signals) / sizeof(handled_signals[0]))

struct mon_daemon {
	struct event_base *base;
	struct curl_loop *curl;
	struct child_runner *children;
	struct control *control;
	struct journal *journal;
	struct backup_set *backups;
	struct event *sigs[N_SIGNALS], *deferred;
	const char *config_path;
	struct config *cfg;
	struct mon_cluster **clusters;
	size_t n_clusters;
	struct config *pending; /* validated new config waiting for jobs to end */
	unsigned generation;
	bool upgrade_due;        /* the journal holds format 1 records: rewrite it */
	int lock_fd;             /* state_dir/vigil.lock, held while we run */
	/* TILT: vigil suspects itself and does not act (see tilt_check). */
	bool tilt;
	uint64_t tilt_until;     /* monotonic ms */
	struct event *tick;
	uint64_t tick_mono, tick_real;
};

#define TILT_TICK_MS 250

/*
 * Descriptors, planned from the config (see fd_plan): what the probes and
 * actions may hold at once is never handed to control connections.
 */
#define FD_FIXED 16        /* stdio, epoll, signal pipe, journal, listener */
#define FD_PER_OBSERVER 2  /* its socket, or an exec probe's pipe */
#define FD_PER_SHARD 2     /* a curl multi's wake-up socketpair */
#define FD_CURL_SHARDS 64  /* curl_loop.c's CURL_LOOP_SHARDS */
#define FD_PER_BALANCER 4  /* a runtime API connection, a check or reload's pipe */
#define FD_PER_ALERT 2
#define FD_PER_BACKUP 6    /* a job's child and its pipes */
#define FD_ACTIONS 32      /* hooks, journal rotation, whatever else runs */

struct fd_plan {
	size_t reserve; /* for probes and actions */
	size_t need;    /* the whole daemon: the soft RLIMIT_NOFILE it must have */
};

static struct fd_plan fd_plan(const struct config *cfg)
{
	size_t reserve = FD_ACTIONS + FD_PER_BACKUP * cfg->n_backups, http = 0;

	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct conf_cluster *c = &cfg->clusters[i];

		reserve += FD_PER_OBSERVER * c->n_nodes * c->n_probes;
		reserve += FD_PER_BALANCER * c->n_balancers + FD_PER_ALERT * c->n_alerts;
		for (size_t p = 0; p < c->n_probes; p++)
			http += c->probes[p].type == CONF_PROBE_HTTP ? c->n_nodes : 0;
	}
	reserve += FD_PER_SHARD * (1 + (http < FD_CURL_SHARDS ? http : FD_CURL_SHARDS));
	return (struct fd_plan){ reserve, FD_FIXED + reserve +
					  (size_t)cfg->control.max_connections };
}

/* Raise the soft fd limit to what cfg needs; -1 with err when the hard limit is lower. */
static int fd_prepare(const struct config *cfg, char *err, size_t errlen)
{
	struct fd_plan plan = fd_plan(cfg);
	size_t raised;
	char n[24];

	if (fd_limit_ensure(plan.need, &raised, err, errlen) < 0)
		return -1;
	if (raised) {
		snprintf(n, sizeof(n), "%zu", raised);
		vlog(VLOG_INFO, "daemon", "raised the soft file descriptor limit", "to", n, NULL);
	}
	return 0;
}

static struct control_limits control_limits(struct mon_daemon *d, const struct config *cfg);

size_t daemon_clusters(const struct mon_daemon *d, struct mon_cluster *const **out)
{
	*out = d->clusters;
	return d->n_clusters;
}

struct mon_cluster *daemon_find_cluster(const struct mon_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_clusters; i++)
		if (strcmp(d->clusters[i]->conf->name, name) == 0)
			return d->clusters[i];
	return NULL;
}

struct backup_set *daemon_backups(const struct mon_daemon *d)
{
	return d->backups;
}

const char *daemon_journal_path(const struct mon_daemon *d)
{
	return journal_path(d->journal);
}

static void free_clusters(struct mon_cluster **cls, size_t n)
{
	for (size_t i = 0; cls && i < n; i++)
		cluster_free(cls[i]);
	free(cls);
}

static void cluster_idle(void *arg)
{
	struct mon_daemon *d = arg;

	/* Never swap clusters from inside one of their callbacks: defer. */
	if (d->pending)
		event_active(d->deferred, 0, 0);
}

/* Tell every cluster (log, journal, its alert sinks). */
static void tilt_event(struct mon_daemon *d, const char *event, const char *reason)
{
	struct mon_event_info ev = { .event = event, .reason = reason };

	for (size_t i = 0; i < d->n_clusters; i++)
		mon_event(d->clusters[i], VLOG_ERR, &ev);
}

static void tilt_enter(struct mon_daemon *d, const char *reason)
{
	d->tilt_until = clock_mono_ms() + d->cfg->tilt_period_ms;
	if (d->tilt)
		return;
	d->tilt = true;
	tilt_event(d, "tilt", reason);
	/* Now, not at the next probe result: a probe vigil cannot run brings none. */
	for (size_t i = 0; i < d->n_clusters; i++)
		cluster_evaluate(d->clusters[i]);
}

static void tilt_leave(struct mon_daemon *d)
{
	d->tilt = false;
	tilt_event(d, "tilt_over", "no new reason to suspect vigil for tilt_period");
	for (size_t i = 0; i < d->n_clusters; i++)
		cluster_evaluate(d->clusters[i]);
}

/* The widest spread of node_down times one broken vantage point can cause. */
static uint64_t at_once_window(const struct mon_daemon *d)
{
	uint64_t w = 100;

	for (size_t i = 0; i < d->n_clusters; i++)
		for (size_t p = 0; p < d->clusters[i]->conf->n_probes; p++) {
			const struct conf_probe *cp = &d->clusters[i]->conf->probes[p];
			uint64_t span = cp->interval_ms + cp->jitter_ms + cp->timeout_ms;

			w = span > w ? span : w;
		}
	return w;
}

/*
 * Every node of every cluster DOWN, all within one probe cycle: far more
 * likely that vigil's own network went away than that everything died.
 */
static void cluster_node_down(void *arg)
{
	struct mon_daemon *d = arg;
	uint64_t first = UINT64_MAX, last = 0;

	for (size_t i = 0; i < d->n_clusters; i++)
		for (size_t n = 0; n < d->clusters[i]->conf->n_nodes; n++) {
			const struct mon_node *node = &d->clusters[i]->nodes[n];

			if (node->health != HEALTH_DOWN)
				return;
			first = node->down_ms < first ? node->down_ms : first;
			last = node->down_ms > last ? node->down_ms : last;
		}
	if (last - first <= at_once_window(d))
		tilt_enter(d, "every node of every cluster went down at once");
}

/* vigil's own fault (a probe it could not run, an accept without fds): TILT, never a node's. */
static void daemon_local_fault(void *arg, const char *what)
{
	tilt_enter(arg, what);
}

/* Loop stalls and wall-clock jumps, measured between ticks. */
static bool any_busy(const struct mon_daemon *d);
static bool any_held(const struct mon_daemon *d);

/*
 * Past journal_max_mb, start a new journal headed by each cluster's
 * checkpoint (the old one is kept as journal.jsonl.1).  Never mid-job: the
 * checkpoint has no place for a failover in flight.
 */
static void maybe_rotate(struct mon_daemon *d)
{
	uint64_t max = (uint64_t)d->cfg->journal_max_mb << 20;
	json_t **head;
	char err[512];
	size_t n = 0;
	bool ok = true;

	if ((journal_size(d->journal) < max && !d->upgrade_due) || any_busy(d) || any_held(d) ||
	    d->pending)
		return;
	if (!(head = calloc(d->n_clusters + 1, sizeof(*head))))
		return;
	for (size_t i = 0; i < d->n_clusters; i++)
		head[n++] = cluster_checkpoint(d->clusters[i]);
	snprintf(err, sizeof(err), "cannot build the checkpoints: out of memory");
	for (size_t i = 0; i < n; i++)
		ok = ok && head[i] != NULL;
	if (!ok || journal_rotate(d->journal, head, n, err, sizeof(err)) < 0)
		vlog(VLOG_ERR, "journal", "rotation failed; going on in the old file", "error", err,
		     NULL);
	else {
		vlog(VLOG_NOTICE, "journal", d->upgrade_due ?
		     "rewritten in format 2 (checksummed): the older vigil's records are in "
		     "journal.jsonl.1" : "rotated: the previous records are in journal.jsonl.1",
		     "file", journal_path(d->journal), NULL);
		d->upgrade_due = false;
	}
	for (size_t i = 0; i < n; i++)
		json_decref(head[i]);
	free(head);
}

static struct control_limits control_limits(struct mon_daemon *d, const struct config *cfg)
{
	return (struct control_limits){ .max_connections = (size_t)cfg->control.max_connections,
					.fd_reserve = fd_plan(cfg).reserve,
					.fault = daemon_local_fault, .fault_arg = d };
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mon_daemon *d = arg;
	uint64_t mono = clock_mono_ms(), real = clock_real_ms();
	int64_t late = (int64_t)(mono - d->tick_mono) - TILT_TICK_MS;
	int64_t jump = (int64_t)(real - d->tick_real) - (int64_t)(mono - d->tick_mono);
	struct timeval tv = clock_tv_ms(TILT_TICK_MS);
	char why[128];

	(void)fd;
	(void)what;
	if (late > (int64_t)d->cfg->tilt_stall_ms) {
		snprintf(why, sizeof(why), "event loop stalled for %lld ms", (long long)late);
		tilt_enter(d, why);
	} else if (jump > (int64_t)d->cfg->tilt_stall_ms || -jump > (int64_t)d->cfg->tilt_stall_ms) {
		snprintf(why, sizeof(why), "wall clock jumped by %lld ms", (long long)jump);
		tilt_enter(d, why);
	} else if (d->tilt && mono >= d->tilt_until) {
		tilt_leave(d);
	}
	d->tick_mono = mono;
	d->tick_real = real;
	maybe_rotate(d);
	backup_set_tick(d->backups);
	evtimer_add(d->tick, &tv);
}

static struct mon_cluster **build_clusters(struct mon_daemon *d, const struct config *cfg,
					   char *err, size_t errlen)
{
	struct mon_env env = {
		.base = d->base, .curl = d->curl, .children = d->children, .journal = d->journal,
		.idle = cluster_idle, .node_down = cluster_node_down, .local_fault = daemon_local_fault,
		.idle_arg = d, .tilt = &d->tilt,
	};
	struct mon_cluster **cls = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*cls));

	if (!cls) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		cls[i] = cluster_new(&env, &cfg->clusters[i], err, errlen);
		if (!cls[i]) {
			free_clusters(cls, i);
			return NULL;
		}
	}
	return cls;
}

static bool any_held(const struct mon_daemon *d)
{
	for (size_t i = 0; i < d->n_clusters; i++)
		if (d->clusters[i]->state == ST_HELD)
			return true;
	return false;
}

static bool any_busy(const struct mon_daemon *d)
{
	for (size_t i = 0; i < d->n_clusters; i++)
		if (d->clusters[i]->job || fsm_state_busy(d->clusters[i]->state))
			return true;
	return false;
}

struct replay_ctx {
	struct mon_cluster **clusters;
	size_t n;
	struct journal_roles *roles; /* one per cluster */
};

static int replay_record(void *arg, const struct journal_line *l)
{
	struct replay_ctx *ctx = arg;

	for (size_t i = 0; i < ctx->n; i++) {
		if (l->rec)
			journal_roles_fold(&ctx->roles[i], ctx->clusters[i]->conf->name, l->rec);
		else
			journal_roles_damage(&ctx->roles[i], l->damage);
	}
	return 0;
}

/* What the journal says of each cluster's roles: malloc'd array, or NULL with err. */
static struct journal_roles *replay_roles(struct mon_daemon *d, struct mon_cluster **cls,
					  size_t n, char *err, size_t errlen)
{
	struct replay_ctx ctx = { cls, n, calloc(n ? n : 1, sizeof(struct journal_roles)) };
	struct journal_replay stats;
	char count[24];

	if (!ctx.roles) {
		snprintf(err, errlen, "replay journal: out of memory");
		return NULL;
	}
	if (journal_replay(journal_path(d->journal), replay_record, &ctx, &stats, err, errlen) < 0) {
		free(ctx.roles);
		return NULL;
	}
	journal_set_seq(d->journal, stats.last_seq);
	snprintf(count, sizeof(count), "%zu", stats.records);
	vlog(VLOG_INFO, "journal", "replayed", "file", journal_path(d->journal), "records", count, NULL);
	if (stats.damaged) {
		snprintf(count, sizeof(count), "%zu", stats.damaged);
		vlog(VLOG_ERR, "journal", "damaged: no action until an operator resolves it "
		     "(vigilctl resolve)", "file", journal_path(d->journal), "damaged_lines", count,
		     "first", stats.first_damage, NULL);
	}
	/* Written by an older vigil: rewrite it checksummed at the first quiet moment. */
	if (stats.v1_records)
		d->upgrade_due = true;
	return ctx.roles;
}

/* Swap in d->pending if no job runs; otherwise cluster_idle calls back later. */
static void apply_pending(struct mon_daemon *d)
{
	struct mon_cluster **cls = NULL;
	struct journal_roles *roles = NULL;
	char err[512], gen[16];

	if (!d->pending || any_busy(d))
		return;
	if (!(cls = build_clusters(d, d->pending, err, sizeof(err))) ||
	    !(roles = replay_roles(d, cls, d->pending->n_clusters, err, sizeof(err)))) {
		vlog(VLOG_ERR, "daemon", "config reload failed; keeping the old config",
		     "error", err, NULL);
		free_clusters(cls, cls ? d->pending->n_clusters : 0);
		config_free(d->pending);
		d->pending = NULL;
		return;
	}
	if (strcmp(d->pending->control.socket, d->cfg->control.socket) != 0)
		vlog(VLOG_WARNING, "daemon", "control.socket changes need a restart; still on the old one",
		     "socket", d->cfg->control.socket, NULL);
	if (strcmp(d->pending->state_dir, d->cfg->state_dir) != 0)
		vlog(VLOG_WARNING, "daemon", "state_dir changes need a restart; still on the old one",
		     "journal", journal_path(d->journal), NULL);
	for (size_t i = 0; i < d->pending->n_clusters; i++) {
		struct mon_cluster *prev = daemon_find_cluster(d, cls[i]->conf->name);

		if (prev)
			cluster_inherit(cls[i], prev);
	}
	free_clusters(d->clusters, d->n_clusters);
	config_free(d->cfg);
	d->cfg = d->pending;
	d->pending = NULL;
	d->clusters = cls;
	d->n_clusters = d->cfg->n_clusters;
	d->generation++;
	{
		struct control_limits lim = control_limits(d, d->cfg);

		control_set_limits(d->control, &lim);
	}
	if (backup_set_apply(d->backups, d->cfg, err, sizeof(err)) < 0)
		vlog(VLOG_ERR, "daemon", "backup jobs not updated; the previous ones go on",
		     "error", err, NULL);
	snprintf(gen, sizeof(gen), "%u", d->generation);
	vlog(VLOG_NOTICE, "daemon", "config reloaded", "generation", gen, NULL);
	for (size_t i = 0; i < d->n_clusters; i++)
		cluster_start(d->clusters[i], &roles[i]);
	free(roles);
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	apply_pending(arg);
}

static void reload(struct mon_daemon *d)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	char err[512];

	vlog(VLOG_NOTICE, "daemon", "SIGHUP: reloading config", "file", d->config_path, NULL);
	if (conf_load(d->config_path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			vlog(VLOG_ERR, "daemon", "config reload rejected", "error", errs.msgs[i], NULL);
		conf_errors_clear(&errs);
		return;
	}
	if (fd_prepare(cfg, err, sizeof(err)) < 0) {
		vlog(VLOG_ERR, "daemon", "config reload rejected", "error", err, NULL);
		config_free(cfg);
		return;
	}
	config_free(d->pending);
	d->pending = cfg;
	if (any_busy(d))
		vlog(VLOG_NOTICE, "daemon", "reload waits for the running failover to finish", NULL);
	apply_pending(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mon_daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	if (sig != SIGTERM && sig != SIGINT) {
		vlog(VLOG_NOTICE, "daemon", "signal ignored (TERM or INT stop vigil, HUP reloads)",
		     "signal", sigabbrev_np(sig), NULL);
		return;
	}
	vlog(VLOG_NOTICE, "daemon", "stopping", "signal", sigabbrev_np(sig), NULL);
	event_base_loopexit(d->base, NULL);
}

static int daemon_setup(struct mon_daemon *d, char *err, size_t errlen)
{
	d->base = event_base_new();
	if (!d->base) {
		snprintf(err, errlen, "create event base: failed");
		return -1;
	}
	for (size_t i = 0; i < N_SIGNALS; i++) {
		d->sigs[i] = evsignal_new(d->base, handled_signals[i], on_signal, d);
		if (!d->sigs[i] || evsignal_add(d->sigs[i], NULL) < 0) {
			snprintf(err, errlen, "install the handler of SIG%s: failed",
				 sigabbrev_np(handled_signals[i]));
			return -1;
		}
	}
	d->deferred = event_new(d->base, -1, 0, on_deferred, d);
	d->tick = evtimer_new(d->base, on_tick, d);
	if (!d->deferred || !d->tick) {
		snprintf(err, errlen, "create the daemon's events: out of memory");
		return -1;
	}
	if (fs_mkdir_p(d->cfg->state_dir, 0700, err, errlen) < 0)
		return -1;
	{
		char *lock;

		if (asprintf(&lock, "%s/vigil.lock", d->cfg->state_dir) < 0) {
			snprintf(err, errlen, "lock state_dir: out of memory");
			return -1;
		}
		/* Two daemons on one state_dir would append to one journal. */
		d->lock_fd = fs_lock_pidfile(lock, err, errlen);
		free(lock);
		if (d->lock_fd < 0)
			return -1;
	}
	if (!(d->journal = journal_open(d->cfg->state_dir, err, errlen)))
		return -1;
	if (journal_torn_bytes(d->journal)) {
		char n[24];

		snprintf(n, sizeof(n), "%zu", journal_torn_bytes(d->journal));
		vlog(VLOG_WARNING, "journal", "last record was torn (a crash mid-write); cut off",
		     "file", journal_path(d->journal), "bytes", n, NULL);
	}
	if (!(d->curl = curl_loop_new(d->base, err, errlen)) ||
	    !(d->children = child_runner_new(d->base, err, errlen)))
		return -1;
	{
		struct backup_env be = { d->base, d->curl, d->children, "/proc/self/exe",
					 d->cfg->state_dir };

		if (!(d->backups = backup_set_new(&be))) {
			snprintf(err, errlen, "backups: out of memory");
			return -1;
		}
		if (backup_set_apply(d->backups, d->cfg, err, errlen) < 0)
			return -1;
	}
	{
		struct control_limits lim = control_limits(d, d->cfg);

		d->control = control_new(d->base, d, d->cfg->control.socket, d->cfg->control.mode,
					 &lim, err, errlen);
	}
	if (!d->control)
		return -1;
	d->clusters = build_clusters(d, d->cfg, err, errlen);
	if (!d->clusters)
		return -1;
	d->n_clusters = d->cfg->n_clusters;
	return 0;
}

static void daemon_teardown(struct mon_daemon *d)
{
	free_clusters(d->clusters, d->n_clusters);
	control_free(d->control);
	backup_set_free(d->backups); /* kills runs in flight, before the runner goes */
	child_runner_free(d->children);
	journal_close(d->journal);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	curl_loop_free(d->curl);
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (d->sigs[i])
			event_free(d->sigs[i]);
	if (d->deferred)
		event_free(d->deferred);
	if (d->tick)
		event_free(d->tick);
	if (d->base)
		event_base_free(d->base);
	config_free(d->pending);
	config_free(d->cfg);
}

/* libevent's own warnings go where vigil's go, not to bare stderr. */
static void libevent_log(int severity, const char *msg)
{
	vlog(severity >= EVENT_LOG_WARN ? VLOG_WARNING : VLOG_DEBUG, "libevent", msg, NULL);
}

int daemon_run(const char *config_path, struct config *cfg)
{
	struct mon_daemon d = { .config_path = config_path, .cfg = cfg, .generation = 1,
				.lock_fd = -1 };
	struct journal_roles *roles = NULL;
	char err[512];
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);
	if (fd_prepare(cfg, err, sizeof(err)) < 0 || daemon_setup(&d, err, sizeof(err)) < 0 ||
	    !(roles = replay_roles(&d, d.clusters, d.n_clusters, err, sizeof(err)))) {
		vlog(VLOG_ERR, "daemon", "cannot start", "error", err, NULL);
		rc = 1;
	} else {
		vlog(VLOG_NOTICE, "daemon", "started", "version", PACKAGE_VERSION, "config",
		     config_path, "socket", cfg->control.socket, NULL);
		for (size_t i = 0; i < d.n_clusters; i++)
			cluster_start(d.clusters[i], &roles[i]);
		free(roles);
		d.tick_mono = clock_mono_ms();
		d.tick_real = clock_real_ms();
		on_tick(-1, 0, &d);
		if (event_base_dispatch(d.base) < 0) {
			vlog(VLOG_ERR, "daemon", "event loop failed", NULL);
			rc = 1;
		}
	}
	daemon_teardown(&d);
	if (rc == 0)
		vlog(VLOG_NOTICE, "daemon", "stopped", NULL);
	return rc;
}
