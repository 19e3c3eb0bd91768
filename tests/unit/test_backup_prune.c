/*
 * tests/unit/test_backup_prune.c — forget and prune on real repositories
 * (the policy itself is in test_backup_prune_policy.c): the repository
 * shrinks to what a repository of the kept versions alone would hold,
 * every kept snapshot restores byte for byte, the forgotten ones are
 * gone, sparsely used packs are repacked, forget goes by job and time,
 * and prune refuses to touch a repository it cannot fully read.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/backup.h"
#include "actions/backup/snapshot.h"
#include "tests/unit/backup_fixture.h"
#include "tests/unit/test_backup_prune_fixture.h"

static int64_t utc_ns(const char *s)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	ck_assert_msg(end && *end == '\0', "bad time %s", s);
	return (int64_t)timegm(&tm) * 1000000000;
}

static struct pf f;

static void setup(void)
{
	pf_setup(&f, "prune");
}

static void teardown(void)
{
	pf_teardown(&f);
}

struct seen {
	int keep, gone;
};

static void count_decisions(void *arg, const struct bk_snapshot_info *s, unsigned why)
{
	struct seen *sn = arg;

	ck_assert_str_eq(s->job, "db");
	if (why)
		sn->keep++;
	else
		sn->gone++;
}

static void forget_last(struct bk_repo *r, unsigned n, bool dry_run, struct bk_forget_stats *st)
{
	struct bk_keep_policy p = { .keep_last = n };
	struct seen sn = { 0, 0 };
	char err[512] = "";

	ck_assert_msg(bk_forget(r, NULL, &p, dry_run, count_decisions, &sn, st, err,
				sizeof(err)) == 0, "forget: %s", err);
	ck_assert_int_eq(sn.keep, (int)st->kept);
	ck_assert_int_eq(sn.gone, (int)st->removed);
}

static void prune(struct bk_repo *r, unsigned threshold, bool dry_run, struct bk_prune_stats *st)
{
	struct bk_prune_opts o;
	char err[512] = "";

	bk_prune_opts_default(&o);
	o.repack_threshold = threshold;
	o.dry_run = dry_run;
	ck_assert_msg(bk_prune(r, &o, st, err, sizeof(err)) == 0, "prune: %s", err);
}

static void assert_forgotten(struct bk_repo *r, int v)
{
	struct bk_restore_opts o = { .snapshot = f.id[v], .target = f.out };
	char err[512] = "";

	ck_assert_int_eq(bk_restore(r, &o, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no snapshot") != NULL, "%s", err);
}

/* The pack bytes of a new repository holding only versions 3 and 4. */
static uint64_t kept_alone_bytes(bool encrypted)
{
	struct pf g;
	struct bk_repo *fresh;
	char err[512] = "";
	uint64_t bytes;

	pf_setup(&g, "fresh");
	fresh = bkf_repo(g.repo, encrypted ? f.key : NULL, 64u << 10);
	for (int v = 3; v <= 4; v++) {
		memcpy(g.src, f.ver[v], sizeof(g.src));
		ck_assert_msg(pf_try_backup(fresh, &g, "db", NULL, err, sizeof(err)) == 0, "%s", err);
	}
	bytes = pf_data_bytes(&g);
	printf("a repository of the kept versions alone: %llu bytes\n", (unsigned long long)bytes);
	bk_repo_close(fresh);
	pf_teardown(&g);
	return bytes;
}

START_TEST(forget_and_prune_shrink_the_repository)
{
	struct bk_repo *r = pf_repo_with_versions(&f, _i == 1, 5);
	struct bk_forget_stats fs;
	struct bk_prune_stats dry, st, again;
	struct bk_verify_stats vs;
	uint64_t before = pf_data_bytes(&f), after;
	int files;
	char data[PATH_MAX];

	forget_last(r, 2, true, &fs);
	ck_assert_uint_eq(fs.kept, 2);
	ck_assert_uint_eq(fs.removed, 3);
	ck_assert_uint_eq(pf_count_snapshots(r), 5); /* a dry run changes nothing */
	forget_last(r, 2, false, &fs);
	ck_assert_uint_eq(fs.removed, 3);
	ck_assert_uint_eq(pf_count_snapshots(r), 2);
	bkf_join(data, sizeof(data), f.repo, "data");
	files = bkf_count_files(data);
	prune(r, 100, true, &dry);
	ck_assert_int_eq(bkf_count_files(data), files);
	ck_assert_uint_eq(pf_data_bytes(&f), before);
	prune(r, 100, false, &st);
	after = pf_data_bytes(&f);
	printf("prune: %llu -> %llu bytes; packs %llu: %llu kept, %llu unused, %llu repacked into "
	       "%llu; index %llu -> %llu\n", (unsigned long long)before, (unsigned long long)after,
	       (unsigned long long)st.packs, (unsigned long long)st.packs_kept,
	       (unsigned long long)st.packs_unused, (unsigned long long)st.packs_repacked,
	       (unsigned long long)st.packs_written, (unsigned long long)st.index_removed,
	       (unsigned long long)st.index_written);
	/* The dry run planned exactly what the real one did. */
	ck_assert_uint_eq(dry.packs_unused, st.packs_unused);
	ck_assert_uint_eq(dry.packs_repacked, st.packs_repacked);
	ck_assert_uint_eq(dry.bytes_freed, st.bytes_freed);
	ck_assert_uint_gt(st.packs_unused, 0);
	ck_assert_uint_gt(st.packs_repacked, 0);
	ck_assert_uint_eq(st.snapshots, 2);
	/* What went is what was planned; what came is the new packs (and index files). */
	ck_assert_uint_ge(after, before - st.bytes_freed);
	ck_assert_uint_le(after, before - st.bytes_freed + st.bytes_written);
	ck_assert_uint_lt(after, before);
	pf_assert_verifies(r, &vs);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
	ck_assert_uint_eq(vs.snapshots, 2);
	pf_assert_restores(r, &f, 3);
	pf_assert_restores(r, &f, 4);
	for (int v = 0; v < 3; v++)
		assert_forgotten(r, v);
	/* Nothing is left that a repository of only the kept versions would not hold. */
	ck_assert_uint_le(after, kept_alone_bytes(_i == 1) * 11 / 10);
	/* A second prune finds nothing to do. */
	prune(r, 100, false, &again);
	ck_assert_uint_eq(again.packs_unused + again.packs_repacked + again.index_written, 0);
	ck_assert_uint_eq(pf_data_bytes(&f), after);
	/* And the repository goes on. */
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	pf_assert_verifies(r, NULL);
	pf_assert_restores(r, &f, 5);
	pf_assert_restores(r, &f, 3);
	bk_repo_close(r);
}
END_TEST

struct packs {
	char name[64][PATH_MAX];
	int n;
};

/* Every pack file under repo/data. */
static void list_packs(struct packs *p)
{
	char cmd[PATH_MAX + 64];
	FILE *in;

	snprintf(cmd, sizeof(cmd), "find '%s/data' -type f | sort", f.repo);
	in = popen(cmd, "r");
	ck_assert_ptr_nonnull(in);
	for (p->n = 0; p->n < 64 && fgets(p->name[p->n], PATH_MAX, in); p->n++)
		p->name[p->n][strcspn(p->name[p->n], "\n")] = '\0';
	ck_assert_int_lt(p->n, 64);
	pclose(in);
}

static void add_version(struct bk_repo *r, const char *const *files, const int *seeds)
{
	char path[PATH_MAX], name[32];
	int v = f.nver;

	for (int i = 0; files[i]; i++) {
		bkf_join(path, sizeof(path), f.src, files[i]);
		if (seeds[i] == 0)
			ck_assert_int_eq(unlink(path), 0);
		else
			bkf_random_file(path, 30000, (uint64_t)seeds[i]);
	}
	bkf_set_mtimes(f.src, 1700000000000000000LL + (int64_t)v * 1000000000000LL);
	snprintf(name, sizeof(name), "v%d", v);
	bkf_join(f.ver[v], sizeof(f.ver[v]), f.tmp, name);
	pf_copy(f.src, f.ver[v]);
	f.nver++;
	pf_backup(r, &f, "db");
}

START_TEST(partly_used_packs_are_repacked)
{
	static const char *const v0[] = { "a", "b", NULL }, *const v1[] = { "b", "c", NULL };
	static const int s0[] = { 1, 2 }, s1[] = { 0, 3 };
	struct bk_repo *r = bkf_repo(f.repo, _i == 1 ? f.key : NULL, 64u << 10);
	struct bk_forget_stats fs;
	struct bk_prune_stats st;
	struct packs first, now;
	uint64_t before;

	/* One pack holds a, b and the first tree; after forgetting that
	 * snapshot only a is used in it, about half its bytes. */
	add_version(r, v0, s0);
	list_packs(&first);
	ck_assert_int_eq(first.n, 1);
	add_version(r, v1, s1);
	forget_last(r, 1, false, &fs);
	ck_assert_uint_eq(fs.removed, 1);
	before = pf_data_bytes(&f);
	prune(r, 0, false, &st);
	ck_assert_uint_eq(st.packs_repacked + st.packs_unused, 0);
	ck_assert_uint_eq(st.packs_kept, 2);
	prune(r, 40, false, &st);
	ck_assert_uint_eq(st.packs_repacked + st.packs_unused, 0);
	ck_assert_uint_eq(pf_data_bytes(&f), before);
	ck_assert_int_eq(access(first.name[0], F_OK), 0);
	prune(r, BK_DEFAULT_REPACK_THRESHOLD, false, &st);
	printf("repack: %llu chunks into %llu pack(s); %llu -> %llu bytes\n",
	       (unsigned long long)st.chunks_repacked, (unsigned long long)st.packs_written,
	       (unsigned long long)before, (unsigned long long)pf_data_bytes(&f));
	ck_assert_uint_eq(st.packs_repacked, 1);
	ck_assert_uint_eq(st.packs_unused, 0);
	ck_assert_uint_eq(st.packs_written, 1);
	ck_assert_uint_ge(st.chunks_repacked, 1);
	ck_assert_uint_le(st.chunks_repacked, 8); /* a alone: 30000 bytes, chunks of 4 KiB or more */
	ck_assert_int_eq(access(first.name[0], F_OK), -1);
	/* b's 30000 bytes and the old tree went; a came back in a smaller pack. */
	ck_assert_uint_lt(pf_data_bytes(&f), before - 25000);
	list_packs(&now);
	ck_assert_int_eq(now.n, 2);
	pf_assert_verifies(r, NULL);
	pf_assert_restores(r, &f, 1);
	assert_forgotten(r, 0);
	bk_repo_close(r);
}
END_TEST

static int count_dir(const char *sub)
{
	char dir[PATH_MAX];

	bkf_join(dir, sizeof(dir), f.repo, sub);
	return bkf_count_files(dir);
}

static void flip_byte(const char *path, long off)
{
	FILE *fp = fopen(path, "r+b");
	int c;

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, off, SEEK_SET), 0);
	c = fgetc(fp);
	ck_assert_int_ne(c, EOF);
	ck_assert_int_eq(fseek(fp, off, SEEK_SET), 0);
	ck_assert_int_ne(fputc(c ^ 0x20, fp), EOF);
	ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(an_unreadable_manifest_stops_prune)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 3);
	struct bk_keep_policy keep1 = { .keep_last = 1 };
	struct bk_forget_stats fs;
	struct bk_prune_stats st;
	char path[PATH_MAX], name[128], err[512] = "";
	int packs, indexes;

	forget_last(r, 1, false, &fs);
	packs = count_dir("data");
	indexes = count_dir("index");
	snprintf(name, sizeof(name), "snapshots/%s", f.id[2]);
	bkf_join(path, sizeof(path), f.repo, name);
	flip_byte(path, 20);
	ck_assert_int_eq(bk_prune(r, NULL, &st, err, sizeof(err)), -1);
	printf("damaged manifest: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "nothing was changed"));
	ck_assert_ptr_nonnull(strstr(err, f.id[2]));
	ck_assert_int_eq(count_dir("data"), packs);
	ck_assert_int_eq(count_dir("index"), indexes);
	ck_assert_int_eq(bk_forget(r, NULL, &keep1, false, NULL, NULL, &fs, err, sizeof(err)), -1);
	flip_byte(path, 20);
	prune(r, BK_DEFAULT_REPACK_THRESHOLD, false, &st);
	ck_assert_uint_gt(st.packs_unused + st.packs_repacked, 0);
	pf_assert_verifies(r, NULL);
	pf_assert_restores(r, &f, 2);
	bk_repo_close(r);
}
END_TEST

START_TEST(a_chunk_no_index_lists_stops_prune)
{
	struct bk_repo *r = pf_repo_with_versions(&f, false, 1);
	struct bk_forget_stats fs;
	struct bk_prune_stats st;
	struct packs first, now;
	char cmd[PATH_MAX + 64], err[512] = "";
	int packs;

	list_packs(&first);
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	forget_last(r, 1, false, &fs);
	/* Lose what the second backup wrote, packs and all index files. */
	list_packs(&now);
	for (int i = 0; i < now.n; i++) {
		bool old = false;

		for (int j = 0; j < first.n; j++)
			old = old || strcmp(now.name[i], first.name[j]) == 0;
		if (!old)
			ck_assert_int_eq(unlink(now.name[i]), 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/index/*", f.repo);
	ck_assert_int_eq(system(cmd), 0);
	packs = count_dir("data");
	ck_assert_int_eq(bk_prune(r, NULL, &st, err, sizeof(err)), -1);
	printf("lost chunks: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "is not in the index; nothing was changed"));
	ck_assert_int_eq(count_dir("data"), packs);
	ck_assert_int_eq(pf_count_snapshots(r), 1);
	bk_repo_close(r);
}
END_TEST

/* A copy of snapshot id with another time and job (same tree). */
static void fake_snapshot(struct bk_repo *r, const char *id, const char *job, const char *when,
			  char out[BK_ID_HEX])
{
	struct bk_snapshot s;
	char err[512] = "", *real_job;

	ck_assert_msg(bk_snapshot_load(r, id, &s, err, sizeof(err)) == 0, "%s", err);
	real_job = s.job;
	s.job = (char *)job;
	s.time_ns = utc_ns(when);
	ck_assert_msg(bk_snapshot_write(r, &s, out, NULL, err, sizeof(err)) == 0, "%s", err);
	s.job = real_job;
	bk_snapshot_clear(&s);
}

static bool exists(struct bk_repo *r, const char *id)
{
	struct bk_snapshot_info *list;
	size_t n;
	char err[256];
	bool found = false;

	ck_assert_int_eq(bk_snapshots_list(r, &list, &n, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++)
		found = found || strcmp(list[i].id, id) == 0;
	bk_snapshots_free(list, n);
	return found;
}

static void only_web(void *arg, const struct bk_snapshot_info *s, unsigned why)
{
	(void)why;
	ck_assert_str_eq(s->job, "web");
	(*(int *)arg)++;
}

START_TEST(forget_goes_by_job_and_time)
{
	static const char *const web_times[] = { "2024-03-01T10:00:00", "2024-03-01T22:00:00",
						 "2024-03-02T09:00:00", "2024-03-04T09:00:00",
						 "2024-03-04T10:00:00" };
	static const bool web_kept[] = { false, false, true, false, true };
	struct bk_repo *r = pf_repo_with_versions(&f, false, 1);
	struct bk_keep_policy daily2 = { .keep_daily = 2 }, last1 = { .keep_last = 1 };
	struct bk_forget_stats fs;
	struct bk_prune_stats st;
	char web[5][BK_ID_HEX], db_old[2][BK_ID_HEX], err[512] = "";
	int calls = 0;

	for (int i = 0; i < 5; i++)
		fake_snapshot(r, f.id[0], "web", web_times[i], web[i]);
	fake_snapshot(r, f.id[0], "db", "2023-01-01T00:00:00", db_old[0]);
	fake_snapshot(r, f.id[0], "db", "2023-06-01T00:00:00", db_old[1]);
	ck_assert_int_eq(pf_count_snapshots(r), 8);
	ck_assert_msg(bk_forget(r, "web", &daily2, false, only_web, &calls, &fs, err,
				sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(calls, 5);
	ck_assert_uint_eq(fs.groups, 1);
	ck_assert_uint_eq(fs.kept, 2);
	ck_assert_uint_eq(fs.removed, 3);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(exists(r, web[i]) == web_kept[i], "web %s", web_times[i]);
	ck_assert(exists(r, db_old[0]) && exists(r, db_old[1]) && exists(r, f.id[0]));
	/* Every job at once: each keeps its own newest. */
	ck_assert_int_eq(bk_forget(r, NULL, &last1, false, NULL, NULL, &fs, err, sizeof(err)), 0);
	ck_assert_uint_eq(fs.groups, 2);
	ck_assert_uint_eq(fs.removed, 3);
	ck_assert_int_eq(pf_count_snapshots(r), 2);
	ck_assert(exists(r, f.id[0]) && exists(r, web[4]));
	/* They share every chunk: nothing to prune. */
	prune(r, 100, false, &st);
	ck_assert_uint_eq(st.packs_unused + st.packs_repacked, 0);
	pf_assert_restores(r, &f, 0);
	bk_repo_close(r);
}
END_TEST

START_TEST(prune_and_forget_wait_for_the_lock)
{
	struct bk_repo *r = pf_repo_with_versions(&f, false, 2), *other;
	struct bk_keep_policy last1 = { .keep_last = 1 };
	struct bk_forget_stats fs;
	struct bk_prune_stats st;
	char err[512] = "";

	other = bk_repo_open(f.repo, NULL, err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	ck_assert_int_eq(bk_repo_lock(other, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_prune(r, NULL, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is locked by pid"));
	ck_assert_int_eq(bk_forget(r, NULL, &last1, false, NULL, NULL, &fs, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is locked by pid"));
	/* A dry run only reads. */
	ck_assert_int_eq(bk_forget(r, NULL, &last1, true, NULL, NULL, &fs, err, sizeof(err)), 0);
	ck_assert_uint_eq(fs.removed, 1);
	ck_assert_int_eq(pf_count_snapshots(r), 2);
	bk_repo_unlock(other);
	bk_repo_close(other);
	forget_last(r, 1, false, &fs);
	prune(r, BK_DEFAULT_REPACK_THRESHOLD, false, &st);
	pf_assert_verifies(r, NULL);
	pf_assert_restores(r, &f, 1);
	bk_repo_close(r);
}
END_TEST

START_TEST(forgetting_everything_takes_a_policy)
{
	struct bk_repo *r = pf_repo_with_versions(&f, false, 2);
	struct bk_keep_policy none = { 0 };
	struct bk_forget_stats fs;
	char err[512] = "";

	/* No rule: everything stays, and a non-empty policy always keeps the newest. */
	ck_assert_int_eq(bk_forget(r, NULL, &none, false, NULL, NULL, &fs, err, sizeof(err)), 0);
	ck_assert_uint_eq(fs.removed, 0);
	ck_assert_int_eq(pf_count_snapshots(r), 2);
	forget_last(r, 1, false, &fs);
	ck_assert(exists(r, f.id[1]) && !exists(r, f.id[0]));
	bk_repo_close(r);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_prune");
	TCase *repo = tcase_create("repository");

	tcase_add_checked_fixture(repo, setup, teardown);
	tcase_set_timeout(repo, 180);
	tcase_add_loop_test(repo, forget_and_prune_shrink_the_repository, 0, 2);
	tcase_add_loop_test(repo, partly_used_packs_are_repacked, 0, 2);
	tcase_add_test(repo, an_unreadable_manifest_stops_prune);
	tcase_add_test(repo, a_chunk_no_index_lists_stops_prune);
	tcase_add_test(repo, forget_goes_by_job_and_time);
	tcase_add_test(repo, prune_and_forget_wait_for_the_lock);
	tcase_add_test(repo, forgetting_everything_takes_a_policy);
	suite_add_tcase(s, repo);
	return s;
}

