/* tests/unit/test_decide.c — what the observers say, as one state-machine event. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "monitor/decide.h"

#define U HEALTH_UP
#define D HEALTH_DOWN
#define Q HEALTH_UNKNOWN

static struct decide_input base(enum health_state *h, size_t n, size_t primary)
{
	return (struct decide_input){ .health = h, .n_nodes = n, .primary = primary,
				      .delay_over = true, .primary_sdown = h[primary] == D };
}

START_TEST(primary_up)
{
	enum health_state h1[] = { U, U }, h2[] = { U, D };
	struct decide_input in = base(h1, 2, 0);

	ck_assert_int_eq(decide(&in).event, EV_ALL_UP);
	in = base(h2, 2, 0);
	ck_assert_int_eq(decide(&in).event, EV_NO_STANDBY);
}
END_TEST

START_TEST(primary_unknown_and_sdown)
{
	enum health_state h[] = { Q, U };
	struct decide_input in = base(h, 2, 0);

	ck_assert_int_eq(decide(&in).event, EV_UNKNOWN);
	in.primary_sdown = true;
	ck_assert_int_eq(decide(&in).event, EV_SDOWN);
	h[0] = U; /* UP by quorum with one observer down is still SDOWN */
	ck_assert_int_eq(decide(&in).event, EV_SDOWN);
}
END_TEST

START_TEST(odown_acts_on_the_first_candidate)
{
	enum health_state h[] = { Q, D, D, U, U };
	struct decide_input in = base(h, 5, 1);
	struct decision d = decide(&in);

	ck_assert_int_eq(d.event, EV_ODOWN_ACT);
	ck_assert_uint_eq(d.target, 3);
	ck_assert_ptr_null(d.hold);
}
END_TEST

START_TEST(never_a_down_unknown_or_fenced_candidate)
{
	enum health_state h[] = { D, D, Q, U };
	bool out[] = { false, false, false, true };
	struct decide_input in = base(h, 4, 0);
	struct decision d;

	in.out = out;
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_ODOWN);
	ck_assert_str_eq(d.hold, "no_candidate");
}
END_TEST

START_TEST(waits_for_delay_cooldown_and_limit)
{
	enum health_state h[] = { D, U };
	struct decide_input in = base(h, 2, 0);
	struct decision d;

	in.delay_over = false;
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_ODOWN);
	ck_assert_ptr_null(d.hold);
	in.delay_over = true;
	in.cooling_down = true;
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_ODOWN);
	ck_assert_str_eq(d.hold, "failover_suppressed");
	in.cooling_down = false;
	in.over_limit = true;
	ck_assert_int_eq(decide(&in).event, EV_ODOWN_LIMIT);
}
END_TEST

START_TEST(max_lag_filters_and_least_lag_wins)
{
	enum health_state h[] = { D, U, U, U };
	int64_t lag[] = { 0, 500, DECIDE_NO_LAG, 100 };
	struct decide_input in = base(h, 4, 0);
	struct decision d;

	in.lag = lag;
	d = decide(&in);
	ck_assert_uint_eq(d.target, 3); /* least known lag, not config order */
	in.check_lag = true;
	in.max_lag = 50;
	ck_assert_int_eq(decide(&in).event, EV_ODOWN); /* all over max_lag or unknown */
	in.max_lag = 100;
	ck_assert_uint_eq(decide(&in).target, 3);
}
END_TEST

START_TEST(priority_then_config_order)
{
	enum health_state h[] = { D, U, U, U };
	int prio[] = { 100, 50, 0, 80 };
	int64_t lag[] = { 0, 7, 7, 7 };
	struct decide_input in = base(h, 4, 0);
	char why[256];
	enum refusal status;

	in.priority = prio;
	ck_assert_uint_eq(decide(&in).target, 3); /* 80 beats 50; 0 never */
	prio[3] = 50;
	ck_assert_uint_eq(decide(&in).target, 1); /* equal: config order */
	in.lag = lag;
	lag[3] = 1;
	ck_assert_uint_eq(decide(&in).target, 3); /* the most advanced first */
	prio[1] = prio[3] = 0;
	ck_assert_int_eq(decide(&in).event, EV_ODOWN); /* priority 0: not automatically */
	ck_assert_int_eq(decide_manual(&in, -1, false, why, sizeof(why), &status), -1);
	ck_assert_int_eq(decide_manual(&in, 2, false, why, sizeof(why), &status), 2);
}
END_TEST

START_TEST(failback)
{
	enum health_state h[] = { U, U };
	bool out[] = { true, false };
	struct decide_input in = base(h, 2, 1);
	struct decision d;

	in.failback_due = true;
	in.preferred = 0;
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_FAILBACK);
	ck_assert_uint_eq(d.target, 0);
	in.cooling_down = true; /* delayed silently: the primary is serving */
	ck_assert_int_eq(decide(&in).event, EV_ALL_UP);
	in.cooling_down = false;
	in.out = out; /* a fenced preferred node waits for rejoin */
	ck_assert_int_ne(decide(&in).event, EV_FAILBACK);
}
END_TEST

START_TEST(manual_validation)
{
	enum health_state h[] = { U, D, U, U };
	bool out[] = { false, false, false, true };
	int64_t lag[] = { 0, 0, 900, 0 };
	struct decide_input in = base(h, 4, 0);
	char why[256];
	enum refusal status;

	in.out = out;
	in.lag = lag;
	ck_assert_int_eq(decide_manual(&in, -1, false, why, sizeof(why), &status), 2);
	ck_assert_int_eq(decide_manual(&in, 9, false, why, sizeof(why), &status), -1);
	ck_assert_int_eq(status, REFUSED_UNKNOWN);
	ck_assert_int_eq(decide_manual(&in, 0, false, why, sizeof(why), &status), -1);
	ck_assert_ptr_nonnull(strstr(why, "already the primary"));
	ck_assert_int_eq(decide_manual(&in, 1, false, why, sizeof(why), &status), -1);
	ck_assert_ptr_nonnull(strstr(why, "down"));
	ck_assert_int_eq(status, REFUSED_NOT_NOW);
	ck_assert_int_eq(decide_manual(&in, 3, false, why, sizeof(why), &status), -1);
	ck_assert_ptr_nonnull(strstr(why, "rejoin"));
	in.check_lag = true;
	in.max_lag = 100;
	ck_assert_int_eq(decide_manual(&in, 2, false, why, sizeof(why), &status), -1);
	ck_assert_ptr_nonnull(strstr(why, "lag 900 is over max_lag 100"));
	ck_assert_int_eq(decide_manual(&in, -1, false, why, sizeof(why), &status), -1);
	ck_assert_int_eq(decide_manual(&in, 2, true, why, sizeof(why), &status), 2);
	ck_assert_int_eq(decide_manual(&in, -1, true, why, sizeof(why), &status), 2);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, primary_up);
	tcase_add_test(tc, primary_unknown_and_sdown);
	tcase_add_test(tc, odown_acts_on_the_first_candidate);
	tcase_add_test(tc, never_a_down_unknown_or_fenced_candidate);
	tcase_add_test(tc, waits_for_delay_cooldown_and_limit);
	tcase_add_test(tc, max_lag_filters_and_least_lag_wins);
	tcase_add_test(tc, priority_then_config_order);
	tcase_add_test(tc, failback);
	tcase_add_test(tc, manual_validation);
	suite_add_tcase(s, tc);
	return s;
}
