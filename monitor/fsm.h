/*
 * monitor/fsm.h — the cluster state machine: one table of states,
 * events and transitions (fsm.c), pure, with no knowledge of probes or
 * actions.  monitor/decide.c turns what the observers say into an event;
 * monitor/machine.c fires events at the table and carries out the action
 * of each transition taken.  Actions happen only on transitions.
 *
 * States a cluster is in:
 *   STARTING          the primary's health is not known yet
 *   HEALTHY           primary up, a standby can take over
 *   DEGRADED          primary up (serving), no standby can take over
 *   PRIMARY_SDOWN     some observers see the primary down, not a quorum
 *   FAILOVER_PENDING  a quorum sees it down (ODOWN); waiting for
 *                     failover_delay, cooldown, or a standby to promote
 *   DRAINING          a switchover: the old primary is drained
 *   FENCING           the fence hook runs against the old primary
 *   PROMOTING         the promote hook runs against the new one
 *   RECONFIGURING     every balancer is rewritten to the new roles
 *   RESTORING         the restore hook runs against the new primary, then
 *                     the follow hook against each other standby
 *   FAILED            an action failed: alerted, retried with backoff,
 *                     then held until the operator resumes
 *   PAUSED            maintenance: probe and report, never act
 *   TILT              vigil suspects its own view: never act
 *   HELD              start-up found the journal damaged, or at odds with
 *                     what the balancers last served: serve that, never
 *                     act, alert, until the operator resolves the roles
 */
#ifndef VIGIL_MONITOR_FSM_H
#define VIGIL_MONITOR_FSM_H

#include <stdbool.h>

enum fsm_state {
	ST_STARTING,
	ST_HEALTHY,
	ST_DEGRADED,
	ST_PRIMARY_SDOWN,
	ST_FAILOVER_PENDING,
	ST_DRAINING,
	ST_FENCING,
	ST_PROMOTING,
	ST_RECONFIGURING,
	ST_RESTORING,
	ST_FAILED,
	ST_PAUSED,
	ST_TILT,
	ST_HELD,
	ST_COUNT,
	/* Not a state: "the calm state the observers call for now" (fsm_settle). */
	ST_SETTLE = ST_COUNT,
};

enum fsm_event {
	/* What the observers say (decide.c: exactly one per evaluation). */
	EV_ALL_UP,       /* primary up, a standby can take over */
	EV_NO_STANDBY,   /* primary up, no standby can take over */
	EV_UNKNOWN,      /* the primary's health is not known yet */
	EV_SDOWN,        /* some observers see the primary down, not a quorum */
	EV_ODOWN,        /* objectively down, but not to be acted on yet */
	EV_ODOWN_ACT,    /* objectively down, a candidate, anti-flap allows */
	EV_ODOWN_LIMIT,  /* objectively down, max_failovers reached */
	EV_FAILBACK,     /* the preferred node has been up for failback_after */
	/* The job in flight. */
	EV_STEP_OK,
	EV_STEP_FAILED,
	EV_RETRY_FAILOVER, /* FAILED's backoff ran out; the primary is still down */
	EV_RETRY_REROUTE,  /* FAILED's backoff ran out; promoted, balancers not done */
	/* The operator. */
	EV_FAILOVER_CMD,
	EV_SWITCHOVER_CMD,
	EV_PAUSE,
	EV_RESUME,
	/* vigil itself. */
	EV_TILT,
	EV_TILT_END,
	/* Start-up: finish a failover a crash interrupted, from the step it reached. */
	EV_RECOVER_DRAIN,
	EV_RECOVER_FENCE,
	EV_RECOVER_PROMOTE,
	EV_RECOVER_REROUTE,
	/* Start-up: where the journal left the cluster (the operator's pause, a failure held). */
	EV_RECOVER_PAUSED,
	EV_RECOVER_FAILED,
	/* Start-up: the journal is damaged or disagrees with the balancers. */
	EV_HOLD,
	/* The operator named the roles of a held cluster (vigilctl resolve). */
	EV_RESOLVE,
	EV_COUNT,
};

enum fsm_action {
	ACT_NONE,
	ACT_BEGIN_FAILOVER,   /* new epoch, journaled durably, then the fence hook */
	ACT_BEGIN_SWITCHOVER, /* new epoch, journaled durably, then drain the balancers */
	ACT_DRAIN,            /* drain the old primary on every balancer, wait */
	ACT_FENCE,            /* the fence hook (after a drain) */
	ACT_PROMOTE,          /* journal promote_started, run the promote hook */
	ACT_RECONFIGURE,      /* rewrite every balancer */
	ACT_RESTORE,          /* the restore hook */
	ACT_FINISH,           /* journal and alert the outcome */
	ACT_FAIL,             /* journal and alert the failure, arm the retry */
	ACT_LIMIT,            /* alert failover_limit (the cluster pauses itself) */
	ACT_PAUSE,            /* journal the operator's pause */
	ACT_RESUME,           /* journal the resume, clear the anti-flap history */
	ACT_HOLD,             /* alert why the cluster is held (again until resolved) */
	ACT_RESOLVE,          /* take the operator's roles (journaled), render them */
};

struct fsm_transition {
	unsigned from;        /* bit set of states: FSM_BIT(ST_x) | ... */
	enum fsm_event event;
	enum fsm_state to;    /* or ST_SETTLE */
	enum fsm_action action;
};

#define FSM_BIT(s) (1u << (s))

/*
 * The row for (from, event), or NULL: the event means nothing in that
 * state (a health change while PAUSED, a STEP_OK while HEALTHY...).
 */
const struct fsm_transition *fsm_lookup(enum fsm_state from, enum fsm_event event);
/* The table itself, for tests and documentation. */
const struct fsm_transition *fsm_table(unsigned *n);
/* Where ST_SETTLE lands: TILT or PAUSED first, else what the observers say. */
enum fsm_state fsm_settle(enum fsm_event health, bool tilt, bool paused);
/* States that run a job (the table accepts STEP_OK/STEP_FAILED there). */
bool fsm_state_busy(enum fsm_state s);

const char *fsm_state_name(enum fsm_state s);   /* "healthy", "failover_pending" */
const char *fsm_event_name(enum fsm_event e);   /* "odown_act" */
const char *fsm_action_name(enum fsm_action a); /* "begin_failover" */

#endif
