/* tests/unit/test_health.c — rise/fall hysteresis and node combination. */
#include <check.h>
#include <stdlib.h>

#include "tests/unit/harness.h"
#include "monitor/health.h"

static void feed(struct health *h, const char *seq)
{
	for (; *seq; seq++)
		health_feed(h, *seq == '+');
}

START_TEST(starts_unknown_until_rise)
{
	struct health h;

	health_init(&h, 2, 3);
	ck_assert_int_eq(h.state, HEALTH_UNKNOWN);
	ck_assert(!health_feed(&h, true));
	ck_assert_int_eq(h.state, HEALTH_UNKNOWN);
	ck_assert(health_feed(&h, true));
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(starts_unknown_until_fall)
{
	struct health h;

	health_init(&h, 2, 3);
	feed(&h, "--");
	ck_assert_int_eq(h.state, HEALTH_UNKNOWN);
	ck_assert(health_feed(&h, false));
	ck_assert_int_eq(h.state, HEALTH_DOWN);
}
END_TEST

START_TEST(up_survives_fewer_than_fall_failures)
{
	struct health h;

	health_init(&h, 2, 3);
	feed(&h, "++--+--+--");
	ck_assert_int_eq(h.state, HEALTH_UP);
	feed(&h, "---");
	ck_assert_int_eq(h.state, HEALTH_DOWN);
}
END_TEST

START_TEST(down_needs_rise_consecutive_passes)
{
	struct health h;

	health_init(&h, 3, 2);
	feed(&h, "--");
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	feed(&h, "++-++-");
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	feed(&h, "++");
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	feed(&h, "+");
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(feed_reports_change_only_once)
{
	struct health h;
	int changes = 0;

	health_init(&h, 1, 1);
	for (int i = 0; i < 5; i++)
		changes += health_feed(&h, false);
	ck_assert_int_eq(changes, 1);
	for (int i = 0; i < 5; i++)
		changes += health_feed(&h, true);
	ck_assert_int_eq(changes, 2);
}
END_TEST

START_TEST(bad_counts_are_clamped_to_one)
{
	struct health h;

	health_init(&h, 0, -4);
	ck_assert(health_feed(&h, false));
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	ck_assert(health_feed(&h, true));
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(combine_by_quorum)
{
	enum health_state one_down[] = { HEALTH_UP, HEALTH_DOWN, HEALTH_UP };
	enum health_state two_down[] = { HEALTH_DOWN, HEALTH_UNKNOWN, HEALTH_DOWN };
	enum health_state split[] = { HEALTH_UP, HEALTH_UNKNOWN, HEALTH_DOWN };
	enum health_state single[] = { HEALTH_DOWN };

	/* Majority of 3 is 2: one broken path neither fails nor vouches alone. */
	ck_assert_int_eq(health_combine(one_down, 3, 0), HEALTH_UP);
	ck_assert(health_any_down(one_down, 3));
	ck_assert_int_eq(health_combine(two_down, 3, 0), HEALTH_DOWN);
	ck_assert_int_eq(health_combine(split, 3, 0), HEALTH_UNKNOWN);
	/* An explicit quorum of 1 acts on any observer; 3 needs all. */
	ck_assert_int_eq(health_combine(one_down, 3, 1), HEALTH_DOWN);
	ck_assert_int_eq(health_combine(two_down, 3, 3), HEALTH_UNKNOWN);
	ck_assert_int_eq(health_combine(single, 1, 0), HEALTH_DOWN);
	ck_assert_int_eq(health_combine(single, 0, 0), HEALTH_UNKNOWN);
	ck_assert(!health_any_down(split, 2));
	ck_assert_uint_eq(health_majority(4), 3);
	ck_assert_str_eq(health_state_name(HEALTH_DOWN), "down");
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, starts_unknown_until_rise);
	tcase_add_test(tc, starts_unknown_until_fall);
	tcase_add_test(tc, up_survives_fewer_than_fall_failures);
	tcase_add_test(tc, down_needs_rise_consecutive_passes);
	tcase_add_test(tc, feed_reports_change_only_once);
	tcase_add_test(tc, bad_counts_are_clamped_to_one);
	tcase_add_test(tc, combine_by_quorum);
	suite_add_tcase(s, tc);
	return s;
}
