/*
 * tests/unit/test_backup_prune_crash.c — kill -9 in the middle of a prune.
 *
 * A prune runs in a forked child that SIGKILLs itself right after its
 * k-th durable step (every step boundary in turn: the plan, each repacked
 * pack, each new index file, each index file and each pack removed), and
 * then at random moments.  After each kill the repository must verify
 * with every chunk read, every kept snapshot must restore byte for byte,
 * and a following backup and prune must succeed, leaving nothing behind:
 * no unindexed pack, nothing in tmp/, and a third prune with nothing to do.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/backup.h"
#include "tests/unit/backup_fixture.h"
#include "tests/unit/test_backup_prune_fixture.h"
#include "tests/unit/unit_util.h"

static struct pf f;
static char tmpl[PATH_MAX]; /* the repository before the prune, copied for each try */

/* Four versions, the two oldest forgotten: unused packs, partly used ones, work to do. */
static void setup(void)
{
	struct bk_keep_policy keep2 = { .keep_last = 2 };
	struct bk_forget_stats fs;
	struct bk_repo *r;
	char err[512] = "";

	pf_setup(&f, "crash");
	r = pf_repo_with_versions(&f, true, 4);
	ck_assert_msg(bk_forget(r, "db", &keep2, false, NULL, NULL, &fs, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(fs.removed, 2);
	bk_repo_close(r);
	bkf_join(tmpl, sizeof(tmpl), f.tmp, "template");
	ck_assert_int_eq(rename(f.repo, tmpl), 0);
}

static void teardown(void)
{
	pf_teardown(&f);
}

static void fresh_copy(void)
{
	unit_rm_tree(f.repo);
	pf_copy(tmpl, f.repo);
}

static struct bk_repo *open_repo(void)
{
	char err[512] = "";
	struct bk_repo *r = bk_repo_open(f.repo, f.key, err, sizeof(err));

	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

struct steps {
	int n, kill_at;
	int kind[BK_PRUNE_PACK_REMOVED + 1];
};

static void on_step(void *arg, enum bk_prune_step step, const char *name)
{
	struct steps *s = arg;

	(void)name;
	s->kind[step]++;
	if (s->n++ == s->kill_at)
		raise(SIGKILL);
}

static int run_prune(struct bk_repo *r, struct steps *s, struct bk_prune_stats *st, char *err,
		     size_t errlen)
{
	struct bk_prune_opts o;

	bk_prune_opts_default(&o);
	o.progress = s ? on_step : NULL;
	o.arg = s;
	return bk_prune(r, &o, st, err, errlen);
}

/* A prune in a child that dies at step kill_at (-1: never) or at SIGKILL after delay_us. */
static bool prune_in_child(int kill_at, long delay_us)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct steps s = { .kill_at = kill_at };
		char err[512] = "";
		struct bk_repo *r = bk_repo_open(f.repo, f.key, err, sizeof(err));

		_exit(r && run_prune(r, &s, NULL, err, sizeof(err)) == 0 ? 0 : 3);
	}
	return pf_kill_and_reap(pid, delay_us);
}

/* A new directory with one file of its own, backed up as job "extra". */
static void backup_extra(struct bk_repo *r, int n, char *dir, size_t dirlen,
			 char id[BK_ID_HEX])
{
	struct bk_backup_opts o = { .job = "extra" };
	char name[32], path[PATH_MAX], err[512] = "";

	snprintf(name, sizeof(name), "extra%d", n);
	bkf_join(dir, dirlen, f.tmp, name);
	unit_rm_tree(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	bkf_join(path, sizeof(path), dir, "data");
	bkf_random_file(path, 150000, 7000 + (uint64_t)n);
	o.source = dir;
	ck_assert_msg(bk_backup_dir(r, &o, NULL, id, err, sizeof(err)) == 0, "backup: %s", err);
}

static void restore_extra(struct bk_repo *r, const char *dir, const char *id)
{
	struct bk_restore_opts o = { .snapshot = id, .target = f.out };
	char err[512] = "";

	unit_rm_tree(f.out);
	ck_assert_msg(bk_restore(r, &o, NULL, err, sizeof(err)) == 0, "restore: %s", err);
	bkf_assert_same_tree(dir, f.out);
}

/* Everything the tracker asks of a repository a prune died in. */
static void check_after_kill(int n)
{
	struct bk_repo *r = open_repo();
	struct bk_verify_stats vs;
	struct bk_prune_stats st;
	char dir[PATH_MAX], id[BK_ID_HEX], tmpdir[PATH_MAX], err[512] = "";

	pf_assert_verifies(r, &vs);
	ck_assert_uint_eq(vs.snapshots, 2);
	pf_assert_restores(r, &f, 2);
	pf_assert_restores(r, &f, 3);
	backup_extra(r, n, dir, sizeof(dir), id);
	ck_assert_msg(run_prune(r, NULL, &st, err, sizeof(err)) == 0, "prune: %s", err);
	pf_assert_verifies(r, &vs);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
	ck_assert_uint_eq(vs.snapshots, 3);
	pf_assert_restores(r, &f, 2);
	pf_assert_restores(r, &f, 3);
	restore_extra(r, dir, id);
	/* Nothing left over for a third prune, nothing in tmp/. */
	ck_assert_msg(run_prune(r, NULL, &st, err, sizeof(err)) == 0, "prune: %s", err);
	ck_assert_uint_eq(st.packs_unused + st.packs_repacked, 0);
	bkf_join(tmpdir, sizeof(tmpdir), f.repo, "tmp");
	ck_assert_int_eq(bkf_count_files(tmpdir), 0);
	bk_repo_close(r);
}

START_TEST(killed_after_every_step)
{
	struct steps all = { .kill_at = -1 };
	struct bk_prune_stats st;
	struct bk_repo *r;
	char err[512] = "";

	fresh_copy();
	r = open_repo();
	ck_assert_msg(run_prune(r, &all, &st, err, sizeof(err)) == 0, "%s", err);
	bk_repo_close(r);
	printf("prune steps: %d (plan %d, repacked %d, packs written %d, index written %d, "
	       "index removed %d, packs removed %d)\n", all.n, all.kind[BK_PRUNE_PLANNED],
	       all.kind[BK_PRUNE_REPACKED], all.kind[BK_PRUNE_PACKS_WRITTEN],
	       all.kind[BK_PRUNE_INDEX_WRITTEN],
	       all.kind[BK_PRUNE_INDEX_REMOVED], all.kind[BK_PRUNE_PACK_REMOVED]);
	/* Every kind of step happens, so every kind of boundary gets a kill. */
	for (int k = 0; k <= BK_PRUNE_PACK_REMOVED; k++)
		ck_assert_int_gt(all.kind[k], 0);
	ck_assert_uint_gt(st.packs_unused + st.packs_repacked, 0);
	for (int k = 0; k < all.n; k++) {
		fresh_copy();
		ck_assert_msg(prune_in_child(k, -1), "step %d: the child was not killed", k);
		check_after_kill(k);
	}
}
END_TEST

START_TEST(killed_at_random_moments)
{
	struct timespec a, b;
	long took_us;
	uint64_t seed = 0xdead;
	int killed = 0;

	/* From the fork to the end, as the kills below count it. */
	fresh_copy();
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert(!prune_in_child(-1, -1));
	clock_gettime(CLOCK_MONOTONIC, &b);
	took_us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
	printf("an uninterrupted prune in a child takes %ld us\n", took_us);
	for (int i = 0; i < 10; i++) {
		uint8_t rnd[4];

		bkf_fill(rnd, sizeof(rnd), &seed);
		fresh_copy();
		killed += prune_in_child(-1, (long)(((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 |
						     (uint32_t)rnd[2] << 8 | rnd[3]) %
						    (uint32_t)(took_us + 1)));
		check_after_kill(100 + i);
	}
	printf("killed %d of 10 prunes midway\n", killed);
	ck_assert_int_gt(killed, 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_prune_crash");
	TCase *t = tcase_create("crash");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 600);
	tcase_add_test(t, killed_after_every_step);
	tcase_add_test(t, killed_at_random_moments);
	suite_add_tcase(s, t);
	return s;
}

