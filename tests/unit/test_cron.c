/*
 * tests/unit/test_cron.c — cron expressions: every malformed field
 * refused with a message naming it, a table of next runs in UTC (the
 * expected times were worked out by a separate minute-by-minute
 * reference), and daylight saving time in Europe/Berlin, where a skipped
 * time must fire once after the gap and a repeated hour only once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/harness.h"
#include "common/cron.h"

/* "YYYY-MM-DD HH:MM[:SS]" read as UTC. */
static time_t utc_time(const char *s)
{
	struct tm tm = { 0 };
	int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		       &tm.tm_hour, &tm.tm_min, &tm.tm_sec);

	ck_assert_msg(n >= 5, "bad test time \"%s\"", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* T as "YYYY-MM-DD HH:MM" in UTC, or in local time with the zone name. */
static void fmt_time(time_t t, bool utc, char *buf, size_t len)
{
	struct tm tm;

	ck_assert_ptr_nonnull(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm));
	ck_assert_uint_gt(strftime(buf, len, utc ? "%Y-%m-%d %H:%M" :
				   "%Y-%m-%d %H:%M %Z", &tm), 0);
}

static struct cron_spec parse_ok(const char *expr)
{
	struct cron_spec c;
	char err[256] = "";

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == 0,
		      "\"%s\" refused: %s", expr, err);
	return c;
}

/* Parsing EXPR must fail with an error containing WANT. */
static void expect_err(const char *expr, const char *want)
{
	struct cron_spec c;
	char err[256] = "";

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == -1,
		      "\"%s\" accepted", expr);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"",
		      expr, err, want);
}

START_TEST(test_parse_errors)
{
	expect_err("", "cron expression is empty");
	expect_err(" \t ", "cron expression is empty");
	expect_err("* * * *", "4 fields, expected 5");
	expect_err("* * * * * *", "6 fields, expected 5");
	expect_err("*", "1 field, expected 5");
	expect_err("60 * * * *", "cron field 1 (minute) '60': out of range 0-59");
	expect_err("* 25 * * *", "cron field 2 (hour) '25': out of range 0-23");
	expect_err("* * 0 * *", "cron field 3 (day-of-month) '0': out of range 1-31");
	expect_err("* * 32 * *", "cron field 3 (day-of-month) '32': out of range 1-31");
	expect_err("* * * 13 *", "cron field 4 (month) '13': out of range 1-12");
	expect_err("* * * * 8", "cron field 5 (day-of-week) '8': out of range 0-7");
	expect_err("1-60 * * * *", "cron field 1 (minute) '1-60': 60 is out of range 0-59");
	expect_err("* 1,2,24 * * *", "cron field 2 (hour) '24': out of range 0-23");
	expect_err("99999999999999 * * * *", "'99999999999999': out of range 0-59");
	expect_err("1,,2 * * * *", "cron field 1 (minute) '1,,2': empty list element");
	expect_err(",1 * * * *", "cron field 1 (minute) ',1': empty list element");
	expect_err("* 1, * * *", "cron field 2 (hour) '1,': empty list element");
	expect_err("*/0 * * * *", "cron field 1 (minute) '*/0': step 0 is out of range 1-59");
	expect_err("* 1-5/0 * * *", "cron field 2 (hour) '1-5/0': step 0 is out of range");
	expect_err("*/60 * * * *", "'*/60': step 60 is out of range 1-59");
	expect_err("*/ * * * *", "'*/': expected a step number after '/'");
	expect_err("5-1 * * * *", "cron field 1 (minute) '5-1': reversed range (5 > 1)");
	expect_err("* * * * fri-mon", "cron field 5 (day-of-week) 'fri-mon': reversed range (5 > 1)");
	expect_err("5x * * * *", "cron field 1 (minute) '5x': unexpected 'x'");
	expect_err("* * * * 1-5/2x", "'1-5/2x': unexpected 'x'");
	expect_err("** * * * *", "'**': unexpected '*'");
	expect_err("* * 1-5- * *", "'1-5-': unexpected '-'");
	expect_err("5- * * * *", "'5-': expected a number at position 3");
	expect_err("-5 * * * *", "'-5': expected a number at position 1");
	expect_err("5/10 * * * *", "'5/10': a step needs '*' or a range before it");
	expect_err("jan * * * *", "cron field 1 (minute) 'jan': expected a number at");
	expect_err("* * * foo *", "cron field 4 (month) 'foo': unknown name (expected jan..dec)");
	expect_err("* * * january *", "'january': unknown name");
	expect_err("* * * mon *", "cron field 4 (month) 'mon': unknown name");
	expect_err("* * * * jan", "cron field 5 (day-of-week) 'jan': unknown name (expected sun..sat)");
	expect_err("@daly", "cron alias '@daly': unknown");
	expect_err("@reboot", "cron alias '@reboot': unknown");
	expect_err("@daily 5", "unexpected text after '@daily'");
}
END_TEST

START_TEST(test_parse_null_and_no_write)
{
	struct cron_spec c = { .minute = 42 };
	char err[64] = "";

	ck_assert_int_eq(cron_parse(NULL, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cron expression missing");
	ck_assert_int_eq(cron_parse("61 * * * *", &c, NULL, 0), -1);
	/* A refused expression leaves *out alone. */
	ck_assert_uint_eq(c.minute, 42);
}
END_TEST

START_TEST(test_parse_bits)
{
	struct cron_spec c = parse_ok("*/20 9-17/4 1,15,31 Jan-MAR,dec 5-7");

	ck_assert_uint_eq(c.minute, (1ULL << 0) | (1ULL << 20) | (1ULL << 40));
	ck_assert_uint_eq(c.hour, (1U << 9) | (1U << 13) | (1U << 17));
	ck_assert_uint_eq(c.dom, (1U << 1) | (1U << 15) | (1U << 31));
	ck_assert_uint_eq(c.month, (1U << 1) | (1U << 2) | (1U << 3) | (1U << 12));
	/* 7 is Sunday, bit 0. */
	ck_assert_uint_eq(c.dow, (1U << 5) | (1U << 6) | (1U << 0));
	ck_assert(!c.dom_star);
	ck_assert(!c.dow_star);

	c = parse_ok("  * * * * *  ");
	ck_assert_uint_eq(c.minute, (1ULL << 60) - 1);
	ck_assert_uint_eq(c.hour, (1U << 24) - 1);
	ck_assert_uint_eq(c.dom, 0xfffffffeU);
	ck_assert_uint_eq(c.month, 0x1ffeU);
	ck_assert_uint_eq(c.dow, 0x7fU);
	ck_assert(c.dom_star && c.dow_star);

	/* A step on '*' still counts as '*' for the day rule (Vixie). */
	c = parse_ok("0 0 */2 * 0-7");
	ck_assert(c.dom_star);
	ck_assert(!c.dow_star);
	ck_assert_uint_eq(c.dow, 0x7fU);

	c = parse_ok("0\t0 * * SUN,mon,Sat");
	ck_assert_uint_eq(c.dow, (1U << 0) | (1U << 1) | (1U << 6));
}
END_TEST

START_TEST(test_aliases)
{
	static const char *const pairs[][2] = {
		{ "@hourly", "0 * * * *" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@monthly", "0 0 1 * *" },
		{ "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
		{ " @Daily ", "0 0 * * *" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct cron_spec a = parse_ok(pairs[i][0]);
		struct cron_spec b = parse_ok(pairs[i][1]);

		ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s differs from %s",
			      pairs[i][0], pairs[i][1]);
	}
}
END_TEST

struct next_case {
	const char *expr;
	const char *after;
	const char *want;	/* UTC, or NULL: no run within the horizon */
};

static const struct next_case next_cases[] = {
	{ "* * * * *", "2024-01-01 00:00:00", "2024-01-01 00:01" },
	{ "* * * * *", "2024-01-01 00:00:30", "2024-01-01 00:01" },
	{ "* * * * *", "2024-12-31 23:59:59", "2025-01-01 00:00" },
	{ "*/15 * * * *", "2024-01-01 00:14:59", "2024-01-01 00:15" },
	{ "*/15 * * * *", "2024-01-01 00:45:00", "2024-01-01 01:00" },
	{ "5-10/2 * * * *", "2024-01-01 00:07:00", "2024-01-01 00:09" },
	{ "5-10/2 * * * *", "2024-01-01 00:09:00", "2024-01-01 01:05" },
	{ "0,30 9-17 * * *", "2024-01-01 17:30:00", "2024-01-02 09:00" },
	{ "0,30 9-17 * * *", "2024-01-01 08:59:00", "2024-01-01 09:00" },
	{ "15 */6 * * *", "2024-01-01 18:15:00", "2024-01-02 00:15" },
	{ "0 12 * jan,JUL *", "2024-01-31 12:00:00", "2024-07-01 12:00" },
	{ "0 12 1 Mar-May/2 *", "2024-03-01 12:00:00", "2024-05-01 12:00" },
	{ "0 9 * * mon-fri", "2024-01-05 09:00:00", "2024-01-08 09:00" },
	{ "0 9 * * MON-FRI", "2024-01-06 12:00:00", "2024-01-08 09:00" },
	{ "0 0 * * 7", "2024-01-01 00:00:00", "2024-01-07 00:00" },
	{ "0 0 * * Sun", "2024-01-01 00:00:00", "2024-01-07 00:00" },
	{ "0 0 * * 5-7", "2024-01-06 00:00:00", "2024-01-07 00:00" },
	/* Both days restricted: the 13th OR a Friday. */
	{ "0 0 13 * fri", "2024-01-01 00:00:00", "2024-01-05 00:00" },
	{ "0 0 13 * fri", "2024-01-12 00:00:00", "2024-01-13 00:00" },
	{ "0 0 1,15 * 3", "2024-01-01 00:00:00", "2024-01-03 00:00" },
	{ "0 0 1,15 * 3", "2024-01-03 00:00:00", "2024-01-10 00:00" },
	{ "0 0 31 4 sun", "2024-01-01 00:00:00", "2024-04-07 00:00" },
	{ "0 0 13 * *", "2024-01-13 00:00:00", "2024-02-13 00:00" },
	/* A field starting with '*' makes it AND: odd days that are Mondays. */
	{ "0 0 */2 * mon", "2024-01-01 00:00:00", "2024-01-15 00:00" },
	{ "0 0 1 * */2", "2024-01-01 00:00:00", "2024-02-01 00:00" },
	/* Month ends and leap days. */
	{ "0 0 31 * *", "2024-01-31 00:00:00", "2024-03-31 00:00" },
	{ "0 0 31 * *", "2024-03-31 00:00:00", "2024-05-31 00:00" },
	{ "59 23 30 * *", "2024-02-01 00:00:00", "2024-03-30 23:59" },
	{ "0 0 28-31 2 *", "2023-02-28 00:00:00", "2024-02-28 00:00" },
	{ "0 0 29 2 *", "2024-03-01 00:00:00", "2028-02-29 00:00" },
	{ "0 0 29 2 *", "2024-02-28 23:59:59", "2024-02-29 00:00" },
	{ "0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00" },
	{ "0 0 1 1 *", "2024-12-31 23:59:00", "2025-01-01 00:00" },
	{ "0 0 1 1 *", "1969-12-31 23:59:59", "1970-01-01 00:00" },
	{ "0 0 1 1 *", "1960-06-01 00:00:00", "1961-01-01 00:00" },
	{ "@weekly", "2024-01-03 10:00:00", "2024-01-07 00:00" },
	{ "@weekly", "2024-01-07 00:00:00", "2024-01-14 00:00" },
	{ "@hourly", "2024-01-01 10:00:00", "2024-01-01 11:00" },
	{ "@daily", "2024-02-29 00:00:00", "2024-03-01 00:00" },
	{ "@monthly", "2024-12-15 00:00:00", "2025-01-01 00:00" },
	{ "@yearly", "2024-06-01 00:00:00", "2025-01-01 00:00" },
	/* Impossible. */
	{ "0 0 30 2 *", "2024-01-01 00:00:00", NULL },
	{ "0 0 31 4,6,9,11 *", "2024-01-01 00:00:00", NULL },
};
#define N_NEXT_CASES ((int)(sizeof(next_cases) / sizeof(next_cases[0])))

static void check_case(const struct next_case *k, bool utc)
{
	struct cron_spec c = parse_ok(k->expr);
	time_t next = 0;
	int rc = cron_next(&c, utc_time(k->after), utc, &next);
	char got[64];

	if (k->want == NULL) {
		ck_assert_msg(rc == -1, "\"%s\" after %s: expected none, got %lld",
			      k->expr, k->after, (long long)next);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\" after %s: no next run", k->expr, k->after);
	fmt_time(next, true, got, sizeof(got));
	ck_assert_msg(strcmp(got, k->want) == 0, "\"%s\" after %s (%s): got %s, want %s",
		      k->expr, k->after, utc ? "utc" : "local UTC0", got, k->want);
}

START_TEST(test_next_utc)
{
	check_case(&next_cases[_i], true);
}
END_TEST

/* Local time in a zone without DST must agree with UTC. */
START_TEST(test_next_local_utc_zone)
{
	ck_assert_int_eq(setenv("TZ", "UTC0", 1), 0);
	tzset();
	check_case(&next_cases[_i], false);
}
END_TEST

START_TEST(test_next_bad_args)
{
	struct cron_spec c = parse_ok("* * * * *");
	struct cron_spec empty = c;
	time_t next;

	ck_assert_int_eq(cron_next(NULL, 0, true, &next), -1);
	ck_assert_int_eq(cron_next(&c, 0, true, NULL), -1);
	/* A hand-built spec with an empty set can never match. */
	empty.hour = 0;
	ck_assert_int_eq(cron_next(&empty, 0, true, &next), -1);
	empty = c;
	empty.dom = 1;	/* bit 0: there is no day 0 */
	ck_assert_int_eq(cron_next(&empty, 0, true, &next), -1);
}
END_TEST

/*
 * Months, days and hours that cannot match are skipped whole: a search
 * minute by minute over the 8-year horizon is ~4 million steps a call,
 * and 2000 of them take over ten seconds; skipping, some tens of ms.
 */
START_TEST(test_next_fast)
{
	struct cron_spec never = parse_ok("0 0 30 2 *");
	struct cron_spec leap = parse_ok("0 0 29 2 *");
	time_t next, after = utc_time("2096-03-01 00:00");
	clock_t start = clock();
	double secs;

	ck_assert_int_eq(setenv("TZ", "Europe/Berlin", 1), 0);
	tzset();
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(cron_next(&never, after, i % 2 == 0, &next), -1);
		ck_assert_int_eq(cron_next(&leap, after, i % 2 == 0, &next), 0);
	}
	secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	ck_assert_msg(secs < 1.0, "2000 searches took %.2f s of CPU", secs);
}
END_TEST

static void set_tz(const char *zone)
{
	struct tm tm;
	time_t summer = utc_time("2024-07-01 00:00");

	ck_assert_int_eq(setenv("TZ", zone, 1), 0);
	tzset();
	ck_assert_ptr_nonnull(localtime_r(&summer, &tm));
	ck_assert_msg(strcmp(zone, "Europe/Berlin") != 0 || tm.tm_gmtoff == 7200,
		      "no tzdata for %s? offset %ld", zone, tm.tm_gmtoff);
}

/* Chain cron_next in local time from AFTER; each WANT is UTC. */
static void expect_chain(const char *expr, const char *after, const char *const *want)
{
	struct cron_spec c = parse_ok(expr);
	time_t t = utc_time(after);

	for (int i = 0; want[i] != NULL; i++) {
		char got[64], local[64];

		ck_assert_msg(cron_next(&c, t, false, &t) == 0, "\"%s\": run %d missing",
			      expr, i + 1);
		fmt_time(t, true, got, sizeof(got));
		fmt_time(t, false, local, sizeof(local));
		ck_assert_msg(strcmp(got, want[i]) == 0, "\"%s\" run %d: got %s UTC (%s), "
			      "want %s UTC", expr, i + 1, got, local, want[i]);
	}
}

/* 2024-03-31: Berlin's clocks go from 02:00 CET to 03:00 CEST (01:00 UTC). */
START_TEST(test_dst_spring_forward)
{
	static const char *const daily[] = {
		"2024-03-30 01:30", "2024-03-31 01:00", "2024-04-01 00:30", NULL
	};
	static const char *const quarter[] = {
		"2024-03-31 01:00", "2024-04-01 00:00", NULL
	};
	static const char *const merged[] = {
		"2024-03-31 01:00", "2024-03-31 01:30", "2024-04-01 00:00", NULL
	};
	static const char *const minutes[] = {
		"2024-03-31 00:59", "2024-03-31 01:00", "2024-03-31 01:01", NULL
	};
	static const char *const three[] = { "2024-03-31 01:00", "2024-04-01 01:00", NULL };
	static const char *const edge[] = { "2024-03-31 01:00", NULL };

	set_tz("Europe/Berlin");
	/* 02:30 is skipped: it fires once at 03:00 CEST, then normally. */
	expect_chain("30 2 * * *", "2024-03-29 12:00", daily);
	/* Four skipped times still fire only once. */
	expect_chain("*/15 2 * * *", "2024-03-30 23:00", quarter);
	/* 02:00 and 02:30 merge with the real 03:00; 03:30 follows. */
	expect_chain("0,30 2,3 * * *", "2024-03-30 23:00", merged);
	expect_chain("* * * * *", "2024-03-31 00:58", minutes);
	expect_chain("0 3 * * *", "2024-03-30 12:00", three);
	/* From 01:59 CET, one second of real time later is already 03:00 CEST. */
	expect_chain("30 2 * * *", "2024-03-31 00:59", edge);
}
END_TEST

/* 2024-10-27: Berlin's clocks go from 03:00 CEST back to 02:00 CET (01:00 UTC). */
START_TEST(test_dst_fall_back)
{
	static const char *const daily[] = {
		"2024-10-27 00:30", "2024-10-28 01:30", NULL
	};
	static const char *const half[] = {
		"2024-10-27 00:00", "2024-10-27 00:30", "2024-10-27 02:00",
		"2024-10-27 02:30", NULL
	};
	static const char *const inside[] = { "2024-10-27 01:30", "2024-10-28 01:30", NULL };
	static const char *const strict[] = { "2024-07-02 00:00", NULL };

	set_tz("Europe/Berlin");
	/* 02:30 happens twice; it fires at the first (CEST) only. */
	expect_chain("30 2 * * *", "2024-10-26 12:00", daily);
	/* The repeated 02:00-02:59 CET is not run through again. */
	expect_chain("*/30 * * * *", "2024-10-26 23:45", half);
	/* Asked from inside the repeat (02:10 CET), the next 02:30 is CET's. */
	expect_chain("30 2 * * *", "2024-10-27 01:10", inside);
	/* Strictly after, in local time too: 02:00 CEST is 00:00 UTC. */
	expect_chain("0 2 * * *", "2024-07-01 00:00", strict);
}
END_TEST

/* A daily 02:30 run over the whole of 2024 (leap year) in Berlin: 366 runs. */
START_TEST(test_dst_year)
{
	struct cron_spec c = parse_ok("30 2 * * *");
	time_t t = utc_time("2023-12-31 23:00"), end = utc_time("2024-12-31 23:00");
	int runs = 0, moved = 0;

	set_tz("Europe/Berlin");
	for (;;) {
		time_t prev = t;
		struct tm tm;

		ck_assert_int_eq(cron_next(&c, prev, false, &t), 0);
		ck_assert_msg(t > prev, "run %d went backwards", runs);
		if (t >= end)
			break;
		ck_assert_ptr_nonnull(localtime_r(&t, &tm));
		if (tm.tm_hour == 3 && tm.tm_min == 0 && tm.tm_mon == 2 && tm.tm_mday == 31)
			moved++;
		else
			ck_assert_msg(tm.tm_hour == 2 && tm.tm_min == 30, "run %d at %02d:%02d",
				      runs, tm.tm_hour, tm.tm_min);
		runs++;
	}
	ck_assert_int_eq(runs, 366);
	ck_assert_int_eq(moved, 1);
}
END_TEST

/* São Paulo's 2018 DST began at midnight: 00:00 did not exist on 4 Nov. */
START_TEST(test_dst_midnight_gap)
{
	static const char *const want[] = { "2018-11-04 03:00", "2018-11-05 02:00", NULL };

	set_tz("America/Sao_Paulo");
	expect_chain("0 0 * * *", "2018-11-03 12:00", want);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("parse");
	TCase *tn = tcase_create("next");
	TCase *td = tcase_create("dst");

	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_null_and_no_write);
	tcase_add_test(tc, test_parse_bits);
	tcase_add_test(tc, test_aliases);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tn, test_next_utc, 0, N_NEXT_CASES);
	tcase_add_loop_test(tn, test_next_local_utc_zone, 0, N_NEXT_CASES);
	tcase_add_test(tn, test_next_bad_args);
	tcase_add_test(tn, test_next_fast);
	suite_add_tcase(s, tn);
	tcase_add_test(td, test_dst_spring_forward);
	tcase_add_test(td, test_dst_fall_back);
	tcase_add_test(td, test_dst_year);
	tcase_add_test(td, test_dst_midnight_gap);
	suite_add_tcase(s, td);
	return s;
}

