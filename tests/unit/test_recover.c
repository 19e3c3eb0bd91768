/*
 * tests/unit/test_recover.c — may a journal be trusted at start-up?  The
 * marks of rendered files, and each rule that holds a cluster (recover.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/render_mark.h"
#include "monitor/recover.h"

static struct conf_node cnodes[3] = {
	{ .name = (char *)"a", .role = CONF_ROLE_PRIMARY },
	{ .name = (char *)"b", .role = CONF_ROLE_STANDBY },
	{ .name = (char *)"c.1", .role = CONF_ROLE_STANDBY },
};
static struct conf_cluster ccl = { .name = (char *)"web", .nodes = cnodes, .n_nodes = 3 };

static struct recover_mark mark(const char *cluster, const char *primary, int epoch)
{
	struct recover_mark m = { .source = "nginx:web_backend", .found = 1 };

	snprintf(m.mark.cluster, sizeof(m.mark.cluster), "%s", cluster);
	snprintf(m.mark.primary, sizeof(m.mark.primary), "%s", primary);
	m.mark.has_epoch = epoch >= 0;
	m.mark.epoch = epoch >= 0 ? (uint64_t)epoch : 0;
	return m;
}

static struct journal_roles roles(const char *primary, uint64_t epoch)
{
	struct journal_roles r;

	memset(&r, 0, sizeof(r));
	snprintf(r.primary, sizeof(r.primary), "%s", primary);
	r.epoch = epoch;
	return r;
}

static const char *conflict(const struct journal_roles *r, const struct recover_mark *m,
			    size_t n, char *buf)
{
	return recover_conflict(&ccl, r, m, n, buf, 512);
}

START_TEST(marks_parse_both_forms)
{
	struct render_mark m;
	const char *now = "# Managed by vigil: do not edit. Cluster web, primary c.1, epoch 12.";
	const char *old = "# Managed by vigil: do not edit. Cluster web, primary c.1.";
	char buf[256];
	FILE *f;
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(render_mark_parse(now, strlen(now), &m), 0);
	ck_assert_str_eq(m.cluster, "web");
	ck_assert_str_eq(m.primary, "c.1");
	ck_assert(m.has_epoch);
	ck_assert_uint_eq(m.epoch, 12);
	ck_assert_int_eq(render_mark_parse(old, strlen(old), &m), 0);
	ck_assert_str_eq(m.primary, "c.1");
	ck_assert(!m.has_epoch);
	/* Not vigil's, or cut short. */
	ck_assert_int_eq(render_mark_parse("upstream x {", 12, &m), -1);
	ck_assert_int_eq(render_mark_parse(now, strlen(now) - 1, &m), -1);
	snprintf(buf, sizeof(buf), "%.*s", (int)strlen(now) - 4, now);
	ck_assert_int_eq(render_mark_parse(buf, strlen(buf), &m), -1);
	/* What render_mark_write writes is what render_mark_parse reads. */
	f = open_memstream(&text, &len);
	render_mark_write(f, "db", "db2", 7);
	fclose(f);
	ck_assert_str_eq(text, "# Managed by vigil: do not edit. Cluster db, primary db2, epoch 7.\n");
	ck_assert_int_eq(render_mark_parse(text, len - 1, &m), 0);
	ck_assert_str_eq(m.primary, "db2");
	ck_assert_uint_eq(m.epoch, 7);
	free(text);
}
END_TEST

START_TEST(mark_files_are_read_without_blocking)
{
	char dir[] = "/tmp/vigil-mark-XXXXXX", path[96], err[256];
	struct render_mark m;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/up.conf", dir);
	ck_assert_int_eq(render_mark_read(path, &m, err, sizeof(err)), 0); /* none yet */
	f = fopen(path, "w");
	fputs("# Managed by vigil: do not edit. Cluster web, primary b, epoch 1.\nupstream x {}\n", f);
	fclose(f);
	ck_assert_int_eq(render_mark_read(path, &m, err, sizeof(err)), 1);
	ck_assert_str_eq(m.primary, "b");
	f = fopen(path, "w");
	fputs("# written by hand\n", f);
	fclose(f);
	ck_assert_int_eq(render_mark_read(path, &m, err, sizeof(err)), 0);
	unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(render_mark_read(path, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(agreeing_evidence_is_trusted)
{
	char buf[512];
	struct journal_roles r = roles("b", 1);
	struct recover_mark m[2] = { mark("web", "b", 1), mark("web", "b", -1) };

	ck_assert_ptr_null(conflict(&r, m, 2, buf));
	/* A fresh install: nothing journaled, the config's primary rendered. */
	r = roles("", 0);
	m[0] = mark("web", "a", 0);
	ck_assert_ptr_null(conflict(&r, m, 1, buf));
	/* No file yet, or one that is not vigil's. */
	m[0].found = 0;
	ck_assert_ptr_null(conflict(&r, m, 1, buf));
	/* Another cluster's file says nothing about this one. */
	m[0] = mark("other", "b", 9);
	ck_assert_ptr_null(conflict(&r, m, 1, buf));
}
END_TEST

START_TEST(a_journal_ahead_of_the_balancers_is_trusted)
{
	char buf[512];
	struct journal_roles r = roles("b", 2);
	struct recover_mark m = mark("web", "a", 1);

	/* Promoted at epoch 2, killed before the reroute: the journal is newer. */
	ck_assert_ptr_null(conflict(&r, &m, 1, buf));
	/* A switchover's drain routes to b before the promotion is journaled. */
	r = roles("a", 2);
	r.step = JSTEP_STARTED;
	r.fo_epoch = 2;
	snprintf(r.fo_to, sizeof(r.fo_to), "b");
	m = mark("web", "b", 2);
	ck_assert_ptr_null(conflict(&r, &m, 1, buf));
}
END_TEST

START_TEST(damage_holds)
{
	char buf[512];
	struct journal_roles r = roles("b", 1);

	journal_roles_damage(&r, "line 7: checksum mismatch");
	ck_assert_ptr_nonnull(conflict(&r, NULL, 0, buf));
	ck_assert_str_eq(buf, "the journal is damaged (line 7: checksum mismatch)");
}
END_TEST

START_TEST(an_emptied_or_truncated_journal_holds)
{
	char buf[512];
	struct journal_roles r = roles("", 0);
	struct recover_mark m = mark("web", "b", 1);

	ck_assert_ptr_nonnull(conflict(&r, &m, 1, buf));
	ck_assert_ptr_nonnull(strstr(buf, "nginx:web_backend last routed to b at epoch 1, but the "
					  "journal's latest epoch is 0"));
}
END_TEST

START_TEST(a_journal_naming_another_primary_holds)
{
	char buf[512];
	struct journal_roles r = roles("a", 1);
	struct recover_mark m = mark("web", "b", 1);

	ck_assert_ptr_nonnull(conflict(&r, &m, 1, buf));
	ck_assert_ptr_nonnull(strstr(buf, "last routed to b, but the journal says the primary is a"));
	/* A file from before epochs (the hostile-input probe's case). */
	r = roles("", 0);
	m = mark("web", "b", -1);
	ck_assert_ptr_nonnull(conflict(&r, &m, 1, buf));
	ck_assert_ptr_nonnull(strstr(buf, "(a file without an epoch)"));
}
END_TEST

START_TEST(an_unknown_primary_or_unreadable_file_holds)
{
	char buf[512];
	struct journal_roles r = roles("zz", 1);
	struct recover_mark m = { .source = "haproxy:web", .found = -1, .error = "read x: EACCES" };

	ck_assert_ptr_nonnull(conflict(&r, NULL, 0, buf));
	ck_assert_str_eq(buf, "the journal names primary zz, which is not in the config");
	r = roles("b", 1);
	ck_assert_ptr_nonnull(conflict(&r, &m, 1, buf));
	ck_assert_str_eq(buf, "cannot read what haproxy:web last served: read x: EACCES");
}
END_TEST

START_TEST(evidence_names_every_claimed_primary)
{
	struct journal_roles r = roles("a", 0);
	struct recover_mark m[2] = { mark("web", "b", 1), mark("web", "c.1", -1) };
	struct recover_evidence ev;

	recover_evidence(&ccl, &r, m, 2, &ev);
	ck_assert(ev.named[0] && ev.named[1] && ev.named[2]);
	ck_assert_uint_eq(ev.epoch, 1);
	ck_assert_int_eq(ev.likely, 1); /* what a balancer served at the newest epoch */
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("recover");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, marks_parse_both_forms);
	tcase_add_test(tc, mark_files_are_read_without_blocking);
	tcase_add_test(tc, agreeing_evidence_is_trusted);
	tcase_add_test(tc, a_journal_ahead_of_the_balancers_is_trusted);
	tcase_add_test(tc, damage_holds);
	tcase_add_test(tc, an_emptied_or_truncated_journal_holds);
	tcase_add_test(tc, a_journal_naming_another_primary_holds);
	tcase_add_test(tc, an_unknown_primary_or_unreadable_file_holds);
	tcase_add_test(tc, evidence_names_every_claimed_primary);
	suite_add_tcase(s, tc);
	return s;
}
