/* tests/unit/test_journal.c — the append-only journal and what it says (journal_roles). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor/journal.h"
#include "monitor/journal_roles.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vigil-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void append(struct journal *j, const char *cluster, const char *event, int epoch,
		   const char *new_primary)
{
	char err[256];
	json_t *rec = json_pack("{s:s, s:s, s:i, s:s*}", "cluster", cluster, "event", event,
				"epoch", epoch, "new_primary", new_primary);

	ck_assert_int_eq(journal_append(j, rec, strcmp(event, "node_up") != 0, err, sizeof(err)), 0);
	json_decref(rec);
}

static void write_raw(const char *text)
{
	FILE *f = fopen(path, "a");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int fold_web(void *arg, const json_t *rec)
{
	journal_roles_fold(arg, "web", rec);
	return 0;
}

static struct journal_roles replay(struct journal_replay *st)
{
	struct journal_roles roles;
	char err[256];

	memset(&roles, 0, sizeof(roles));
	ck_assert_int_eq(journal_replay(path, fold_web, &roles, st, err, sizeof(err)), 0);
	return roles;
}

START_TEST(missing_journal_is_empty)
{
	struct journal_replay st;
	struct journal_roles r = replay(&st);

	ck_assert_uint_eq(st.records, 0);
	ck_assert_str_eq(r.primary, "");
	ck_assert_uint_eq(r.epoch, 0);
	ck_assert_int_eq(r.step, JSTEP_NONE);
}
END_TEST

START_TEST(completed_failover_recovers_primary_and_epoch)
{
	char err[256];
	struct journal *j = journal_open(dir, err, sizeof(err));
	struct journal_replay st;
	struct journal_roles r;

	ck_assert_ptr_nonnull(j);
	append(j, "web", "node_down", 0, NULL);
	append(j, "web", "failover_started", 1, "b");
	append(j, "other", "failover_started", 7, "x");
	append(j, "web", "promoted", 1, "b");
	append(j, "web", "failover", 1, "b");
	journal_close(j);
	r = replay(&st);
	ck_assert_uint_eq(st.records, 5);
	ck_assert_str_eq(r.primary, "b");
	ck_assert_uint_eq(r.epoch, 1);
	ck_assert_int_eq(r.step, JSTEP_NONE);
}
END_TEST

START_TEST(started_without_outcome_is_interrupted)
{
	char err[256];
	struct journal *j = journal_open(dir, err, sizeof(err));
	struct journal_replay st;
	struct journal_roles r;

	append(j, "web", "promoted", 1, "b");
	append(j, "web", "failover_started", 2, "a");
	journal_close(j);
	r = replay(&st);
	ck_assert_int_eq(r.step, JSTEP_STARTED);
	ck_assert_str_eq(r.fo_to, "a");
	ck_assert_uint_eq(r.fo_epoch, 2);
	ck_assert_str_eq(r.primary, "b");
	ck_assert_uint_eq(r.epoch, 2);
}
END_TEST

START_TEST(failed_failover_keeps_old_primary_and_consumes_epoch)
{
	char err[256];
	struct journal *j = journal_open(dir, err, sizeof(err));
	struct journal_replay st;
	struct journal_roles r;

	append(j, "web", "failover_started", 1, "b");
	append(j, "web", "failover_failed", 1, "b");
	journal_close(j);
	r = replay(&st);
	ck_assert_int_eq(r.step, JSTEP_NONE);
	ck_assert_str_eq(r.primary, "");
	ck_assert_uint_eq(r.epoch, 1);
}
END_TEST

START_TEST(hold_and_pause_survive_until_resumed)
{
	char err[256];
	struct journal *j = journal_open(dir, err, sizeof(err));
	struct journal_replay st;
	struct journal_roles r;

	append(j, "web", "failover_started", 1, "b");
	append(j, "web", "failover_interrupted", 1, "b");
	append(j, "web", "paused", 1, NULL);
	r = replay(&st);
	ck_assert(r.failed);
	ck_assert(r.paused);
	ck_assert_int_eq(r.step, JSTEP_NONE);
	append(j, "web", "resumed", 1, NULL);
	r = replay(&st);
	ck_assert(!r.failed);
	ck_assert(!r.paused);
	append(j, "web", "failover_started", 2, "b");
	append(j, "web", "promoted", 2, "b");
	append(j, "web", "failover_failed", 2, "b");
	r = replay(&st);
	ck_assert(r.failed);
	ck_assert_str_eq(r.primary, "b");
	append(j, "web", "failover_started", 3, "a");
	append(j, "web", "promoted", 3, "a");
	append(j, "web", "failover", 3, "a");
	journal_close(j);
	r = replay(&st);
	ck_assert(!r.failed);
	ck_assert_str_eq(r.primary, "a");
}
END_TEST

START_TEST(torn_tail_is_tolerated_and_next_append_starts_fresh)
{
	char err[256];
	struct journal *j;
	struct journal_replay st;
	struct journal_roles r;

	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":3,\"new_primary\":\"b\"}\n");
	write_raw("{\"cluster\":\"web\",\"event\":\"failover_sta");
	r = replay(&st);
	ck_assert(st.torn_tail);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_str_eq(r.primary, "b");
	j = journal_open(dir, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	append(j, "web", "promoted", 4, "a");
	journal_close(j);
	r = replay(&st);
	/* The torn line is now a bad middle line; the new record is intact. */
	ck_assert(!st.torn_tail);
	ck_assert_uint_eq(st.bad_lines, 1);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_str_eq(r.primary, "a");
	ck_assert_uint_eq(r.epoch, 4);
}
END_TEST

START_TEST(garbage_lines_are_skipped_and_counted)
{
	struct journal_replay st;
	struct journal_roles r;

	write_raw("not json\n\n[1,2]\n{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":2,"
		  "\"new_primary\":\"c\"}\n");
	r = replay(&st);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_uint_eq(st.bad_lines, 2);
	ck_assert_str_eq(r.primary, "c");
}
END_TEST

START_TEST(appends_are_one_line_each_and_private)
{
	char err[256], buf[4096];
	struct journal *j = journal_open(dir, err, sizeof(err));
	int fd, lines = 0;
	ssize_t n;

	append(j, "web", "node_up", 0, NULL);
	append(j, "web", "node_down", 0, NULL);
	journal_close(j);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 2);
	ck_assert_int_eq(buf[n - 1], '\n');
	ck_assert_int_eq(access(path, R_OK), 0);
}
END_TEST

START_TEST(steps_fencing_and_history)
{
	struct journal_replay st;
	struct journal_roles r;

	write_raw("{\"ts\":\"2026-11-25T04:00:00.250Z\",\"cluster\":\"web\",\"epoch\":1,"
		  "\"event\":\"failover_started\",\"old_primary\":\"a\",\"new_primary\":\"b\"}\n");
	r = replay(&st);
	ck_assert_int_eq(r.step, JSTEP_STARTED);
	ck_assert_str_eq(r.fo_from, "a");
	ck_assert(!r.fo_switchover && !r.fo_manual);
	ck_assert_uint_eq(r.n_auto, 1);
	ck_assert_uint_eq(r.auto_wall_ms[0], 1795579200250ULL);
	write_raw("{\"cluster\":\"web\",\"event\":\"fenced\",\"epoch\":1,\"node\":\"a\"}\n");
	ck_assert_int_eq(replay(&st).step, JSTEP_FENCED);
	write_raw("{\"cluster\":\"web\",\"event\":\"promote_started\",\"epoch\":1}\n");
	ck_assert_int_eq(replay(&st).step, JSTEP_PROMOTE_STARTED);
	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":1,"
		  "\"old_primary\":\"a\",\"new_primary\":\"b\"}\n");
	r = replay(&st);
	ck_assert_int_eq(r.step, JSTEP_PROMOTED);
	ck_assert(journal_roles_is_out(&r, "a") && !journal_roles_is_out(&r, "b"));
	write_raw("{\"cluster\":\"web\",\"event\":\"restore_started\",\"epoch\":1}\n");
	ck_assert_int_eq(replay(&st).step, JSTEP_RESTORE_STARTED);
	write_raw("{\"cluster\":\"web\",\"event\":\"failover\",\"epoch\":1}\n"
		  "{\"ts\":\"2026-11-25T04:10:00Z\",\"cluster\":\"web\",\"epoch\":2,"
		  "\"event\":\"failover_started\",\"old_primary\":\"b\",\"new_primary\":\"c\","
		  "\"manual\":true,\"switchover\":true}\n");
	r = replay(&st);
	ck_assert_int_eq(r.step, JSTEP_STARTED);
	ck_assert(r.fo_switchover && r.fo_manual);
	ck_assert_uint_eq(r.n_auto, 1); /* the operator's do not count */
	ck_assert_uint_eq(r.last_wall_ms, 1795579800000ULL);
	write_raw("{\"cluster\":\"web\",\"event\":\"rejoined\",\"node\":\"a\"}\n");
	r = replay(&st);
	ck_assert(!journal_roles_is_out(&r, "a"));
	ck_assert_uint_eq(r.n_out, 0);
	ck_assert_uint_eq(journal_ts_ms("garbage"), 0);
}
END_TEST

START_TEST(rotation_keeps_the_old_file_and_numbers_on)
{
	char err[256], old[160];
	struct journal *j = journal_open(dir, err, sizeof(err));
	struct journal_replay st;
	struct journal_roles r;
	json_t *head[2];
	uint64_t seq = 0;

	ck_assert_ptr_nonnull(j);
	append(j, "web", "failover_started", 1, "b");
	append(j, "web", "promoted", 1, "b");
	ck_assert_uint_eq(journal_seq(j), 2);
	ck_assert_uint_gt(journal_size(j), 50);
	head[0] = json_pack("{s:s, s:s, s:I}", "cluster", "", "event", "journal_rotated",
			    "seq_base", (json_int_t)journal_seq(j));
	head[1] = json_pack("{s:s, s:s, s:i, s:s, s:b, s:b, s:[s], s:[I], s:I}", "cluster", "web",
			    "event", "checkpoint", "epoch", 1, "primary", "b", "paused", 1,
			    "failed", 0, "out", "a", "auto_wall_ms", (json_int_t)1795579200000LL,
			    "last_wall_ms", (json_int_t)1795579200000LL);
	ck_assert_int_eq(journal_rotate(j, head, 2, err, sizeof(err)), 0);
	json_decref(head[0]);
	json_decref(head[1]);
	append(j, "web", "node_up", 1, NULL);
	ck_assert_uint_eq(journal_seq(j), 5);
	journal_close(j);
	/* The new file alone says everything. */
	r = replay(&st);
	ck_assert_uint_eq(st.records, 3);
	ck_assert_str_eq(r.primary, "b");
	ck_assert_uint_eq(r.epoch, 1);
	ck_assert(r.paused && !r.failed);
	ck_assert(journal_roles_is_out(&r, "a"));
	ck_assert_uint_eq(r.n_auto, 1);
	ck_assert_uint_eq(r.last_wall_ms, 1795579200000ULL);
	/* The old one is kept whole as .1. */
	snprintf(old, sizeof(old), "%s.1", path);
	ck_assert_int_eq(access(old, R_OK), 0);
	/* Numbering goes on across the rotation: the marker resets to its base. */
	{
		json_t *marker = json_pack("{s:s, s:I}", "event", "journal_rotated", "seq_base",
					   (json_int_t)2);
		json_t *rec = json_pack("{s:s}", "event", "node_up");

		ck_assert(!journal_seq_fold(&seq, marker));
		ck_assert_uint_eq(seq, 2);
		ck_assert(journal_seq_fold(&seq, rec));
		ck_assert_uint_eq(seq, 3);
		json_decref(marker);
		json_decref(rec);
	}
	unlink(old);
}
END_TEST

START_TEST(open_fails_with_context)
{
	char err[256];

	ck_assert_ptr_null(journal_open("/proc/vigil-no-such-dir", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/proc/vigil-no-such-dir"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, missing_journal_is_empty);
	tcase_add_test(tc, completed_failover_recovers_primary_and_epoch);
	tcase_add_test(tc, started_without_outcome_is_interrupted);
	tcase_add_test(tc, failed_failover_keeps_old_primary_and_consumes_epoch);
	tcase_add_test(tc, hold_and_pause_survive_until_resumed);
	tcase_add_test(tc, torn_tail_is_tolerated_and_next_append_starts_fresh);
	tcase_add_test(tc, garbage_lines_are_skipped_and_counted);
	tcase_add_test(tc, appends_are_one_line_each_and_private);
	tcase_add_test(tc, steps_fencing_and_history);
	tcase_add_test(tc, rotation_keeps_the_old_file_and_numbers_on);
	tcase_add_test(tc, open_fails_with_context);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
