/*
 * tests/unit/test_fsm.c — the cluster state machine's table, one case per
 * transition (written out here independently of fsm.c), every other
 * (state, event) pair doing nothing, and a seeded random walk through
 * decide() and the table asserting the invariants the design promises.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "monitor/decide.h"
#include "monitor/fsm.h"

#define CALM_STATES ST_STARTING, ST_HEALTHY, ST_DEGRADED, ST_PRIMARY_SDOWN, ST_FAILOVER_PENDING

struct want {
	enum fsm_state from;
	enum fsm_event event;
	enum fsm_state to;
	enum fsm_action action;
};

#define CALM_ROW(ev, to, act) \
	{ ST_STARTING, ev, to, act }, { ST_HEALTHY, ev, to, act }, \
	{ ST_DEGRADED, ev, to, act }, { ST_PRIMARY_SDOWN, ev, to, act }, \
	{ ST_FAILOVER_PENDING, ev, to, act }

static const struct want wants[] = {
	CALM_ROW(EV_UNKNOWN, ST_STARTING, ACT_NONE),
	CALM_ROW(EV_ALL_UP, ST_HEALTHY, ACT_NONE),
	CALM_ROW(EV_NO_STANDBY, ST_DEGRADED, ACT_NONE),
	CALM_ROW(EV_SDOWN, ST_PRIMARY_SDOWN, ACT_NONE),
	CALM_ROW(EV_ODOWN, ST_FAILOVER_PENDING, ACT_NONE),
	CALM_ROW(EV_ODOWN_ACT, ST_FENCING, ACT_BEGIN_FAILOVER),
	CALM_ROW(EV_ODOWN_LIMIT, ST_PAUSED, ACT_LIMIT),
	CALM_ROW(EV_FAILOVER_CMD, ST_FENCING, ACT_BEGIN_FAILOVER),
	CALM_ROW(EV_PAUSE, ST_PAUSED, ACT_PAUSE),
	CALM_ROW(EV_TILT, ST_TILT, ACT_NONE),
	{ ST_HEALTHY, EV_FAILBACK, ST_FENCING, ACT_BEGIN_FAILOVER },
	{ ST_DEGRADED, EV_FAILBACK, ST_FENCING, ACT_BEGIN_FAILOVER },
	{ ST_HEALTHY, EV_SWITCHOVER_CMD, ST_DRAINING, ACT_BEGIN_SWITCHOVER },
	{ ST_DEGRADED, EV_SWITCHOVER_CMD, ST_DRAINING, ACT_BEGIN_SWITCHOVER },
	{ ST_DRAINING, EV_STEP_OK, ST_FENCING, ACT_FENCE },
	{ ST_FENCING, EV_STEP_OK, ST_PROMOTING, ACT_PROMOTE },
	{ ST_PROMOTING, EV_STEP_OK, ST_RECONFIGURING, ACT_RECONFIGURE },
	{ ST_RECONFIGURING, EV_STEP_OK, ST_RESTORING, ACT_RESTORE },
	{ ST_RESTORING, EV_STEP_OK, ST_SETTLE, ACT_FINISH },
	{ ST_DRAINING, EV_STEP_FAILED, ST_FAILED, ACT_FAIL },
	{ ST_FENCING, EV_STEP_FAILED, ST_FAILED, ACT_FAIL },
	{ ST_PROMOTING, EV_STEP_FAILED, ST_FAILED, ACT_FAIL },
	{ ST_RECONFIGURING, EV_STEP_FAILED, ST_FAILED, ACT_FAIL },
	{ ST_RESTORING, EV_STEP_FAILED, ST_FAILED, ACT_FAIL },
	{ ST_FAILED, EV_RETRY_FAILOVER, ST_FENCING, ACT_BEGIN_FAILOVER },
	{ ST_FAILED, EV_RETRY_REROUTE, ST_RECONFIGURING, ACT_RECONFIGURE },
	{ ST_FAILED, EV_FAILOVER_CMD, ST_FENCING, ACT_BEGIN_FAILOVER },
	{ ST_FAILED, EV_PAUSE, ST_PAUSED, ACT_PAUSE },
	{ ST_FAILED, EV_RESUME, ST_SETTLE, ACT_RESUME },
	{ ST_PAUSED, EV_RESUME, ST_SETTLE, ACT_RESUME },
	{ ST_TILT, EV_TILT_END, ST_SETTLE, ACT_NONE },
	{ ST_STARTING, EV_RECOVER_DRAIN, ST_DRAINING, ACT_DRAIN },
	{ ST_STARTING, EV_RECOVER_FENCE, ST_FENCING, ACT_FENCE },
	{ ST_STARTING, EV_RECOVER_PROMOTE, ST_PROMOTING, ACT_PROMOTE },
	{ ST_STARTING, EV_RECOVER_REROUTE, ST_RECONFIGURING, ACT_RECONFIGURE },
	/* Where the journal left the cluster at the last stop. */
	{ ST_STARTING, EV_RECOVER_PAUSED, ST_PAUSED, ACT_NONE },
	{ ST_STARTING, EV_RECOVER_FAILED, ST_FAILED, ACT_NONE },
	/* A damaged journal, or one at odds with the balancers: held until resolved. */
	{ ST_STARTING, EV_HOLD, ST_HELD, ACT_HOLD },
	{ ST_HELD, EV_RESOLVE, ST_SETTLE, ACT_RESOLVE },
};
#define N_WANTS (sizeof(wants) / sizeof(wants[0]))

START_TEST(transition)
{
	const struct want *w = &wants[_i];
	const struct fsm_transition *t = fsm_lookup(w->from, w->event);

	ck_assert_msg(t != NULL, "%s + %s: no transition", fsm_state_name(w->from),
		      fsm_event_name(w->event));
	ck_assert_msg(t->to == w->to && t->action == w->action, "%s + %s: got %s/%s, want %s/%s",
		      fsm_state_name(w->from), fsm_event_name(w->event), fsm_state_name(t->to),
		      fsm_action_name(t->action), fsm_state_name(w->to),
		      fsm_action_name(w->action));
}
END_TEST

/* Everything not listed above is ignored: above all, PAUSED, TILT and HELD never act. */
START_TEST(nothing_else)
{
	for (int s = 0; s < ST_COUNT; s++) {
		for (int e = 0; e < EV_COUNT; e++) {
			bool listed = false;

			for (size_t i = 0; i < N_WANTS; i++)
				listed |= wants[i].from == (enum fsm_state)s &&
					  wants[i].event == (enum fsm_event)e;
			ck_assert_msg(listed || !fsm_lookup(s, e), "%s + %s has an unexpected row",
				      fsm_state_name(s), fsm_event_name(e));
		}
	}
}
END_TEST

START_TEST(settle_and_names)
{
	ck_assert_int_eq(fsm_settle(EV_ALL_UP, false, false), ST_HEALTHY);
	ck_assert_int_eq(fsm_settle(EV_NO_STANDBY, false, false), ST_DEGRADED);
	ck_assert_int_eq(fsm_settle(EV_SDOWN, false, false), ST_PRIMARY_SDOWN);
	ck_assert_int_eq(fsm_settle(EV_ODOWN_ACT, false, false), ST_FAILOVER_PENDING);
	ck_assert_int_eq(fsm_settle(EV_UNKNOWN, false, false), ST_STARTING);
	ck_assert_int_eq(fsm_settle(EV_ALL_UP, true, false), ST_TILT);
	ck_assert_int_eq(fsm_settle(EV_ODOWN_ACT, true, true), ST_PAUSED);
	ck_assert_str_eq(fsm_state_name(ST_FAILOVER_PENDING), "failover_pending");
	ck_assert_str_eq(fsm_event_name(EV_RECOVER_REROUTE), "recover_reroute");
	ck_assert_str_eq(fsm_action_name(ACT_RESUME), "resume");
	ck_assert(fsm_state_busy(ST_DRAINING) && fsm_state_busy(ST_RESTORING));
	ck_assert(!fsm_state_busy(ST_FAILED) && !fsm_state_busy(ST_PAUSED));
	ck_assert(!fsm_state_busy(ST_HELD));
	ck_assert_str_eq(fsm_state_name(ST_HELD), "held");
	ck_assert_str_eq(fsm_action_name(ACT_RESOLVE), "resolve");
	for (int s = 0; s < ST_COUNT; s++)
		ck_assert_ptr_nonnull(fsm_state_name(s));
}
END_TEST

/* ---- the random walk (test_fsm_walk.c) ---- */
TCase *walk_tcase(void);

Suite *unit_suite(void)
{
	Suite *s = suite_create("fsm");
	TCase *t = tcase_create("table");

	tcase_add_loop_test(t, transition, 0, (int)N_WANTS);
	tcase_add_test(t, nothing_else);
	tcase_add_test(t, settle_and_names);
	suite_add_tcase(s, t);
	suite_add_tcase(s, walk_tcase());
	return s;
}

