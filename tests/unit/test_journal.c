/* tests/unit/test_journal.c — the append-only journal and what it says (journal_roles). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
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

static int fold_web(void *arg, const struct journal_line *l)
{
	if (l->rec)
		journal_roles_fold(arg, "web", l->rec);
	else
		journal_roles_damage(arg, l->damage);
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

START_TEST(torn_tail_is_cut_at_open_and_next_append_starts_fresh)
{
	char err[256];
	struct journal *j;
	struct journal_replay st;
	struct journal_roles r;

	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":3,\"new_primary\":\"b\"}\n");
	write_raw("{\"cluster\":\"web\",\"event\":\"failover_sta");
	r = replay(&st);
	ck_assert_uint_eq(st.torn_bytes, 38);
	ck_assert_uint_eq(st.damaged, 0);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_str_eq(r.primary, "b");
	j = journal_open(dir, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(journal_torn_bytes(j), 38);
	journal_set_seq(j, st.last_seq);
	append(j, "web", "promoted", 4, "a");
	journal_close(j);
	r = replay(&st);
	/* Cut off, the torn line never becomes damage in the middle. */
	ck_assert_uint_eq(st.torn_bytes, 0);
	ck_assert_uint_eq(st.damaged, 0);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_uint_eq(st.v1_records, 1);
	ck_assert(!r.damaged);
	ck_assert_str_eq(r.primary, "a");
	ck_assert_uint_eq(r.epoch, 4);
}
END_TEST

START_TEST(garbage_lines_are_damage_never_skipped)
{
	struct journal_replay st;
	struct journal_roles r;

	write_raw("not json\n\n[1,2]\n{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":2,"
		  "\"new_primary\":\"c\"}\n");
	r = replay(&st);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_uint_eq(st.damaged, 2);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 1: not a JSON object"));
	ck_assert(r.damaged);
	ck_assert_ptr_nonnull(strstr(r.damage, "line 1"));
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
	json_t *head[1];

	ck_assert_ptr_nonnull(j);
	append(j, "web", "failover_started", 1, "b");
	append(j, "web", "promoted", 1, "b");
	ck_assert_uint_eq(journal_seq(j), 2);
	ck_assert_uint_gt(journal_size(j), 50);
	head[0] = json_pack("{s:s, s:s, s:i, s:s, s:b, s:b, s:[s], s:[I], s:I}", "cluster", "web",
			    "event", "checkpoint", "epoch", 1, "primary", "b", "paused", 1,
			    "failed", 0, "out", "a", "auto_wall_ms", (json_int_t)1795579200000LL,
			    "last_wall_ms", (json_int_t)1795579200000LL);
	ck_assert_int_eq(journal_rotate(j, head, 1, err, sizeof(err)), 0);
	json_decref(head[0]);
	ck_assert_uint_eq(journal_seq(j), 3);
	append(j, "web", "node_up", 1, NULL);
	ck_assert_uint_eq(journal_seq(j), 4);
	journal_close(j);
	/* The new file alone says everything, and numbers on from the marker's base. */
	r = replay(&st);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_uint_eq(st.damaged, 0);
	ck_assert_uint_eq(st.v1_records, 0);
	ck_assert_uint_eq(st.last_seq, 4);
	ck_assert_str_eq(r.primary, "b");
	ck_assert_uint_eq(r.epoch, 1);
	ck_assert(r.paused && !r.failed);
	ck_assert(journal_roles_is_out(&r, "a"));
	ck_assert_uint_eq(r.n_auto, 1);
	ck_assert_uint_eq(r.last_wall_ms, 1795579200000ULL);
	/* The old one is kept whole as .1. */
	snprintf(old, sizeof(old), "%s.1", path);
	ck_assert_int_eq(access(old, R_OK), 0);
	unlink(old);
}
END_TEST

/* The file's text, to damage it the way the hostile-input probe did. */
static char *read_all(void)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void rewrite(const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* a -> b: the records a restart must not lose. */
static void journal_failover(void)
{
	char err[256];
	struct journal *j = journal_open(dir, err, sizeof(err));

	ck_assert_ptr_nonnull(j);
	append(j, "web", "failover_started", 1, "b");
	append(j, "web", "promoted", 1, "b");
	append(j, "web", "failover", 1, "b");
	journal_close(j);
}

static void replace_once(char *text, const char *from, const char *to)
{
	char *at = strstr(text, from);

	ck_assert_ptr_nonnull(at);
	ck_assert_uint_eq(strlen(from), strlen(to));
	memcpy(at, to, strlen(to));
}

START_TEST(a_flipped_byte_is_damage_not_another_cluster)
{
	char *text;
	struct journal_replay st;
	struct journal_roles r;

	journal_failover();
	text = read_all();
	replace_once(text, "\"cluster\":\"web\",\"event\":\"promoted\"",
		     "\"clusper\":\"web\",\"event\":\"promoted\"");
	rewrite(text);
	free(text);
	r = replay(&st);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 2: checksum mismatch"));
	ck_assert(r.damaged);
	/* An epoch bumped by hand is caught the same way. */
	unlink(path);
	journal_failover();
	text = read_all();
	replace_once(text, "\"promoted\",\"epoch\":1", "\"promoted\",\"epoch\":7");
	rewrite(text);
	free(text);
	r = replay(&st);
	ck_assert(r.damaged);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 2: checksum mismatch"));
}
END_TEST

START_TEST(a_missing_or_reordered_record_is_damage)
{
	char *text, *second, *third;
	struct journal_replay st;
	struct journal_roles r;

	journal_failover();
	text = read_all();
	second = strchr(text, '\n') + 1;
	third = strchr(second, '\n') + 1;
	/* Drop the middle record (the promotion). */
	memmove(second, third, strlen(third) + 1);
	rewrite(text);
	r = replay(&st);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_ptr_nonnull(strstr(st.first_damage,
				     "line 2: record 3 where 2 was expected (records are missing)"));
	ck_assert(r.damaged);
	free(text);
	/* Swap the last two records. */
	unlink(path);
	journal_failover();
	text = read_all();
	{
		char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
		char a[512], b[512];

		snprintf(a, sizeof(a), "%.*s", (int)(l3 - l2), l2);
		snprintf(b, sizeof(b), "%s", l3);
		snprintf(l2, 1024, "%s%s", b, a);
	}
	rewrite(text);
	free(text);
	r = replay(&st);
	ck_assert(r.damaged);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 2: record 3 where 2 was expected"));
	ck_assert_uint_eq(st.damaged, 2); /* and then 2 after 3: out of order */
}
END_TEST

START_TEST(a_torn_middle_line_is_damage)
{
	char *text, *second;
	struct journal_replay st;
	struct journal_roles r;

	journal_failover();
	text = read_all();
	second = strchr(text, '\n') + 1;
	/* Keep 20 bytes of the promotion, then the next record. */
	memmove(second + 20, strchr(second, '\n'), strlen(strchr(second, '\n')) + 1);
	rewrite(text);
	free(text);
	r = replay(&st);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 2: not a JSON object"));
	ck_assert(r.damaged);
}
END_TEST

START_TEST(fields_of_the_wrong_type_are_damage)
{
	static const char *const bad[] = {
		"{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":\"1\",\"new_primary\":\"b\"}\n",
		"{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":-5,\"new_primary\":\"b\"}\n",
		"{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":1,\"new_primary\":7}\n",
		"{\"cluster\":\"web\",\"event\":\"checkpoint\",\"epoch\":1,\"primary\":\"b\",\"out\":[1]}\n",
		"{\"cluster\":\"web\",\"event\":\"paused\",\"epoch\":1,\"manual\":\"yes\"}\n",
		"{\"event\":\"promoted\",\"epoch\":1,\"new_primary\":\"b\"}\n",
		"{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":1,\"epoch\":2}\n",
	};
	static const char *const why[] = {
		"field \"epoch\" must be a non-negative integer",
		"field \"epoch\" must be a non-negative integer",
		"field \"new_primary\" must be a non-empty string",
		"field \"out\" must be a list of names",
		"field \"manual\" must be true or false",
		"field \"cluster\" must be a string",
		"not a JSON object (duplicate object key",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct journal_replay st;
		struct journal_roles r;

		rewrite(bad[i]);
		r = replay(&st);
		ck_assert_msg(r.damaged && st.records == 0, "case %zu applied", i);
		ck_assert_msg(strstr(st.first_damage, why[i]), "case %zu: %s", i, st.first_damage);
		ck_assert_str_eq(r.primary, "");
	}
}
END_TEST

START_TEST(an_older_vigils_journal_reads_and_goes_on_checksummed)
{
	char err[256];
	struct journal *j;
	struct journal_replay st;
	struct journal_roles r;

	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":2,\"new_primary\":\"b\"}\n"
		  "{\"cluster\":\"web\",\"event\":\"failover\",\"epoch\":2}\n");
	r = replay(&st);
	ck_assert_uint_eq(st.v1_records, 2);
	ck_assert_uint_eq(st.last_seq, 2);
	j = journal_open(dir, err, sizeof(err));
	journal_set_seq(j, st.last_seq);
	append(j, "web", "node_up", 2, NULL);
	journal_close(j);
	r = replay(&st);
	ck_assert_uint_eq(st.damaged, 0);
	ck_assert_uint_eq(st.records, 3);
	ck_assert_uint_eq(st.last_seq, 3);
	ck_assert_str_eq(r.primary, "b");
	/* But a record without a checksum after checksummed ones is damage. */
	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":3,\"new_primary\":\"a\"}\n");
	r = replay(&st);
	ck_assert(r.damaged);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 4: a record without a checksum"));
	ck_assert_str_eq(r.primary, "b");
}
END_TEST

START_TEST(an_operators_resolution_clears_earlier_damage)
{
	char err[256];
	struct journal *j;
	struct journal_replay st;
	struct journal_roles r;
	json_t *rec;

	write_raw("garbage\n");
	r = replay(&st);
	ck_assert(r.damaged);
	j = journal_open(dir, err, sizeof(err));
	journal_set_seq(j, st.last_seq);
	rec = json_pack("{s:s, s:s, s:i, s:s, s:[s], s:b, s:b}", "cluster", "web", "event",
			"hold_resolved", "epoch", 5, "primary", "b", "out", "a", "paused", 0,
			"failed", 0);
	ck_assert_int_eq(journal_append(j, rec, true, err, sizeof(err)), 0);
	json_decref(rec);
	journal_close(j);
	r = replay(&st);
	ck_assert(!r.damaged);
	ck_assert_str_eq(r.primary, "b");
	ck_assert_uint_eq(r.epoch, 5);
	ck_assert(journal_roles_is_out(&r, "a"));
	/* Damage after the resolution counts again. */
	write_raw("garbage again\n");
	ck_assert(replay(&st).damaged);
}
END_TEST

START_TEST(only_a_regular_file_is_read)
{
	char err[256];
	struct journal_replay st;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* Neither hangs on the FIFO. */
	ck_assert_int_eq(journal_replay(path, fold_web, NULL, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_ptr_null(journal_open(dir, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	unlink(path);
	ck_assert_int_eq(symlink("/dev/zero", path), 0);
	ck_assert_int_eq(journal_replay(path, fold_web, NULL, &st, err, sizeof(err)), -1);
	ck_assert_ptr_null(journal_open(dir, err, sizeof(err)));
}
END_TEST

START_TEST(an_overlong_line_is_damage)
{
	struct journal_replay st;
	struct journal_roles r;
	char *big = malloc(200000);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 199998);
	big[199998] = '\n';
	big[199999] = '\0';
	write_raw(big);
	free(big);
	write_raw("{\"cluster\":\"web\",\"event\":\"promoted\",\"epoch\":2,\"new_primary\":\"b\"}\n");
	r = replay(&st);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_ptr_nonnull(strstr(st.first_damage, "line 1: longer than any record"));
	ck_assert_uint_eq(st.records, 1);
	ck_assert(r.damaged);
}
END_TEST

START_TEST(open_fails_with_context)
{
	char err[256];

	ck_assert_ptr_null(journal_open("/proc/vigil-no-such-dir", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/proc/vigil-no-such-dir"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, missing_journal_is_empty);
	tcase_add_test(tc, completed_failover_recovers_primary_and_epoch);
	tcase_add_test(tc, started_without_outcome_is_interrupted);
	tcase_add_test(tc, failed_failover_keeps_old_primary_and_consumes_epoch);
	tcase_add_test(tc, hold_and_pause_survive_until_resumed);
	tcase_add_test(tc, torn_tail_is_cut_at_open_and_next_append_starts_fresh);
	tcase_add_test(tc, garbage_lines_are_damage_never_skipped);
	tcase_add_test(tc, appends_are_one_line_each_and_private);
	tcase_add_test(tc, steps_fencing_and_history);
	tcase_add_test(tc, rotation_keeps_the_old_file_and_numbers_on);
	tcase_add_test(tc, open_fails_with_context);
	tcase_add_test(tc, a_flipped_byte_is_damage_not_another_cluster);
	tcase_add_test(tc, a_missing_or_reordered_record_is_damage);
	tcase_add_test(tc, a_torn_middle_line_is_damage);
	tcase_add_test(tc, fields_of_the_wrong_type_are_damage);
	tcase_add_test(tc, an_older_vigils_journal_reads_and_goes_on_checksummed);
	tcase_add_test(tc, an_operators_resolution_clears_earlier_damage);
	tcase_add_test(tc, only_a_regular_file_is_read);
	tcase_add_test(tc, an_overlong_line_is_damage);
	suite_add_tcase(s, tc);
	return s;
}
