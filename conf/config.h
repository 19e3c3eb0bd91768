/*
 * conf/config.h — vigil's configuration as plain typed structs.
 *
 * conf/load.c turns one libconfig file into a `struct config`; nothing
 * outside conf/ includes libconfig.  A config is immutable once loaded: a
 * reload (SIGHUP) builds a whole new one and the daemon swaps it in.
 *
 * Ownership: conf_load() returns a config that the caller frees with
 * config_free().  Every string and array below belongs to the config.
 * String vectors (argv-like) are NULL-terminated.
 */
#ifndef VIGIL_CONF_CONFIG_H
#define VIGIL_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cron.h"

/* Limits conf/ enforces, so run-time code can use fixed arrays. */
#define CONF_MAX_NODES 64   /* nodes per cluster */
#define CONF_MAX_PROBES 16  /* probes per cluster */
#define CONF_MAX_FAILOVERS 16 /* max_failovers per window */
#define CONF_MAX_BALANCERS 16 /* balancers per cluster */
#define CONF_NAME_MAX 100   /* cluster, node and job names (journal and marks hold 127) */

enum conf_role { CONF_ROLE_PRIMARY, CONF_ROLE_STANDBY };

enum conf_probe_type { CONF_PROBE_TCP, CONF_PROBE_HTTP, CONF_PROBE_EXEC };

enum conf_balancer_type { CONF_BALANCER_NGINX, CONF_BALANCER_HAPROXY };

/* How the standby appears in a rendered upstream. */
enum conf_standby_mode {
	CONF_STANDBY_BACKUP, /* listed with the `backup` flag */
	CONF_STANDBY_OUT,    /* left out entirely */
};

enum conf_alert_type {
	CONF_ALERT_WEBHOOK,   /* vigil's own JSON */
	CONF_ALERT_PAGERDUTY, /* Events API v2 */
	CONF_ALERT_SLACK,     /* incoming webhook */
	CONF_ALERT_EXEC,      /* a command, argv, event in VIGIL_* */
};

enum conf_severity { CONF_SEV_INFO, CONF_SEV_WARNING, CONF_SEV_CRITICAL };

enum conf_log_format { CONF_LOG_TEXT, CONF_LOG_JSON };

struct conf_node {
	char *name;
	char *address; /* as written: "127.0.0.1:8081" or "[::1]:8081" */
	char *host;    /* numeric IP without brackets: "127.0.0.1", "::1" */
	uint16_t port;
	enum conf_role role;
	/*
	 * Among equally advanced standbys the higher is promoted first (then
	 * config order, as repmgr does); 0 = never promoted automatically.
	 * Default 100.
	 */
	int priority;
	int line;
};

struct conf_probe {
	enum conf_probe_type type;
	int line;
	uint64_t interval_ms; /* default 1000 */
	uint64_t timeout_ms;  /* default = interval */
	uint64_t jitter_ms;   /* default interval/10; each run moves within +-jitter/2 */
	int rise;             /* default 2 */
	int fall;             /* default 3 */
	/* http */
	char *url;            /* template: {address} {host} {port} {node} */
	char *method;         /* default "GET" */
	int *expect_status;   /* default {200} */
	size_t n_expect_status;
	char *expect_body;    /* optional substring; NULL = not checked */
	bool tls_verify;      /* default true */
	/* exec */
	char **argv;          /* templates, NULL-terminated; argv[0] absolute path */
	/*
	 * exec: the program prints the node's replication lag (a number, in
	 * whatever unit max_lag uses) as the first word of its output.
	 */
	bool lag;
	/*
	 * Look from another node's vantage point: the probe's templates also get
	 * {via_address} {via_host} {via_port} {via_node}, and its vote about a
	 * node counts only while the via node itself is not DOWN.  It casts no
	 * vote about the via node itself.  NULL = vigil's own view.
	 */
	char *via;
	int via_node;         /* index of via in the cluster's nodes, -1 = none */
};

struct conf_balancer {
	enum conf_balancer_type type;
	int line;
	char *upstream;  /* nginx upstream name */
	char *file;      /* file vigil owns and rewrites */
	char **check;    /* argv, e.g. {"nginx","-t",NULL} */
	char **reload;   /* argv, e.g. {"nginx","-s","reload",NULL} */
	enum conf_standby_mode standby;
	uint64_t timeout_ms; /* for check and reload, default 10s */
	char *server_options; /* appended to each server line, e.g. "max_fails=0"; may be NULL */
	/*
	 * nginx master's pid file: lets a drain wait for the old workers (which
	 * finish the in-flight requests) to exit.  NULL = wait drain_timeout.
	 */
	char *pid_file;
	/*
	 * haproxy: the backend whose servers (named like the nodes) vigil
	 * steers.  With socket (the Runtime API: a unix path, or
	 * "127.0.0.1:9999") the change is made live, no reload; without it vigil
	 * renders `file` (the backend), runs check and reload like nginx.
	 */
	char *backend;
	char *socket;
	/* haproxy's server-state-file: written after each change so a reload keeps it. */
	char *state_file;
};

struct conf_hooks {
	/*
	 * Runs before promote, against the old primary ({node} is the old
	 * primary), to make sure it can no longer serve as one.  Its failure
	 * aborts the failover unless fence_required is false.
	 */
	char **fence;         /* argv templates or NULL */
	bool fence_required;  /* default true */
	char **promote;       /* argv templates or NULL: {cluster} {node} {address} {old_primary} {new_primary} {epoch} */
	/* After the balancers moved: restore data onto the new primary ({node}). */
	char **restore;       /* argv templates or NULL */
	/* Then, for each other standby ({node}): follow the new primary. */
	char **follow;        /* argv templates or NULL */
	uint64_t timeout_ms;  /* default 30s */
};

/*
 * The built-in restore a failover's RESTORING step runs (instead of a
 * restore hook): the latest snapshot (or `snapshot`) of backup job
 * `backup`, restored by `vigil restore` in a child process into the
 * directory `target`, or streamed into `command`.  Both are templates over
 * the hook placeholders ({new_primary}, {epoch}, ...).
 */
struct conf_restore {
	char *backup;         /* a name in the config's backups list; NULL = no built-in restore */
	char *snapshot;       /* an id or "latest" (default) */
	char *target;         /* a directory template, or NULL with command */
	char **command;       /* argv templates fed the stream, or NULL with target */
	uint64_t timeout_ms;  /* default 1h */
	bool delete_extra;    /* `delete`: target keeps nothing the snapshot lacks */
	int line;
	/* Copied from the job by the loader, so the monitor needs nothing else. */
	char *repository, *key_file;
};

struct conf_alert {
	enum conf_alert_type type;
	int line;
	/*
	 * Secret-bearing: never logged.  webhook/slack: required (or read from
	 * url_file by the loader); pagerduty: defaults to the Events API v2 URL.
	 */
	char *url;
	char *routing_key;   /* pagerduty integration key (or from routing_key_file); secret */
	char **argv;         /* exec: the command */
	enum conf_severity min_severity; /* default info: every alert */
	int retries;         /* default 5 */
	uint64_t timeout_ms; /* per attempt, default 5s */
	uint64_t backoff_ms; /* first retry delay, doubles each time; default 500ms */
};

struct conf_cluster {
	char *name;
	int line;
	struct conf_node *nodes;
	size_t n_nodes;
	struct conf_probe *probes;
	size_t n_probes;
	struct conf_balancer *balancers;
	size_t n_balancers;
	struct conf_hooks hooks;
	struct conf_restore restore;
	int quorum;                  /* observers (probes) that must agree; 0 = majority */
	/* Anti-flap policy for automatic failovers (operator commands bypass it). */
	uint64_t cooldown_ms;        /* none this soon after the last failover; default 60s */
	int max_failovers;           /* at most this many per window, then pause; default 3 */
	uint64_t failover_window_ms; /* default 1h */
	/*
	 * Automatic failback: once the config's primary has been UP this long
	 * while another node is primary, fail back to it.  0 = never (default:
	 * failback is the operator's call).
	 */
	uint64_t failback_after_ms;
	/* How long the primary must stay objectively down before a failover; default 0. */
	uint64_t failover_delay_ms;
	/* A failed action is retried this often (then FAILED until resumed); default 3. */
	int retries;
	uint64_t retry_backoff_ms;   /* first retry delay, doubling, at most 60s; default 1s */
	/* A switchover waits this long at most for in-flight requests; default 30s. */
	uint64_t drain_timeout_ms;
	/*
	 * A fenced old primary stays out of every balancer until `vigilctl
	 * rejoin`, or (when set) until it has been UP this long.  0 = manual.
	 */
	uint64_t rejoin_after_ms;
	/* Never promote a standby whose lag probe says more than this (unless forced). */
	bool has_max_lag;
	int64_t max_lag;
	struct conf_alert *alerts;
	size_t n_alerts;
};

/*
 * A scheduled backup job: SOURCE (a directory) or the output of COMMAND
 * into REPOSITORY (a local path or S3, made with `vigil init`), run by the
 * daemon in a child process (`vigil backup`), every interval (+- jitter/2),
 * then mirrored to OFFSITE when set.
 */
struct conf_backup {
	char *name;
	int line;
	char *source;         /* a directory; or NULL with command */
	char **command;       /* argv whose standard output is backed up (pg_dump -Fc ...) */
	char *stdin_name;     /* the stream's file name in the snapshot; NULL: the command's */
	char *repository;     /* an absolute path, or "s3://BUCKET[/PREFIX][?endpoint=...]" */
	/* A mirror of the repository kept offsite (`vigil sync` after each run); NULL = none. */
	char *offsite;
	char *key_file;       /* NULL: the repository is not encrypted */
	/* When: every interval (+- jitter/2), or at the times of a cron schedule (+ 0..jitter). */
	uint64_t interval_ms; /* 0 with a schedule */
	char *schedule;       /* five-field cron text, or NULL */
	struct cron_spec cron; /* schedule, parsed */
	bool schedule_utc;    /* read the schedule in UTC, not local time (default false) */
	uint64_t jitter_ms;   /* default interval/10; 0 with a schedule */
	int full_every;       /* every Nth run rereads every file; 0 = never (default) */
	uint64_t timeout_ms;  /* a run is killed after this; default 6h */
	uint64_t rpo_ms;      /* alert when the last good backup is older; 0 = none */
	/* A drill (`vigil drill`: restore the latest snapshot, timed) this often; 0 = never. */
	uint64_t drill_interval_ms;
	uint64_t rto_ms;      /* alert when a drill's restore takes longer; 0 = none */
	/*
	 * Retention after each good run (`vigil forget --prune`): keep the last
	 * N, and the newest of each of the last N hours/days/weeks/months.
	 * All 0 (the default) = keep everything.
	 */
	int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly;
	struct conf_alert *alerts;
	size_t n_alerts;
};

#define CONF_DEFAULT_MAX_CONNECTIONS 32

struct conf_control {
	char *socket;  /* unix socket path, default "/run/vigil/vigil.sock" */
	int mode;      /* default 0600 */
	int max_connections; /* open at once, 1..1024, default 32; the rest wait */
};

struct config {
	char *path;
	char *state_dir;               /* default "/var/lib/vigil" */
	struct conf_control control;
	enum conf_log_format log_format; /* default text; --log-format overrides */
	/*
	 * TILT: when vigil suspects itself (its loop stalled, the wall clock
	 * jumped by more than tilt_stall, or every node of every cluster went
	 * down at once) it observes but does not act for tilt_period.
	 */
	uint64_t tilt_period_ms; /* default 30s */
	uint64_t tilt_stall_ms;  /* default 2s, at least 100ms */
	/* Past this size the journal is rotated (journal.jsonl.1); default 64 MiB. */
	int journal_max_mb;
	struct conf_cluster *clusters;
	size_t n_clusters;
	struct conf_backup *backups;
	size_t n_backups;
};

/* Errors collected while loading: each message is "FILE:LINE: text". */
struct conf_errors {
	char **msgs;
	size_t n;
};

/*
 * Load and validate FILE.  Returns 0 and sets *out on success; returns -1
 * with every problem found appended to errs (and *out untouched) on
 * failure.  The caller frees errs with conf_errors_clear().
 */
int conf_load(const char *file, struct config **out, struct conf_errors *errs);

void config_free(struct config *cfg);
void conf_errors_clear(struct conf_errors *errs);
/* printf-style append of "FILE:LINE: message". */
void conf_errors_add(struct conf_errors *errs, const char *file, int line,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const struct conf_cluster *config_find_cluster(const struct config *cfg, const char *name);
/* Index of the named node in the cluster, or -1. */
int conf_cluster_find_node(const struct conf_cluster *cc, const char *name);

#endif
