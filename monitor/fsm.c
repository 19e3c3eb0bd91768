/* monitor/fsm.c — the cluster state machine's table (see fsm.h). */
#include "monitor/fsm.h"

#include <stddef.h>

#define B FSM_BIT
#define CALM (B(ST_STARTING) | B(ST_HEALTHY) | B(ST_DEGRADED) | B(ST_PRIMARY_SDOWN) | \
	      B(ST_FAILOVER_PENDING))
#define JOB (B(ST_DRAINING) | B(ST_FENCING) | B(ST_PROMOTING) | B(ST_RECONFIGURING) | \
	     B(ST_RESTORING))

/*
 * The whole policy.  The first row matching (state, event) wins; no row
 * means the event changes nothing.  PAUSED, TILT and HELD have no row that
 * acts, no row leaves a job state except its own step outcome, and only
 * the operator's resolve leaves HELD.
 */
static const struct fsm_transition table[] = {
	/* from                     event               to                   action */
	{ CALM,                     EV_UNKNOWN,         ST_STARTING,         ACT_NONE },
	{ CALM,                     EV_ALL_UP,          ST_HEALTHY,          ACT_NONE },
	{ CALM,                     EV_NO_STANDBY,      ST_DEGRADED,         ACT_NONE },
	{ CALM,                     EV_SDOWN,           ST_PRIMARY_SDOWN,    ACT_NONE },
	{ CALM,                     EV_ODOWN,           ST_FAILOVER_PENDING, ACT_NONE },
	{ CALM,                     EV_ODOWN_ACT,       ST_FENCING,          ACT_BEGIN_FAILOVER },
	{ CALM,                     EV_ODOWN_LIMIT,     ST_PAUSED,           ACT_LIMIT },
	{ B(ST_HEALTHY) | B(ST_DEGRADED), EV_FAILBACK,  ST_FENCING,          ACT_BEGIN_FAILOVER },
	{ CALM | B(ST_FAILED),      EV_FAILOVER_CMD,    ST_FENCING,          ACT_BEGIN_FAILOVER },
	{ B(ST_HEALTHY) | B(ST_DEGRADED), EV_SWITCHOVER_CMD, ST_DRAINING,    ACT_BEGIN_SWITCHOVER },
	{ B(ST_DRAINING),           EV_STEP_OK,         ST_FENCING,          ACT_FENCE },
	{ B(ST_FENCING),            EV_STEP_OK,         ST_PROMOTING,        ACT_PROMOTE },
	{ B(ST_PROMOTING),          EV_STEP_OK,         ST_RECONFIGURING,    ACT_RECONFIGURE },
	{ B(ST_RECONFIGURING),      EV_STEP_OK,         ST_RESTORING,        ACT_RESTORE },
	{ B(ST_RESTORING),          EV_STEP_OK,         ST_SETTLE,           ACT_FINISH },
	{ JOB,                      EV_STEP_FAILED,     ST_FAILED,           ACT_FAIL },
	{ B(ST_FAILED),             EV_RETRY_FAILOVER,  ST_FENCING,          ACT_BEGIN_FAILOVER },
	{ B(ST_FAILED),             EV_RETRY_REROUTE,   ST_RECONFIGURING,    ACT_RECONFIGURE },
	{ CALM | B(ST_FAILED),      EV_PAUSE,           ST_PAUSED,           ACT_PAUSE },
	{ B(ST_PAUSED) | B(ST_FAILED), EV_RESUME,       ST_SETTLE,           ACT_RESUME },
	{ CALM,                     EV_TILT,            ST_TILT,             ACT_NONE },
	{ B(ST_TILT),               EV_TILT_END,        ST_SETTLE,           ACT_NONE },
	{ B(ST_STARTING),           EV_RECOVER_DRAIN,   ST_DRAINING,         ACT_DRAIN },
	{ B(ST_STARTING),           EV_RECOVER_FENCE,   ST_FENCING,          ACT_FENCE },
	{ B(ST_STARTING),           EV_RECOVER_PROMOTE, ST_PROMOTING,        ACT_PROMOTE },
	{ B(ST_STARTING),           EV_RECOVER_REROUTE, ST_RECONFIGURING,    ACT_RECONFIGURE },
	{ B(ST_STARTING),           EV_RECOVER_PAUSED,  ST_PAUSED,           ACT_NONE },
	{ B(ST_STARTING),           EV_RECOVER_FAILED,  ST_FAILED,           ACT_NONE },
	{ B(ST_STARTING),           EV_HOLD,            ST_HELD,             ACT_HOLD },
	{ B(ST_HELD),               EV_RESOLVE,         ST_SETTLE,           ACT_RESOLVE },
};

const struct fsm_transition *fsm_lookup(enum fsm_state from, enum fsm_event event)
{
	if ((unsigned)from >= ST_COUNT)
		return NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if ((table[i].from & B(from)) && table[i].event == event)
			return &table[i];
	return NULL;
}

const struct fsm_transition *fsm_table(unsigned *n)
{
	*n = (unsigned)(sizeof(table) / sizeof(table[0]));
	return table;
}

enum fsm_state fsm_settle(enum fsm_event health, bool tilt, bool paused)
{
	if (paused)
		return ST_PAUSED;
	if (tilt)
		return ST_TILT;
	switch (health) {
	case EV_ALL_UP:
	case EV_FAILBACK:
		return ST_HEALTHY;
	case EV_NO_STANDBY:
		return ST_DEGRADED;
	case EV_SDOWN:
		return ST_PRIMARY_SDOWN;
	case EV_ODOWN:
	case EV_ODOWN_ACT:
	case EV_ODOWN_LIMIT:
		/* The next evaluation acts from here, through the table. */
		return ST_FAILOVER_PENDING;
	default:
		return ST_STARTING;
	}
}

bool fsm_state_busy(enum fsm_state s)
{
	return (JOB & B(s)) != 0;
}

const char *fsm_state_name(enum fsm_state s)
{
	static const char *const names[] = {
		[ST_STARTING] = "starting", [ST_HEALTHY] = "healthy", [ST_DEGRADED] = "degraded",
		[ST_PRIMARY_SDOWN] = "primary_sdown", [ST_FAILOVER_PENDING] = "failover_pending",
		[ST_DRAINING] = "draining", [ST_FENCING] = "fencing", [ST_PROMOTING] = "promoting",
		[ST_RECONFIGURING] = "reconfiguring", [ST_RESTORING] = "restoring",
		[ST_FAILED] = "failed", [ST_PAUSED] = "paused", [ST_TILT] = "tilt",
		[ST_HELD] = "held",
	};

	return (unsigned)s < ST_COUNT ? names[s] : "settle";
}

const char *fsm_event_name(enum fsm_event e)
{
	static const char *const names[] = {
		[EV_ALL_UP] = "all_up", [EV_NO_STANDBY] = "no_standby", [EV_UNKNOWN] = "unknown",
		[EV_SDOWN] = "sdown", [EV_ODOWN] = "odown", [EV_ODOWN_ACT] = "odown_act",
		[EV_ODOWN_LIMIT] = "odown_limit", [EV_FAILBACK] = "failback",
		[EV_STEP_OK] = "step_ok", [EV_STEP_FAILED] = "step_failed",
		[EV_RETRY_FAILOVER] = "retry_failover", [EV_RETRY_REROUTE] = "retry_reroute",
		[EV_FAILOVER_CMD] = "failover_cmd", [EV_SWITCHOVER_CMD] = "switchover_cmd",
		[EV_PAUSE] = "pause", [EV_RESUME] = "resume", [EV_TILT] = "tilt",
		[EV_TILT_END] = "tilt_end", [EV_RECOVER_DRAIN] = "recover_drain",
		[EV_RECOVER_FENCE] = "recover_fence", [EV_RECOVER_PROMOTE] = "recover_promote",
		[EV_RECOVER_REROUTE] = "recover_reroute", [EV_RECOVER_PAUSED] = "recover_paused",
		[EV_RECOVER_FAILED] = "recover_failed", [EV_HOLD] = "hold",
		[EV_RESOLVE] = "resolve",
	};

	return (unsigned)e < EV_COUNT ? names[e] : "?";
}

const char *fsm_action_name(enum fsm_action a)
{
	static const char *const names[] = {
		[ACT_NONE] = "none", [ACT_BEGIN_FAILOVER] = "begin_failover",
		[ACT_BEGIN_SWITCHOVER] = "begin_switchover", [ACT_DRAIN] = "drain",
		[ACT_FENCE] = "fence",
		[ACT_PROMOTE] = "promote", [ACT_RECONFIGURE] = "reconfigure",
		[ACT_RESTORE] = "restore", [ACT_FINISH] = "finish", [ACT_FAIL] = "fail",
		[ACT_LIMIT] = "limit", [ACT_PAUSE] = "pause", [ACT_RESUME] = "resume",
		[ACT_HOLD] = "hold", [ACT_RESOLVE] = "resolve",
	};

	return (unsigned)a <= ACT_RESOLVE ? names[a] : "?";
}
