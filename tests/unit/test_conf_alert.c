/*
 * tests/unit/test_conf_alert.c — loading alert sinks: each type and its
 * defaults, URLs and routing keys read from files, and every error at its
 * FILE:LINE, with no secret (inline or from a file) in any message.
 */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "conf/config.h"
#include "tests/unit/conf_fixture.h"
#include "tests/unit/unit_util.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* Lines 1-7 of every fixture: a valid cluster up to its alerts (line 8 on). */
#define HEAD \
	"clusters = ( {\n"                                                        /* 1 */ \
	"  name = \"web\";\n"                                                     /* 2 */ \
	"  nodes = (\n"                                                           /* 3 */ \
	"    { name = \"a\"; address = \"127.0.0.1:8081\"; role = \"primary\"; },\n" /* 4 */ \
	"    { name = \"b\"; address = \"127.0.0.1:8082\"; role = \"standby\"; }\n"  /* 5 */ \
	"  );\n"                                                                  /* 6 */ \
	"  probes = ( { type = \"tcp\"; } );\n"                                   /* 7 */
#define TAIL "} );\n"

#define SECRET "S3CRET"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* A scratch dir with the secret files the fixtures name as DIR/... */
static void setup(void)
{
	char long_line[5002];

	snprintf(dir, sizeof(dir), "/tmp/vigil-conf-alert-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cf_path, sizeof(cf_path), "%s/t.conf", dir);
	write_file("hook", "  http://127.0.0.1:9/hook?token=" SECRET "-URL \r\nsecond line\n");
	write_file("key", SECRET "-KEY\n");
	write_file("empty", "\n  \n");
	write_file("ftp", "ftp://user:" SECRET "@h/\n");
	write_file("tabkey", SECRET "\tKEY\n");
	memset(long_line, 'a', 5000);
	long_line[5000] = '\n';
	long_line[5001] = '\0';
	write_file("long", long_line);
}

static void teardown(void)
{
	unit_rm_tree(dir);
}

/* Load the printf-formatted fixture (every %s is the scratch dir). */
static int load_fmt(struct config **out, struct conf_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int load_fmt(struct config **out, struct conf_errors *errs, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	f = fopen(cf_path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return conf_load(cf_path, out, errs);
}

START_TEST(every_type_and_its_defaults)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	const struct conf_alert *al;
	int rc = load_fmt(&cfg, &errs, HEAD
		"  alerts = (\n"
		"    { type = \"webhook\"; url_file = \"%s/hook\"; },\n"
		"    { type = \"pagerduty\"; routing_key_file = \"%s/key\"; },\n"
		"    { type = \"pagerduty\"; routing_key = \"abc123\"; url = \"http://127.0.0.1:1/e\";\n"
		"      min_severity = \"warning\"; },\n"
		"    { type = \"slack\"; url = \"https://hooks.slack.com/services/x\";\n"
		"      min_severity = \"critical\"; retries = 2; backoff = \"1s\"; },\n"
		"    { type = \"exec\"; command = [\"/usr/local/bin/page\", \"--team\", \"db\"];\n"
		"      timeout = \"10s\"; }\n"
		"  );\n" TAIL, dir, dir);

	ck_assert_msg(rc == 0, "load failed: %s", errs.n ? errs.msgs[0] : "?");
	ck_assert_uint_eq(cfg->clusters[0].n_alerts, 5);
	al = cfg->clusters[0].alerts;
	ck_assert_int_eq(al[0].type, CONF_ALERT_WEBHOOK);
	/* The first line, trimmed; the rest of the file ignored. */
	ck_assert_str_eq(al[0].url, "http://127.0.0.1:9/hook?token=" SECRET "-URL");
	ck_assert_int_eq(al[0].min_severity, CONF_SEV_INFO);
	ck_assert_int_eq(al[0].line, 9);
	ck_assert_int_eq(al[1].type, CONF_ALERT_PAGERDUTY);
	ck_assert_str_eq(al[1].url, "https://events.pagerduty.com/v2/enqueue");
	ck_assert_str_eq(al[1].routing_key, SECRET "-KEY");
	/* A pager pages for critical events unless told otherwise. */
	ck_assert_int_eq(al[1].min_severity, CONF_SEV_CRITICAL);
	ck_assert_int_eq(al[1].retries, 5);
	ck_assert_uint_eq(al[1].timeout_ms, 5000);
	ck_assert_uint_eq(al[1].backoff_ms, 500);
	ck_assert_str_eq(al[2].url, "http://127.0.0.1:1/e");
	ck_assert_str_eq(al[2].routing_key, "abc123");
	ck_assert_int_eq(al[2].min_severity, CONF_SEV_WARNING);
	ck_assert_int_eq(al[3].type, CONF_ALERT_SLACK);
	ck_assert_int_eq(al[3].min_severity, CONF_SEV_CRITICAL);
	ck_assert_int_eq(al[3].retries, 2);
	ck_assert_uint_eq(al[3].backoff_ms, 1000);
	ck_assert_ptr_null(al[3].routing_key);
	ck_assert_int_eq(al[4].type, CONF_ALERT_EXEC);
	ck_assert_str_eq(al[4].argv[0], "/usr/local/bin/page");
	ck_assert_str_eq(al[4].argv[2], "db");
	ck_assert_ptr_null(al[4].argv[3]);
	ck_assert_ptr_null(al[4].url);
	ck_assert_int_eq(al[4].min_severity, CONF_SEV_INFO);
	ck_assert_uint_eq(al[4].timeout_ms, 10000);
	config_free(cfg);
}
END_TEST

struct err_case {
	const char *name;
	int line;
	const char *part; /* may hold one %s: the scratch dir */
	const char *alerts; /* lines 8..: one %s at most, the scratch dir */
};

static const struct err_case err_cases[] = {
	{ "url_file_missing", 9, "'url_file': cannot open %s/nope: No such file or directory",
	  "  alerts = (\n    { type = \"slack\"; url_file = \"%s/nope\"; } );\n" },
	{ "url_file_empty", 9, "'url_file': %s/empty is empty",
	  "  alerts = (\n    { type = \"webhook\"; url_file = \"%s/empty\"; } );\n" },
	{ "url_file_dir", 9, "'url_file': cannot read %s: Is a directory",
	  "  alerts = (\n    { type = \"webhook\"; url_file = \"%s\"; } );\n" },
	{ "url_file_long", 9, "'url_file': %s/long has a first line over 4096 bytes",
	  "  alerts = (\n    { type = \"webhook\"; url_file = \"%s/long\"; } );\n" },
	{ "url_file_not_http", 9, "'url_file': the URL in it must start with http:// or https://",
	  "  alerts = (\n    { type = \"slack\"; url_file = \"%s/ftp\"; } );\n" },
	{ "url_file_relative", 9, "'url_file' must be an absolute path",
	  "  alerts = (\n    { type = \"slack\"; url_file = \"hook\"; } );\n" },
	{ "url_inline_not_http", 9, "'url' must start with http:// or https:// and name a host",
	  "  alerts = (\n    { type = \"slack\"; url = \"ftp://" SECRET "@h/\"; } );\n" },
	{ "url_and_url_file", 9, "give either 'url' or 'url_file', not both",
	  "  alerts = ( { type = \"webhook\"; url = \"http://h/" SECRET "\";\n"
	  "    url_file = \"%s/hook\"; } );\n" },
	{ "url_missing", 8, "missing required key 'url' in alert (or 'url_file'",
	  "  alerts = ( { type = \"slack\"; } );\n" },
	{ "key_missing", 8, "missing required key 'routing_key' in alert (or 'routing_key_file'",
	  "  alerts = ( { type = \"pagerduty\"; } );\n" },
	{ "key_empty", 8, "'routing_key' is empty",
	  "  alerts = ( { type = \"pagerduty\"; routing_key = \"\"; } );\n" },
	{ "key_space", 9, "'routing_key': the routing key must not contain spaces",
	  "  alerts = ( { type = \"pagerduty\";\n    routing_key = \"" SECRET " x\"; } );\n" },
	{ "key_file_tab", 9, "'routing_key_file': the routing key must not contain spaces",
	  "  alerts = ( { type = \"pagerduty\";\n    routing_key_file = \"%s/tabkey\"; } );\n" },
	{ "key_and_key_file", 9, "give either 'routing_key' or 'routing_key_file', not both",
	  "  alerts = ( { type = \"pagerduty\"; routing_key = \"" SECRET "\";\n"
	  "    routing_key_file = \"%s/key\"; } );\n" },
	{ "key_on_slack", 9, "'routing_key' does not apply to alerts of type slack (it is a key "
	  "of pagerduty alerts)",
	  "  alerts = ( { type = \"slack\"; url = \"http://h/\";\n"
	  "    routing_key = \"" SECRET "\"; } );\n" },
	{ "command_on_webhook", 9, "'command' does not apply to alerts of type webhook (it is a "
	  "key of exec alerts)",
	  "  alerts = ( { type = \"webhook\"; url = \"http://h/\";\n"
	  "    command = [\"/bin/true\"]; } );\n" },
	{ "url_on_exec", 9, "'url' does not apply to alerts of type exec (it is a key of webhook, "
	  "pagerduty, slack alerts)",
	  "  alerts = ( { type = \"exec\"; command = [\"/bin/true\"];\n"
	  "    url = \"http://h/" SECRET "\"; } );\n" },
	{ "url_file_on_exec", 9, "'url_file' does not apply to alerts of type exec",
	  "  alerts = ( { type = \"exec\"; command = [\"/bin/true\"];\n"
	  "    url_file = \"%s/hook\"; } );\n" },
	{ "command_relative", 8, "'command' must start with the absolute path of the program, "
	  "got \"page\"",
	  "  alerts = ( { type = \"exec\"; command = [\"page\"]; } );\n" },
	{ "command_missing", 8, "missing required key 'command' in alert",
	  "  alerts = ( { type = \"exec\"; } );\n" },
	{ "min_severity", 8, "'min_severity' must be one of: info, warning, critical; "
	  "got \"urgent\"",
	  "  alerts = ( { type = \"exec\"; command = [\"/bin/true\"]; min_severity = \"urgent\"; } );\n" },
	{ "unknown_key", 8, "unknown key 'channel' in alert (accepted keys: type, min_severity, "
	  "retries, timeout, backoff, url, url_file)",
	  "  alerts = ( { type = \"slack\"; url = \"http://h/\"; channel = \"#ops\"; } );\n" },
};

START_TEST(error_case)
{
	const struct err_case *c = &err_cases[_i];
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	char fmt[2048], part[512], all[4096] = "";

	snprintf(fmt, sizeof(fmt), "%s%s%s", HEAD, c->alerts, TAIL);
	ck_assert_int_eq(load_fmt(&cfg, &errs, fmt, dir), -1);
	ck_assert_ptr_null(cfg);
	snprintf(part, sizeof(part), c->part, dir);
	for (size_t i = 0; i < errs.n; i++) {
		strncat(all, "\n  ", sizeof(all) - strlen(all) - 1);
		strncat(all, errs.msgs[i], sizeof(all) - strlen(all) - 1);
		ck_assert_msg(strstr(errs.msgs[i], SECRET) == NULL, "case %s: secret leaked: %s",
			      c->name, errs.msgs[i]);
	}
	ck_assert_msg(cf_has_error(&errs, c->line, part), "case %s: no error at line %d with "
		      "\"%s\"; got:%s", c->name, c->line, part, all);
	ck_assert_msg(errs.n == 1, "case %s: %zu errors:%s", c->name, errs.n, all);
	conf_errors_clear(&errs);
}
END_TEST

/* A bad type: only that is reported, not the keys of the types it might have been. */
START_TEST(bad_type_alone)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;

	ck_assert_int_eq(load_fmt(&cfg, &errs, HEAD
		"  alerts = ( { type = \"sms\"; url = \"http://h/\"; routing_key = \"k\";\n"
		"    phone = \"1\"; } );\n" TAIL), -1);
	ck_assert(cf_has_error(&errs, 8, "'type' must be one of: webhook, pagerduty, slack, exec; "
			    "got \"sms\""));
	ck_assert(cf_has_error(&errs, 9, "unknown key 'phone' in alert (accepted keys: type, "
			    "min_severity, retries, timeout, backoff)"));
	ck_assert_uint_eq(errs.n, 2);
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(example_alerts)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	const struct conf_cluster *c;

	if (conf_load(SRCDIR "/conf/vigil.conf.example", &cfg, &errs) != 0)
		ck_abort_msg("example: %s", errs.n ? errs.msgs[0] : "?");
	c = config_find_cluster(cfg, "web");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_ge(c->n_alerts, 1);
	ck_assert_int_eq(c->alerts[0].type, CONF_ALERT_WEBHOOK);
	ck_assert_int_eq(c->alerts[0].min_severity, CONF_SEV_INFO);
	config_free(cfg);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("conf_alert");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_type_and_its_defaults);
	tcase_add_loop_test(tc, error_case, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
	tcase_add_test(tc, bad_type_alone);
	tcase_add_test(tc, example_alerts);
	suite_add_tcase(s, tc);
	return s;
}

