/* tests/unit/test_conf_backup.c — the top-level `backups` list of the config. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
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
		"backups = ( { name = \"off\"; source = \"/srv\"; interval = \"1h\"; key_file = \"/k\";\n"
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

START_TEST(command_jobs_and_offsite)
{
	struct config *cfg = cf_load_ok(CLUSTER
		"backups = ( { name = \"db\"; command = [\"pg_dump\", \"-Fc\", \"app\"];\n"
		"              stdin_name = \"app.dump\"; repository = \"/var/bk\"; key_file = \"/k\";\n"
		"              offsite = \"s3://bk/db?endpoint=http://127.0.0.1:9\"; interval = \"1h\"; } );\n");
	const struct conf_backup *b = &cfg->backups[0];
	struct conf_errors errs = { 0 };

	ck_assert_ptr_null(b->source);
	ck_assert_str_eq(b->command[0], "pg_dump");
	ck_assert_str_eq(b->command[2], "app");
	ck_assert_ptr_null(b->command[3]);
	ck_assert_str_eq(b->stdin_name, "app.dump");
	ck_assert_str_eq(b->offsite, "s3://bk/db?endpoint=http://127.0.0.1:9");
	config_free(cfg);

	cf_load_fail(CLUSTER
		"backups = ( { name = \"a\"; source = \"/s\"; command = [\"x\"]; repository = \"/r\"; interval = \"1h\"; },\n" /* 5 */
		"            { name = \"b\"; repository = \"/r\"; interval = \"1h\"; },\n"        /* 6 */
		"            { name = \"c\"; source = \"/s\"; stdin_name = \"x\"; repository = \"/r\"; interval = \"1h\"; },\n" /* 7 */
		"            { name = \"d\"; command = [\"x\"]; stdin_name = \"a/b\"; repository = \"/r\"; interval = \"1h\"; },\n" /* 8 */
		"            { name = \"e\"; source = \"/s\"; repository = \"s3://bk\"; interval = \"1h\"; },\n" /* 9 */
		"            { name = \"f\"; source = \"/s\"; repository = \"/r\"; interval = \"1h\";\n" /* 10 */
		"              offsite = \"s3://bk\"; } );\n",                                     /* 11 */
		&errs);
	ck_assert(cf_has_error(&errs, 5, "not both"));
	ck_assert(cf_has_error(&errs, 6, "not neither"));
	ck_assert(cf_has_error(&errs, 7, "'stdin_name' goes with 'command'"));
	ck_assert(cf_has_error(&errs, 8, "one plain file name"));
	ck_assert(cf_has_error(&errs, 9, "must be encrypted"));
	ck_assert(cf_has_error(&errs, 11, "'offsite' must be encrypted"));
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(cron_schedules)
{
	struct config *cfg = cf_load_ok(CLUSTER
		"backups = ( { name = \"n\"; source = \"/s\"; repository = \"/r\";\n"
		"              schedule = \"30 3 * * mon-fri\"; schedule_utc = true; } );\n");
	const struct conf_backup *b = &cfg->backups[0];
	struct conf_errors errs = { 0 };

	ck_assert_str_eq(b->schedule, "30 3 * * mon-fri");
	ck_assert(b->schedule_utc);
	ck_assert_uint_eq(b->interval_ms, 0);
	ck_assert_uint_eq(b->jitter_ms, 0); /* a schedule means its times, unless told otherwise */
	ck_assert(b->cron.minute == (1ULL << 30) && b->cron.hour == (1u << 3));
	config_free(cfg);

	cf_load_fail(CLUSTER
		"backups = ( { name = \"a\"; source = \"/s\"; repository = \"/r\"; interval = \"1h\"; schedule = \"@daily\"; },\n" /* 5 */
		"            { name = \"b\"; source = \"/s\"; repository = \"/r\"; schedule = \"61 * * * *\"; },\n" /* 6 */
		"            { name = \"c\"; source = \"/s\"; repository = \"/r\"; schedule = \"0 0 30 2 *\"; },\n" /* 7 */
		"            { name = \"d\"; source = \"/s\"; repository = \"/r\"; } );\n", /* 8 */
		&errs);
	ck_assert(cf_has_error(&errs, 5, "an 'interval' and a 'schedule'"));
	ck_assert(cf_has_error(&errs, 6, "cron field 1 (minute)"));
	ck_assert(cf_has_error(&errs, 7, "never matches"));
	ck_assert(cf_has_error(&errs, 8, "or a cron 'schedule'"));
	conf_errors_clear(&errs);
}
END_TEST

#define JOBS \
	"backups = ( { name = \"www\"; source = \"/srv\"; repository = \"/var/bk\"; interval = \"1h\"; },\n" \
	"            { name = \"db\"; command = [\"pg_dump\"]; repository = \"/var/db\"; key_file = \"/k\";\n" \
	"              interval = \"1h\"; } );\n"

static const char *restore_cluster(const char *restore)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "clusters = ( { name = \"web\";\n"                                            /* 1 */
		 "  nodes = ( { name = \"a\"; address = \"127.0.0.1:8081\"; role = \"primary\"; },\n" /* 2 */
		 "            { name = \"b\"; address = \"127.0.0.1:8082\"; role = \"standby\"; } );\n" /* 3 */
		 "  probes = ( { type = \"tcp\"; } );\n"                                       /* 4 */
		 "  %s } );\n" JOBS, restore);                                                    /* 5 */
	return buf;
}

START_TEST(cluster_restore)
{
	struct config *cfg = cf_load_ok(restore_cluster(
		"restore = { backup = \"www\"; target = \"/srv/{new_primary}\"; };"));
	const struct conf_restore *r = &cfg->clusters[0].restore;
	struct conf_errors errs = { 0 };

	ck_assert_str_eq(r->backup, "www");
	ck_assert_str_eq(r->target, "/srv/{new_primary}");
	ck_assert_str_eq(r->snapshot, "latest");
	ck_assert_str_eq(r->repository, "/var/bk");
	ck_assert_ptr_null(r->key_file);
	ck_assert_uint_eq(r->timeout_ms, 3600000);
	ck_assert(!r->delete_extra);
	config_free(cfg);
	cfg = cf_load_ok(restore_cluster(
		"restore = { backup = \"www\"; target = \"/srv/x\"; delete = true; };"));
	ck_assert(cfg->clusters[0].restore.delete_extra);
	config_free(cfg);
	cfg = cf_load_ok(restore_cluster("restore = { backup = \"db\"; timeout = \"10m\";\n"
					 "  command = [\"pg_restore\", \"-d\", \"{new_primary}\"]; };"));
	r = &cfg->clusters[0].restore;
	ck_assert_str_eq(r->command[0], "pg_restore");
	ck_assert_str_eq(r->key_file, "/k");
	ck_assert_uint_eq(r->timeout_ms, 600000);
	config_free(cfg);

	cf_load_fail(restore_cluster("restore = { backup = \"nope\"; target = \"/x\"; };"), &errs);
	ck_assert(cf_has_error(&errs, 5, "not in the 'backups' list"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"www\"; };"), &errs);
	ck_assert(cf_has_error(&errs, 5, "not neither"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"www\"; command = [\"x\"]; };"), &errs);
	ck_assert(cf_has_error(&errs, 5, "is a directory"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"www\"; target = \"rel/{nod}\"; };"),
		     &errs);
	ck_assert(cf_has_error(&errs, 5, "absolute path"));
	ck_assert(cf_has_error(&errs, 5, "nod"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"db\"; delete = true;\n"
				     "  command = [\"pg_restore\"]; };"), &errs);
	ck_assert(cf_has_error(&errs, 5, "'delete' applies to a 'target' directory"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"www\"; target = \"/x\"; delete = 1; };"),
		     &errs);
	ck_assert(cf_has_error(&errs, 5, "'delete' must be true or false"));
	conf_errors_clear(&errs);
	cf_load_fail(restore_cluster("restore = { backup = \"www\"; target = \"/x\"; };\n"
				     "  hooks = { restore = [\"/bin/true\"]; };"), &errs);
	ck_assert(cf_has_error(&errs, 5, "not both"));
	conf_errors_clear(&errs);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("conf_backup");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, job_and_defaults);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, command_jobs_and_offsite);
	tcase_add_test(tc, cluster_restore);
	tcase_add_test(tc, cron_schedules);
	suite_add_tcase(s, tc);
	return s;
}
