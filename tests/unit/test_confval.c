/*
 * tests/unit/test_confval.c — the value parsers conf/ builds on: durations
 * ("250ms", "1m30s") and numeric node addresses.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/unit/harness.h"
#include "conf/address.h"
#include "conf/duration.h"

static void dur_ok(const char *s, uint64_t want)
{
	char err[256];
	uint64_t ms = 12345;

	ck_assert_msg(conf_parse_duration(s, &ms, err, sizeof(err)) == 0, "%s: %s", s, err);
	ck_assert_msg(ms == want, "%s: got %llu want %llu", s, (unsigned long long)ms,
		      (unsigned long long)want);
}

static void dur_bad(const char *s, const char *part)
{
	char err[256] = "";
	uint64_t ms = 12345;

	ck_assert_msg(conf_parse_duration(s, &ms, err, sizeof(err)) == -1, "%s accepted", s);
	ck_assert_uint_eq(ms, 12345);
	ck_assert_msg(strstr(err, part) != NULL, "%s: \"%s\" lacks \"%s\"", s, err, part);
}

START_TEST(test_duration)
{
	dur_ok("200ms", 200);
	dur_ok("5s", 5000);
	dur_ok("1m", 60000);
	dur_ok("1h", 3600000);
	dur_ok("1.5s", 1500);
	dur_ok("0.25s", 250);
	dur_ok("0.5m", 30000);
	dur_ok("1.500000000000s", 1500);
	dur_ok("0ms", 0);
	dur_bad("", "empty duration");
	dur_bad(NULL, "empty duration");
	dur_bad("5", "missing unit in \"5\"");
	dur_bad("1.5", "missing unit");
	dur_bad("-5s", "negative duration");
	dur_bad("abc", "\"abc\" is not a duration");
	dur_bad(" 5s", "is not a duration");
	dur_bad("5 s", "unknown unit \" s\"");
	dur_bad("1500us", "unknown unit \"us\"");
	dur_bad("5sec", "unknown unit \"sec\"");
	dur_bad("1.s", "digits must follow the decimal point");
	dur_bad(".5s", "is not a duration");
	dur_bad("0.5ms", "not a whole number of milliseconds");
	dur_bad("1.0005s", "not a whole number of milliseconds");
	dur_bad("0.0000000001h", "too many decimal places");
	dur_bad("18446744073709551616ms", "too large");
	dur_bad("5124095576030432h", "too large");
	/* Regression: once passed -t and made a jitter's modulus 0 (SIGFPE at start and SIGHUP). */
	dur_bad("18446744073709551615ms", "too large");
	dur_bad("999999999999h", "at most 8760h");
	dur_bad("8761h", "too large");
	dur_ok("8760h", 8760ULL * 3600 * 1000);
}
END_TEST

static void addr_ok(const char *s, int family, const char *host, uint16_t port)
{
	struct conf_address a;
	char err[256];

	ck_assert_msg(conf_parse_address(s, &a, err, sizeof(err)) == 0, "%s: %s", s, err);
	ck_assert_int_eq(a.family, family);
	ck_assert_str_eq(a.host, host);
	ck_assert_uint_eq(a.port, port);
}

static void addr_bad(const char *s, const char *part)
{
	struct conf_address a;
	char err[256] = "";

	ck_assert_msg(conf_parse_address(s, &a, err, sizeof(err)) == -1, "%s accepted", s);
	ck_assert_msg(strstr(err, part) != NULL, "%s: \"%s\" lacks \"%s\"", s, err, part);
}

START_TEST(test_address)
{
	struct conf_address a, b;
	char err[128];

	addr_ok("127.0.0.1:8081", AF_INET, "127.0.0.1", 8081);
	addr_ok("10.1.2.3:1", AF_INET, "10.1.2.3", 1);
	addr_ok("[::1]:65535", AF_INET6, "::1", 65535);
	addr_ok("[2001:DB8:0:0::1]:443", AF_INET6, "2001:db8::1", 443);
	addr_bad("localhost:80", "\"localhost\" is a hostname; only numeric addresses");
	addr_bad("localhost", "is a hostname");
	addr_bad("[myhost]:80", "is a hostname");
	addr_bad("127.0.0.1", "missing port");
	addr_bad("127.0.0.1:", "missing port");
	addr_bad("[::1]", "missing port");
	addr_bad("[::1]8080", "missing port");
	addr_bad("127.0.0.1:0", "bad port \"0\"");
	addr_bad("127.0.0.1:65536", "bad port");
	addr_bad("127.0.0.1:-1", "bad port");
	addr_bad("127.0.0.1:80x", "bad port");
	addr_bad("::1:80", "IPv6 without brackets");
	addr_bad("[::1:80", "missing ']'");
	addr_bad("999.1.1.1:80", "not a valid IPv4 address");
	addr_bad("[1::2::3]:80", "not a valid IPv6 address");
	addr_bad(":80", "bad address");
	addr_bad("", "empty address");

	ck_assert_int_eq(conf_parse_address("[::1]:80", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_parse_address("[0:0::1]:80", &b, err, sizeof(err)), 0);
	ck_assert(conf_address_equal(&a, &b));
	ck_assert_int_eq(conf_parse_address("[::1]:81", &b, err, sizeof(err)), 0);
	ck_assert(!conf_address_equal(&a, &b));
	ck_assert_int_eq(conf_parse_address("127.0.0.1:80", &b, err, sizeof(err)), 0);
	ck_assert(!conf_address_equal(&a, &b));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("confval");
	TCase *parse = tcase_create("parsers");

	tcase_add_test(parse, test_duration);
	tcase_add_test(parse, test_address);
	suite_add_tcase(s, parse);
	return s;
}

