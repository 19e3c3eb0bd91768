/* tests/unit/test_decide.c — the skeleton's decision function. */
#include <check.h>
#include <stdlib.h>

#include "monitor/decide.h"

#define U HEALTH_UP
#define D HEALTH_DOWN
#define Q HEALTH_UNKNOWN

static struct decision run(enum health_state *h, size_t n, size_t primary, bool busy, bool held)
{
	struct decide_input in = { .health = h, .n_nodes = n, .primary = primary,
				   .busy = busy, .held = held };

	return decide(&in);
}

START_TEST(primary_up_does_nothing)
{
	enum health_state h[] = { U, D };

	ck_assert_int_eq(run(h, 2, 0, false, false).verdict, DECIDE_NOTHING);
}
END_TEST

START_TEST(primary_unknown_does_nothing)
{
	enum health_state h[] = { Q, U };

	ck_assert_int_eq(run(h, 2, 0, false, false).verdict, DECIDE_NOTHING);
}
END_TEST

START_TEST(primary_down_standby_up_fails_over)
{
	enum health_state h[] = { D, U };
	struct decision d = run(h, 2, 0, false, false);

	ck_assert_int_eq(d.verdict, DECIDE_FAILOVER);
	ck_assert_uint_eq(d.target, 1);
}
END_TEST

START_TEST(never_promotes_down_or_unknown)
{
	enum health_state h1[] = { D, D };
	enum health_state h2[] = { D, Q };

	ck_assert_int_eq(run(h1, 2, 0, false, false).verdict, DECIDE_NO_CANDIDATE);
	ck_assert_int_eq(run(h2, 2, 0, false, false).verdict, DECIDE_NO_CANDIDATE);
}
END_TEST

START_TEST(first_up_standby_in_config_order)
{
	enum health_state h[] = { Q, D, D, U, U };
	struct decision d = run(h, 5, 1, false, false);

	ck_assert_int_eq(d.verdict, DECIDE_FAILOVER);
	ck_assert_uint_eq(d.target, 3);
}
END_TEST

START_TEST(primary_can_be_any_index)
{
	enum health_state h[] = { U, D };
	struct decision d = run(h, 2, 1, false, false);

	ck_assert_int_eq(d.verdict, DECIDE_FAILOVER);
	ck_assert_uint_eq(d.target, 0);
}
END_TEST

START_TEST(busy_or_held_never_acts)
{
	enum health_state h[] = { D, U };

	ck_assert_int_eq(run(h, 2, 0, true, false).verdict, DECIDE_NOTHING);
	ck_assert_int_eq(run(h, 2, 0, false, true).verdict, DECIDE_NOTHING);
}
END_TEST

START_TEST(paused_never_acts_even_on_command)
{
	enum health_state h[] = { D, U };
	struct decide_input in = { .health = h, .n_nodes = 2, .primary = 0, .paused = true };
	char why[128];
	int st;

	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), -1);
	ck_assert_int_eq(st, 409);
	ck_assert_str_eq(why, "the cluster is paused: resume it first");
	h[1] = D;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
}
END_TEST

START_TEST(cooldown_suppresses_and_limit_stops)
{
	enum health_state h[] = { D, U };
	struct decide_input in = { .health = h, .n_nodes = 2, .primary = 0, .cooling_down = true };
	struct decision d = decide(&in);
	char why[128];
	int st;

	ck_assert_int_eq(d.verdict, DECIDE_SUPPRESSED);
	ck_assert_uint_eq(d.target, 1);
	in.cooling_down = false;
	in.over_limit = true;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_LIMIT);
	/* Neither applies while the primary is up, nor without a candidate. */
	h[0] = U;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	h[0] = D;
	h[1] = Q;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NO_CANDIDATE);
	/* The operator is not limited by the anti-flap policy. */
	h[1] = U;
	in.cooling_down = true;
	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), 1);
	ck_assert_str_eq(decide_verdict_name(DECIDE_LIMIT), "failover_limit");
}
END_TEST

START_TEST(tilt_never_acts)
{
	enum health_state h[] = { D, U };
	struct decide_input in = { .health = h, .n_nodes = 2, .primary = 0, .tilt = true };
	char why[128];
	int st;

	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), -1);
	ck_assert_int_eq(st, 409);
	in.tilt = false;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_FAILOVER);
}
END_TEST

START_TEST(failback_when_due_and_allowed)
{
	enum health_state h[] = { U, U };
	struct decide_input in = { .health = h, .n_nodes = 2, .primary = 1, .preferred = 0 };
	struct decision d;

	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	in.failback_due = true;
	d = decide(&in);
	ck_assert_int_eq(d.verdict, DECIDE_FAILOVER);
	ck_assert_uint_eq(d.target, 0);
	/* Anti-flap delays it without alerting; a down preferred is never chosen. */
	in.cooling_down = true;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	in.cooling_down = false;
	h[0] = Q;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	/* Already on the preferred node, or paused: nothing. */
	h[0] = U;
	in.primary = 0;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
	in.primary = 1;
	in.paused = true;
	ck_assert_int_eq(decide(&in).verdict, DECIDE_NOTHING);
}
END_TEST

START_TEST(manual_checks_target)
{
	enum health_state h[] = { U, U, D };
	struct decide_input in = { .health = h, .n_nodes = 3, .primary = 0 };
	char why[128];
	int st;

	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), 1);
	ck_assert_int_eq(decide_manual(&in, -1, why, sizeof(why), &st), 1);
	ck_assert_int_eq(decide_manual(&in, 0, why, sizeof(why), &st), -1);
	ck_assert_int_eq(st, 409);
	ck_assert_int_eq(decide_manual(&in, 2, why, sizeof(why), &st), -1);
	ck_assert_str_eq(why, "node is down, only an up node can be promoted");
	ck_assert_int_eq(decide_manual(&in, 7, why, sizeof(why), &st), -1);
	ck_assert_int_eq(st, 404);
	in.busy = true;
	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), -1);
	ck_assert_int_eq(st, 409);
}
END_TEST

START_TEST(manual_with_no_up_standby_refused)
{
	enum health_state h[] = { U, Q, D };
	struct decide_input in = { .health = h, .n_nodes = 3, .primary = 0 };
	char why[128];
	int st;

	ck_assert_int_eq(decide_manual(&in, -1, why, sizeof(why), &st), -1);
	ck_assert_str_eq(why, "no standby is up");
}
END_TEST

START_TEST(manual_allowed_while_held)
{
	enum health_state h[] = { D, U };
	struct decide_input in = { .health = h, .n_nodes = 2, .primary = 0, .held = true };
	char why[128];
	int st;

	ck_assert_int_eq(decide_manual(&in, 1, why, sizeof(why), &st), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, primary_up_does_nothing);
	tcase_add_test(tc, primary_unknown_does_nothing);
	tcase_add_test(tc, primary_down_standby_up_fails_over);
	tcase_add_test(tc, never_promotes_down_or_unknown);
	tcase_add_test(tc, first_up_standby_in_config_order);
	tcase_add_test(tc, primary_can_be_any_index);
	tcase_add_test(tc, busy_or_held_never_acts);
	tcase_add_test(tc, paused_never_acts_even_on_command);
	tcase_add_test(tc, cooldown_suppresses_and_limit_stops);
	tcase_add_test(tc, tilt_never_acts);
	tcase_add_test(tc, failback_when_due_and_allowed);
	tcase_add_test(tc, manual_checks_target);
	tcase_add_test(tc, manual_with_no_up_standby_refused);
	tcase_add_test(tc, manual_allowed_while_held);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
