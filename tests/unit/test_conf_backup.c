/* tests/unit/test_conf_backup.c — the top-level `backups` list of the config. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "tests/unit/conf_fixture.h"

#define CLUSTER \
	"clusters = ( { name = \"web\";\n"                                            /* 1 */ \
	"  nodes = ( { name = \"a\"; address = \"127.0.0.1:8081\"; role = \"primary\"; },\n" /* 2 */ \
	"            { name = \"b\"; address = \"127.0.0.1:8082\"; role = \"standby\"; } );\n" /* 3 */ \
	"  probes = ( { type = \"tcp\"; } ); } );\n"                                  /* 4 */

START_TEST(job_and_defaults)
{
	struct config *cfg = cf_load_ok(CLUSTER
		"backups = ( { name = \"www\"; source = \"/srv/www\"; repository = \"/var/bk\";\n"
		"              interval = \"1h\"; rpo = \"2h\"; full_every = 7; rto = \"10m\"; drill_interval = \"24h\";\n"
		"              keep_daily = 7; keep_weekly = 4;\n"
		"              alerts = ( { type = \"webhook\"; url = \"http://127.0.0.1:9/\"; } ); } );\n");
	const struct conf_backup *b;

	ck_assert_uint_eq(cfg->n_backups, 1);
	b = &cfg->backups[0];
	ck_assert_str_eq(b->name, "www");
	ck_assert_str_eq(b->source, "/srv/www");
	ck_assert_str_eq(b->repository, "/var/bk");
	ck_assert_ptr_null(b->key_file);
	ck_assert_uint_eq(b->interval_ms, 3600000);
	ck_assert_uint_eq(b->jitter_ms, 360000);
	ck_assert_uint_eq(b->rpo_ms, 7200000);
	ck_assert_uint_eq(b->timeout_ms, 6 * 3600000ULL);
	ck_assert_int_eq(b->full_every, 7);
	ck_assert_uint_eq(b->rto_ms, 600000);
	ck_assert_uint_eq(b->drill_interval_ms, 86400000);
	ck_assert_int_eq(b->keep_daily, 7);
	ck_assert_int_eq(b->keep_weekly, 4);
	ck_assert_int_eq(b->keep_last, 0);
	ck_assert_uint_eq(b->n_alerts, 1);
	ck_assert_int_eq(b->line, 5);
	config_free(cfg);
	cfg = cf_load_ok(CLUSTER
		"backups = ( { name = \"off\"; source = \"/srv\"; interval = \"1h\";\n"
		"              repository = \"s3://bk/vigil?endpoint=http://127.0.0.1:9000\"; } );\n");
	ck_assert_str_eq(cfg->backups[0].repository, "s3://bk/vigil?endpoint=http://127.0.0.1:9000");
	config_free(cfg);
}
END_TEST

START_TEST(errors_name_the_line)
{
	struct conf_errors errs = { 0 };

	cf_load_fail(CLUSTER
		"backups = ( { name = \"www\"; source = \"srv\"; repository = \"/var/bk\"; },\n" /* 5 */
		"            { name = \"www\"; source = \"/s\"; repository = \"/r\"; interval = \"1h\";\n" /* 6 */
		"              colour = 1; },\n"                                                  /* 7 */
		"            { name = \"s3\"; source = \"/s\"; repository = \"s3:///x\"; interval = \"1h\"; } );\n", /* 8 */
		&errs);
	ck_assert(cf_has_error(&errs, 5, "'source' must be an absolute path"));
	ck_assert(cf_has_error(&errs, 5, "needs an 'interval'"));
	ck_assert(cf_has_error(&errs, 7, "unknown key 'colour'"));
	ck_assert(cf_has_error(&errs, 6, "duplicate backup name 'www'"));
	ck_assert(cf_has_error(&errs, 8, "names no bucket"));
	conf_errors_clear(&errs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf_backup");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, job_and_defaults);
	tcase_add_test(tc, errors_name_the_line);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
