/*
 * monitor/journal_roles.h — what a cluster's journal records say, folded
 * in order: the roles (primary, epoch), the operator's last word (paused),
 * a failed failover nobody resumed, the nodes fenced out of the balancers,
 * the recent automatic failovers (for cooldown and max_failovers across a
 * restart), and a failover a crash interrupted, with the step it reached.
 */
#ifndef VIGIL_MONITOR_JOURNAL_ROLES_H
#define VIGIL_MONITOR_JOURNAL_ROLES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

#define JOURNAL_NAME_MAX 128

/* How far a failover got, by its durable records. */
enum journal_step {
	JSTEP_NONE,            /* no failover in flight */
	JSTEP_STARTED,         /* failover_started: epoch taken, nothing done yet */
	JSTEP_FENCED,          /* fenced (or the fence step passed) */
	JSTEP_PROMOTE_STARTED, /* the promote hook was started */
	JSTEP_PROMOTED,        /* promoted: the new primary is in charge */
	JSTEP_RESTORE_STARTED, /* the restore hook was started */
};

struct journal_roles {
	char primary[JOURNAL_NAME_MAX]; /* "" when no failover was ever journaled */
	uint64_t epoch;                 /* highest epoch seen in any record */
	/* The failover in flight when the journal ends (step NONE: none). */
	enum journal_step step;
	char fo_from[JOURNAL_NAME_MAX], fo_to[JOURNAL_NAME_MAX];
	uint64_t fo_epoch;
	bool fo_switchover, fo_manual;
	char fo_reason[160];
	bool paused;   /* the operator's last word was "pause" */
	bool failed;   /* a failover failed, and nobody resumed since */
	char out[CONF_MAX_NODES][JOURNAL_NAME_MAX]; /* fenced, not rejoined */
	size_t n_out;
	/* Wall-clock starts (ms) of automatic failovers, oldest first, and of the last one. */
	uint64_t auto_wall_ms[CONF_MAX_FAILOVERS];
	size_t n_auto;
	uint64_t last_wall_ms;
	/*
	 * The journal holds damage this cluster's roles may depend on: a line
	 * that cannot be trusted came after its last operator resolution
	 * ("hold_resolved", see monitor/recover.h).  Damage belongs to every
	 * cluster, since a damaged line's cluster name cannot be trusted either.
	 */
	bool damaged;
	char damage[256];   /* the first such damage */
};

/* Fold one record into roles if it belongs to cluster (a journal_record_fn helper). */
void journal_roles_fold(struct journal_roles *roles, const char *cluster, const json_t *record);
/* A line of the journal is damage (journal_line.damage): roles cannot be trusted. */
void journal_roles_damage(struct journal_roles *roles, const char *why);
bool journal_roles_is_out(const struct journal_roles *roles, const char *node);
/* "2026-11-25T04:33:30.123Z" as ms since the epoch; 0 when malformed. */
uint64_t journal_ts_ms(const char *ts);

#endif
