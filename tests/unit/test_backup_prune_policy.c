/*
 * tests/unit/test_backup_prune_policy.c — which snapshots a retention
 * policy keeps: a table of made-up times across hour, day, ISO week,
 * month and year boundaries (and before 1970), and a randomized
 * comparison with a reference that takes its buckets from strftime
 * ("%G-W%V" for ISO weeks) instead of arithmetic.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/harness.h"
#include "actions/backup/backup.h"
#include "tests/unit/backup_fixture.h"

#define L BK_KEEP_LAST
#define H BK_KEEP_HOURLY
#define D BK_KEEP_DAILY
#define W BK_KEEP_WEEKLY
#define M BK_KEEP_MONTHLY
#define A BK_KEEP_ALL

static int64_t utc_ns(const char *s)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	ck_assert_msg(end && *end == '\0', "bad time %s", s);
	return (int64_t)timegm(&tm) * 1000000000;
}

struct keep_case {
	const char *name;
	struct bk_keep_policy p;
	const char *times[6]; /* NULL-terminated */
	unsigned want[6];
};

static const struct keep_case keep_cases[] = {
	{ "an empty policy keeps everything", { 0 },
	  { "2024-01-01T00:00:00", "2024-01-02T00:00:00" }, { A, A } },
	{ "keep-last 2 of 4", { .keep_last = 2 },
	  { "2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00",
	    "2024-01-04T00:00:00" }, { 0, 0, L, L } },
	{ "keep-last more than there are", { .keep_last = 5 },
	  { "2024-01-01T00:00:00", "2024-01-02T00:00:00" }, { L, L } },
	{ "hourly: :59:59 and the next :00", { .keep_hourly = 2 },
	  { "2024-03-01T10:00:00", "2024-03-01T10:59:59", "2024-03-01T11:00:00" }, { 0, H, H } },
	{ "daily: 23:59:59 and midnight", { .keep_daily = 2 },
	  { "2024-03-01T10:00:00", "2024-03-01T23:59:59", "2024-03-02T00:00:00",
	    "2024-03-02T12:00:00" }, { 0, D, 0, D } },
	{ "daily: a gap does not use up the count", { .keep_daily = 3 },
	  { "2024-03-01T12:00:00", "2024-03-02T12:00:00", "2024-03-10T12:00:00" }, { D, D, D } },
	{ "daily 1 keeps only the newest", { .keep_daily = 1 },
	  { "2024-03-01T12:00:00", "2024-03-02T12:00:00", "2024-03-10T12:00:00" }, { 0, 0, D } },
	{ "weekly: Sunday night, Monday morning", { .keep_weekly = 2 },
	  { "2024-06-03T00:00:00", "2024-06-09T23:59:59", "2024-06-10T00:00:00" }, { 0, W, W } },
	{ "weekly: ISO week 53 of 2020 runs into 2021", { .keep_weekly = 3 },
	  { "2020-12-28T00:00:00", "2021-01-03T23:00:00", "2021-01-04T01:00:00" }, { 0, W, W } },
	{ "weekly: a week ending on Sunday 31 December", { .keep_weekly = 2 },
	  { "2023-12-25T00:00:00", "2023-12-31T23:59:59", "2024-01-01T00:00:00" }, { 0, W, W } },
	{ "monthly: a leap February", { .keep_monthly = 3 },
	  { "2024-01-31T23:59:59", "2024-02-01T00:00:00", "2024-02-29T12:00:00",
	    "2024-03-01T00:00:00" }, { M, 0, M, M } },
	{ "monthly: over the new year", { .keep_monthly = 2 },
	  { "2023-12-31T23:59:59", "2024-01-01T00:00:00" }, { M, M } },
	{ "rules combine", { .keep_last = 1, .keep_daily = 2, .keep_monthly = 2 },
	  { "2024-01-15T12:00:00", "2024-02-10T08:00:00", "2024-02-11T08:00:00",
	    "2024-02-11T09:00:00" }, { M, D, 0, L | D | M } },
	{ "equal times: the later one is the newer", { .keep_last = 1 },
	  { "2024-01-01T00:00:00", "2024-01-01T00:00:00" }, { 0, L } },
	{ "any order in", { .keep_daily = 2 },
	  { "2024-03-02T12:00:00", "2024-03-02T06:00:00", "2024-03-01T12:00:00" }, { D, 0, D } },
	{ "daily before 1970", { .keep_daily = 2 },
	  { "1969-12-31T23:59:58", "1969-12-31T23:59:59", "1970-01-01T00:00:00" }, { 0, D, D } },
	{ "hourly before 1970", { .keep_hourly = 2 },
	  { "1969-12-31T22:59:59", "1969-12-31T23:00:00", "1969-12-31T23:30:00" }, { H, 0, H } },
	{ "weekly around the epoch", { .keep_weekly = 2 },
	  { "1969-12-28T12:00:00", "1969-12-29T00:00:00", "1970-01-04T23:59:59" }, { W, 0, W } },
};

START_TEST(policy_table)
{
	const struct keep_case *c = &keep_cases[_i];
	int64_t t[6];
	unsigned why[6];
	size_t n = 0;

	while (n < 6 && c->times[n]) {
		t[n] = utc_ns(c->times[n]);
		n++;
	}
	ck_assert_int_eq(bk_keep_select(t, n, &c->p, why), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(why[i] == c->want[i], "%s: snapshot %zu (%s): got %#x, want %#x",
			      c->name, i, c->times[i], why[i], c->want[i]);
}
END_TEST

/* The reference: for each rule, the newest snapshot of each of its N newest labels. */
static void reference(const int64_t *t, size_t n, const struct bk_keep_policy *p, unsigned *why)
{
	static const char *const fmt[] = { "%Y-%m-%dT%H", "%Y-%m-%d", "%G-W%V", "%Y-%m" };
	const unsigned bit[] = { H, D, W, M }, count[] = { p->keep_hourly, p->keep_daily,
							    p->keep_weekly, p->keep_monthly };
	size_t *order = malloc(n * sizeof(*order));

	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		why[i] = 0;
	}
	for (size_t i = 1; i < n; i++) /* newest first, the later index first among equals */
		for (size_t j = i; j > 0 && (t[order[j]] > t[order[j - 1]] ||
					     (t[order[j]] == t[order[j - 1]] && order[j] > order[j - 1])); j--) {
			size_t x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (size_t k = 0; k < n && k < p->keep_last; k++)
		why[order[k]] |= L;
	for (int r = 0; r < 4; r++) {
		char prev[32] = "", label[32];
		unsigned taken = 0;

		for (size_t k = 0; k < n && taken < count[r]; k++) {
			time_t secs = (time_t)(t[order[k]] / 1000000000);
			struct tm tm;

			strftime(label, sizeof(label), fmt[r], gmtime_r(&secs, &tm));
			if (strcmp(label, prev) == 0)
				continue;
			snprintf(prev, sizeof(prev), "%s", label);
			why[order[k]] |= bit[r];
			taken++;
		}
	}
	free(order);
}

START_TEST(policy_matches_a_reference)
{
	uint64_t seed = 0x5eed;

	for (int round = 0; round < 400; round++) {
		uint8_t rnd[16];
		int64_t t[64];
		unsigned why[64], want[64];
		size_t n;
		/* 1968..2031, in seconds; dense bursts and long gaps both. */
		int64_t base = -60000000 + (int64_t)(round * 4999) * 1000;
		struct bk_keep_policy p;

		bkf_fill(rnd, sizeof(rnd), &seed);
		n = 1 + rnd[0] % 64;
		p = (struct bk_keep_policy){ rnd[1] % 4, rnd[2] % 8, rnd[3] % 8, rnd[4] % 6,
					      rnd[5] % 5 };
		for (size_t i = 0; i < n; i++) {
			uint8_t r8[8];
			uint64_t span = round % 3 == 0 ? 86400ull * 3 : 86400ull * 400;

			bkf_fill(r8, sizeof(r8), &seed);
			t[i] = (base + (int64_t)(((uint64_t)r8[0] << 24 | (uint64_t)r8[1] << 16 |
						  (uint64_t)r8[2] << 8 | r8[3]) % span)) * 1000000000;
		}
		ck_assert_int_eq(bk_keep_select(t, n, &p, why), 0);
		reference(t, n, &p, want);
		for (size_t i = 0; i < n; i++) {
			if (!bk_keep_policy_empty(&p))
				ck_assert_msg(why[i] == want[i], "round %d snapshot %zu: got %#x want %#x",
					      round, i, why[i], want[i]);
			else
				ck_assert_uint_eq(why[i], A);
		}
	}
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_prune_policy");
	TCase *t = tcase_create("policy");

	tcase_add_loop_test(t, policy_table, 0, sizeof(keep_cases) / sizeof(keep_cases[0]));
	tcase_add_test(t, policy_matches_a_reference);
	suite_add_tcase(s, t);
	return s;
}

