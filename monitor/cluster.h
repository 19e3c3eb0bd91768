/*
 * monitor/cluster.h — one watched cluster at run time: its nodes, their
 * observers (one probe + one rise/fall counter each), the current roles,
 * and the action job in flight.  cluster.c feeds probe results into health
 * and asks decide(); failover.c runs what was decided.
 *
 * A cluster lives for one config generation: a reload frees it (cancelling
 * every probe, so no stale result can arrive) and builds a new one.
 */
#ifndef VIGIL_MONITOR_CLUSTER_H
#define VIGIL_MONITOR_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "actions/alert.h"
#include "monitor/refusal.h"
#include "actions/balancer.h"
#include "actions/hooks.h"
#include "conf/config.h"
#include "monitor/decide.h"
#include "monitor/fsm.h"
#include "monitor/health.h"
#include "probes/probe.h"

struct event;
struct journal;
struct journal_roles;
struct mon_cluster;

/* What a cluster needs from the daemon; all owned by the daemon. */
struct mon_env {
	struct event_base *base;
	struct curl_loop *curl;
	struct child_runner *children;
	struct journal *journal;       /* every event is appended here first */
	/* Called when a cluster's action job ends (the daemon may reload then). */
	void (*idle)(void *arg);
	/* Called when a node goes DOWN (the daemon checks for "everything at once"). */
	void (*node_down)(void *arg);
	/* vigil itself failed (a probe it could not run for lack of fds...): TILT. */
	void (*local_fault)(void *arg, const char *what);
	void *idle_arg;          /* for all three */
	const bool *tilt;        /* the daemon's TILT flag */
};

struct mon_observer {
	struct mon_cluster *cl;
	size_t node;
	const struct conf_probe *conf;
	struct probe *probe;
	struct health health;
	struct event *timer;
	uint64_t started_ms;
	struct probe_result last;
	bool has_last;
};

/*
 * An observer's vote about its node: its own rise/fall state, except that
 * one looking via a node that is DOWN abstains (UNKNOWN), and one via the
 * node itself never votes.  Remote monitors' votes will count the same way.
 */
enum health_state observer_vote(const struct mon_cluster *cl, const struct mon_observer *o);

struct mon_node {
	const struct conf_node *conf;
	enum health_state health; /* by quorum of its observers (DOWN = objectively down) */
	bool sdown;              /* at least one observer says DOWN */
	uint64_t down_ms;        /* monotonic time it last went DOWN */
	uint64_t up_ms;          /* monotonic time it last went UP */
	char since[40];          /* wall time of the last health change */
	struct probe_result last;
	bool has_last;
	int64_t lag;             /* from its lag observer, DECIDE_NO_LAG when unknown */
};

enum fo_result { FO_NONE, FO_RUNNING, FO_OK, FO_FAILED };

/* One action job (a failover, or a render of the current roles), as status reports it. */
struct mon_failover {
	enum fo_result result;
	uint64_t epoch;
	size_t from, to;
	bool manual;
	bool switchover;         /* planned: drained first */
	bool promoted;           /* the promote step is done (a retry only reroutes) */
	bool skip_restore;       /* recovered after the restore hook had started */
	size_t follow_idx;       /* the next node the follow hooks look at */
	char reason[160];
	char error[512];
	char started[40];
	char finished[40];
	/* progress of the job in flight */
	struct hook_job *hook;
	size_t balancers_pending;
	bool balancers_failed;
	/* What runs when the current step's hook or balancers are done. */
	void (*then)(struct mon_cluster *cl, bool ok, const char *error);
};



/* A balancer's share of the job in flight (the callback's argument). */
struct bal_slot {
	struct mon_cluster *cl;
	size_t idx;
	bool ok;
};

struct mon_cluster {
	const struct conf_cluster *conf;
	struct mon_env env;
	struct mon_node *nodes;        /* conf->n_nodes */
	struct mon_observer *obs;      /* n_nodes * conf->n_probes, node-major */
	size_t n_obs;
	struct balancer **balancers;   /* conf->n_balancers */
	struct bal_slot *bal_slots;    /* conf->n_balancers */
	struct alerter *alerter;
	size_t primary;
	size_t preferred;              /* the config's primary: the failback target */
	uint64_t epoch;
	enum fsm_state state;          /* see fsm.h; changed only by machine.c */
	char state_since[40];
	char state_reason[160];
	bool out[CONF_MAX_NODES];      /* fenced: out of every balancer until rejoined */
	const char *alerted_hold;      /* one alert per reason per primary-down episode */
	bool incident;                 /* someone was paged and it is not resolved yet */
	uint64_t incident_epoch;
	struct event *retry_timer;     /* FAILED: the next retry */
	int retries_done;
	uint64_t last_failover_ms;     /* monotonic start of the last failover, 0 = none */
	uint64_t auto_ms[CONF_MAX_FAILOVERS]; /* starts of recent automatic failovers */
	size_t n_auto;
	/* HELD (monitor/recover.h): why, what the evidence named, and the re-alert. */
	struct {
		char why[320];
		bool named[CONF_MAX_NODES]; /* named primary by the journal or a balancer */
		bool trust_out;             /* the journal's fenced nodes can be believed */
		uint64_t epoch;             /* the highest epoch any evidence showed */
		struct event *realert;
	} hold;
	struct mon_failover fo;        /* the last failover */
	struct mon_failover render;    /* the last start-up/reload render */
	struct mon_failover *job;      /* &fo or &render while busy, else NULL */
};

struct mon_cluster *cluster_new(const struct mon_env *env, const struct conf_cluster *conf,
				char *err, size_t errlen);
/*
 * Take over what the previous generation of the same cluster knew (a
 * reload): node health and each observer's rise/fall counters where the
 * node and probe are unchanged, the last failover, and an operator hold.
 * Without this a SIGHUP would blind vigil for rise x interval and re-alert
 * every node.  Call before cluster_start.
 */
void cluster_inherit(struct mon_cluster *cl, const struct mon_cluster *old);
/*
 * Take the roles the journal recorded (they win over the config's: a
 * restart must not undo a failover), render the balancers, start probing.
 */
void cluster_start(struct mon_cluster *cl, const struct journal_roles *roles);
void cluster_free(struct mon_cluster *cl);

/*
 * Classify what the observers say and fire it at the state machine
 * (after every probe result, and when TILT or a job ends).  In machine.c.
 */
void cluster_evaluate(struct mon_cluster *cl);
/*
 * Operator pause/resume (machine.c).  Resume also releases a FAILED
 * cluster and clears the max_failovers history.  -1 when the current
 * state does not take the order (a failover is running).
 */
int cluster_set_paused(struct mon_cluster *cl, bool paused, const char *reason);
/* Room for what cluster_decide_input points into. */
struct decide_buf {
	enum health_state health[CONF_MAX_NODES];
	int64_t lag[CONF_MAX_NODES];
	int priority[CONF_MAX_NODES];
};
/*
 * Everything decide() and decide_manual() need, pointing into buf.  A
 * standby that is UP but whose observers have begun failing counts as
 * UNKNOWN here, so it is never promoted while it may be dying too.
 */
void cluster_decide_input(const struct mon_cluster *cl, struct decide_buf *buf,
			  struct decide_input *in);
/* A failover starts: for cooldown, and (automatic ones) max_failovers. */
void cluster_note_failover(struct mon_cluster *cl, bool manual);
/* The state machine's state: "healthy", "failover_pending", ... (fsm.h). */
const char *cluster_state_name(const struct mon_cluster *cl);
/*
 * Readmit a fenced node as a standby (vigilctl rejoin, or rejoin_after):
 * journaled, then the balancers are re-rendered.  -1 with err (and
 * *refusal) when the node is unknown, not fenced, or a job runs.
 */
int cluster_rejoin(struct mon_cluster *cl, const char *node, const char *reason, char *err,
		   size_t errlen, enum refusal *refusal);
/*
 * Everything a restart needs, as one journal record ("checkpoint"): the
 * first records of a rotated journal.  Only taken while no job runs.
 */
json_t *cluster_checkpoint(const struct mon_cluster *cl);
/*
 * The operator's word on a held cluster's roles (vigilctl resolve): node
 * becomes primary with a new epoch, every other node the evidence named
 * primary is fenced, the record is journaled (durably) and the roles are
 * rendered.  -1 with err and *refusal (unknown node, not held,
 * or the journal refused the record).
 */
int cluster_resolve(struct mon_cluster *cl, const char *node, const char *reason, char *err,
		    size_t errlen, enum refusal *refusal);
/* rejoin_after: readmit node if it is fenced and has been UP long enough. */
void cluster_auto_rejoin(struct mon_cluster *cl, size_t node);

#endif
