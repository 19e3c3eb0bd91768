/*
 * tests/unit/test_backup_sync.c — mirroring a repository (sync.h).
 *
 * Local to local: a mirror holds the source's objects byte for byte and
 * restores every snapshot; a dry run counts what is missing and writes
 * nothing; a second backup uploads only its new objects; a forget and
 * prune in the source is mirrored, removals in prune's order; a damaged
 * pack fails the sync before any index file or manifest leaves; another
 * repository, objects without a config, a locked target and an
 * unencrypted source going to S3 are refused.  Interrupted and killed
 * syncs, and S3 through s3rver, are in test_backup_sync_resume.c.
 */
#include "tests/unit/harness.h"
#include "tests/unit/test_backup_sync.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/backup_fixture.h"
#include "tests/unit/s3_fixture.h"
#include "tests/unit/unit_util.h"

static struct pf f;
static char mirror[PATH_MAX];

/* ---- shared helpers (test_backup_sync.h) ---- */

int sf_sync(struct bk_repo *r, const char *target, bool dry_run, struct bk_sync_stats *st,
	    bk_sync_fn fn, void *arg, char *err, size_t errlen)
{
	struct bk_sync_opts o = { .target = target, .dry_run = dry_run, .progress = fn, .arg = arg };

	return bk_sync(r, &o, st, err, errlen);
}

void sf_sync_ok(struct bk_repo *r, const char *target, struct bk_sync_stats *st)
{
	char err[1024] = "";

	ck_assert_msg(sf_sync(r, target, false, st, NULL, NULL, err, sizeof(err)) == 0, "sync: %s",
		      err);
	ck_assert(st->pending_known);
	ck_assert_uint_eq(st->snapshots_pending, 0);
	ck_assert_uint_eq(st->objects_pending, 0);
	ck_assert_uint_eq(st->bytes_pending, 0);
}

void sf_assert_same_objects(const char *a, const char *b)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "diff -r -x tmp -x lock '%s' '%s' >&2", a, b);
	ck_assert_msg(system(cmd) == 0, "%s and %s differ", a, b);
}

struct bk_repo *sf_open(const char *where, const char *key)
{
	char err[1024] = "";
	struct bk_repo *r = bk_repo_open(where, key, err, sizeof(err));

	ck_assert_msg(r != NULL, "open %s: %s", where, err);
	return r;
}

void sf_assert_sound_mirror(struct pf *fx, const char *where)
{
	struct bk_repo *m = sf_open(where, fx->key);
	struct bk_snapshot_info *list = NULL;
	size_t n = 0;
	char err[512] = "";

	pf_assert_verifies(m, NULL);
	ck_assert_msg(bk_snapshots_list(m, &list, &n, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		while (v < fx->nver && strcmp(fx->id[v], list[i].id) != 0)
			v++;
		ck_assert_msg(v < fx->nver, "the mirror has a snapshot %s nobody made", list[i].id);
		pf_assert_restores(m, fx, v);
	}
	bk_snapshots_free(list, n);
	bk_repo_close(m);
}

void sf_objects(const char *repo, uint64_t *files, uint64_t *bytes)
{
	static const char *const dirs[] = { "data", "index", "snapshots" };
	char path[PATH_MAX];
	struct stat st;

	bkf_join(path, sizeof(path), repo, "config");
	ck_assert_int_eq(stat(path, &st), 0);
	*files = 1;
	*bytes = (uint64_t)st.st_size;
	for (size_t i = 0; i < 3; i++) {
		bkf_join(path, sizeof(path), repo, dirs[i]);
		*files += (uint64_t)bkf_count_files(path);
		*bytes += bkf_du(path);
	}
}

void sf_forget_prune(struct bk_repo *r)
{
	struct bk_keep_policy keep1 = { .keep_last = 1 };
	struct bk_forget_stats fs;
	struct bk_prune_opts po;
	struct bk_prune_stats ps;
	char err[512] = "";

	ck_assert_msg(bk_forget(r, "db", &keep1, false, NULL, NULL, &fs, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_gt(fs.removed, 0);
	bk_prune_opts_default(&po);
	ck_assert_msg(bk_prune(r, &po, &ps, err, sizeof(err)) == 0, "prune: %s", err);
	ck_assert_uint_gt(ps.packs_unused + ps.packs_repacked, 0);
}

/* ---- fixture ---- */

static void setup(void)
{
	pf_setup(&f, "sync");
	bkf_join(mirror, sizeof(mirror), f.tmp, "mirror");
}

static void teardown(void)
{
	pf_teardown(&f);
}

int sf_count_in(const char *repo, const char *dir)
{
	char path[PATH_MAX];

	bkf_join(path, sizeof(path), repo, dir);
	return bkf_count_files(path);
}

/* ---- tests ---- */

START_TEST(mirror_holds_the_same_objects_and_restores)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 2);
	struct bk_sync_stats st;
	uint64_t files, bytes;
	char err[512] = "";

	sf_objects(f.repo, &files, &bytes);
	/* A dry run against nothing: everything is pending, and nothing is made. */
	ck_assert_msg(sf_sync(r, mirror, true, &st, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert(st.pending_known);
	ck_assert_uint_eq(st.snapshots_pending, 2);
	ck_assert_uint_eq(st.objects_pending, files);
	ck_assert_uint_eq(st.bytes_pending, bytes);
	ck_assert_uint_eq(st.bytes_uploaded, 0);
	ck_assert_int_ne(access(mirror, F_OK), 0);

	sf_sync_ok(r, mirror, &st);
	ck_assert_uint_eq(st.snapshots_uploaded, 2);
	ck_assert_uint_eq(st.packs_uploaded, (uint64_t)sf_count_in(f.repo, "data"));
	ck_assert_uint_eq(st.index_uploaded, (uint64_t)sf_count_in(f.repo, "index"));
	ck_assert_uint_eq(st.bytes_uploaded, bytes);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.damaged, 0);
	sf_assert_same_objects(f.repo, mirror);
	sf_assert_sound_mirror(&f, mirror);

	/* Nothing new: nothing moves, and the locks are gone again. */
	sf_sync_ok(r, mirror, &st);
	ck_assert_uint_eq(st.packs_uploaded + st.index_uploaded + st.snapshots_uploaded, 0);
	ck_assert_uint_eq(st.bytes_uploaded + st.removed, 0);
	ck_assert_int_ne(access(strcat(strcpy(err, mirror), "/lock"), F_OK), 0);
	ck_assert_int_ne(access(strcat(strcpy(err, f.repo), "/lock"), F_OK), 0);
	bk_repo_close(r);
}
END_TEST

START_TEST(second_backup_uploads_only_new_objects)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 1);
	struct bk_sync_stats st, dry;
	uint64_t files0, bytes0, files1, bytes1;
	int packs0, index0;
	char err[512] = "";

	sf_sync_ok(r, mirror, &st);
	sf_objects(f.repo, &files0, &bytes0);
	packs0 = sf_count_in(f.repo, "data");
	index0 = sf_count_in(f.repo, "index");
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	sf_objects(f.repo, &files1, &bytes1);
	ck_assert_int_gt(sf_count_in(f.repo, "data"), packs0);

	ck_assert_msg(sf_sync(r, mirror, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(dry.snapshots_pending, 1);
	ck_assert_uint_eq(dry.objects_pending, files1 - files0);
	ck_assert_uint_eq(dry.bytes_pending, bytes1 - bytes0);
	ck_assert_uint_eq(dry.removed, 0);

	sf_sync_ok(r, mirror, &st);
	ck_assert_uint_eq(st.snapshots_uploaded, 1);
	ck_assert_uint_eq(st.packs_uploaded, (uint64_t)(sf_count_in(f.repo, "data") - packs0));
	ck_assert_uint_eq(st.index_uploaded, (uint64_t)(sf_count_in(f.repo, "index") - index0));
	ck_assert_uint_eq(st.bytes_uploaded, bytes1 - bytes0);
	sf_assert_same_objects(f.repo, mirror);
	sf_assert_sound_mirror(&f, mirror);
	bk_repo_close(r);
}
END_TEST

struct order {
	enum bk_sync_step step[512];
	char kind[512]; /* removals: 's'napshot, 'i'ndex, 'd'ata */
	int n;
};

static int record(void *arg, enum bk_sync_step step, const char *name)
{
	struct order *o = arg;

	ck_assert_int_lt(o->n, 512);
	o->step[o->n] = step;
	o->kind[o->n++] = name[0];
	return 0;
}

START_TEST(prune_is_mirrored_in_prunes_order)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 4);
	struct bk_sync_stats st, dry;
	struct bk_verify_stats vs;
	struct order o = { .n = 0 };
	struct bk_repo *m;
	char err[512] = "";
	int last = 0;

	sf_sync_ok(r, mirror, &st);
	sf_forget_prune(r);
	ck_assert_msg(sf_sync(r, mirror, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(dry.snapshots_pending, 0);
	ck_assert_uint_gt(dry.removed, 3);

	ck_assert_msg(sf_sync(r, mirror, false, &st, record, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(st.removed, dry.removed);
	ck_assert_uint_gt(st.packs_uploaded, 0); /* the repacked ones */
	/* Uploads before removals; removals: manifests, then index files, then packs. */
	for (int i = 0; i < o.n; i++) {
		int rank = o.step[i] == BK_SYNC_PACK ? 0 : o.step[i] == BK_SYNC_INDEX ? 1
			 : o.step[i] == BK_SYNC_SNAPSHOT ? 2 : o.kind[i] == 's' ? 3
			 : o.kind[i] == 'i' ? 4 : 5;

		ck_assert_msg(rank >= last, "step %d (%d %c) came after rank %d", i, o.step[i],
			      o.kind[i], last);
		last = rank;
	}
	ck_assert_int_eq(last, 5);
	sf_assert_same_objects(f.repo, mirror);
	m = sf_open(mirror, f.key);
	pf_assert_verifies(m, &vs);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
	ck_assert_uint_eq(vs.snapshots, 1);
	pf_assert_restores(m, &f, 3);
	bk_repo_close(m);
	bk_repo_close(r);
}
END_TEST

/* Flip one byte in the middle of a pack the mirror does not have yet. */
static void damage_a_new_pack(char *name, size_t len)
{
	char cmd[3 * PATH_MAX], path[PATH_MAX];
	FILE *p;
	int fd;
	uint8_t b;

	snprintf(cmd, sizeof(cmd), "cd '%s' && for p in data/*/*; do [ -e '%s'/\"$p\" ] || "
		 "{ echo \"$p\"; break; }; done", f.repo, mirror);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(name, (int)len, p));
	pclose(p);
	name[strcspn(name, "\n")] = '\0';
	bkf_join(path, sizeof(path), f.repo, name);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(damaged_pack_fails_before_any_index_leaves)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 1);
	struct bk_sync_stats st;
	int packs0, index0, packs1;
	char err[1024] = "", bad[PATH_MAX], path[PATH_MAX];

	sf_sync_ok(r, mirror, &st);
	index0 = sf_count_in(mirror, "index");
	packs0 = sf_count_in(mirror, "data");
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	packs1 = sf_count_in(f.repo, "data");
	ck_assert_int_ge(packs1 - packs0, 2);
	damage_a_new_pack(bad, sizeof(bad));

	ck_assert_int_eq(sf_sync(r, mirror, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "damaged") && strstr(err, bad) &&
		      strstr(err, "does not match its name"), "%s", err);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_uint_eq(st.packs_uploaded, (uint64_t)(packs1 - packs0 - 1));
	ck_assert_uint_eq(st.index_uploaded + st.snapshots_uploaded + st.removed, 0);
	ck_assert(st.pending_known);
	ck_assert_uint_eq(st.snapshots_pending, 1);
	ck_assert_int_eq(sf_count_in(mirror, "index"), index0);
	ck_assert_int_eq(sf_count_in(mirror, "snapshots"), 1);
	bkf_join(path, sizeof(path), mirror, bad);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* The mirror still holds the first snapshot, whole. */
	sf_assert_sound_mirror(&f, mirror);
	bk_repo_close(r);
}
END_TEST

/* Whether the mirror directory gained any object (besides what the test made). */
static int objects_in(const char *repo)
{
	return sf_count_in(repo, "data") + sf_count_in(repo, "index") + sf_count_in(repo, "snapshots");
}

START_TEST(other_repositories_are_refused)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 1), *other;
	struct bk_sync_stats st;
	char err[1024] = "", path[PATH_MAX], cfg[PATH_MAX], cmd[3 * PATH_MAX + 64];

	/* Another repository, even with the same key. */
	other = bkf_repo(mirror, f.key, 0);
	bk_repo_close(other);
	ck_assert_int_eq(sf_sync(r, mirror, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "another repository"), "%s", err);
	ck_assert(!st.pending_known);
	ck_assert_int_eq(objects_in(mirror), 0);
	ck_assert_int_eq(sf_sync(r, mirror, true, &st, NULL, NULL, err, sizeof(err)), -1);

	/* The same id, but a config changed by hand. */
	bkf_join(path, sizeof(path), mirror, "config");
	bkf_join(cfg, sizeof(cfg), f.repo, "config");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && echo >> '%s'", cfg, path, path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(sf_sync(r, mirror, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "differs from the source's"), "%s", err);

	/* Objects but no config: not a mirror (an interrupted sync always put the config first). */
	ck_assert_int_eq(unlink(path), 0);
	bkf_join(path, sizeof(path), mirror, "index/0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef");
	bkf_write(path, "x", 1, 0600);
	ck_assert_int_eq(sf_sync(r, mirror, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "objects but no config"), "%s", err);
	ck_assert_int_eq(objects_in(mirror), 1);

	/* The source itself. */
	ck_assert_int_eq(sf_sync(r, f.repo, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "the source repository itself"), "%s", err);
	bk_repo_close(r);
}
END_TEST

START_TEST(locked_target_is_refused)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 1);
	struct bk_sync_stats st;
	char err[1024] = "", path[PATH_MAX], host[256] = "", lock[512];

	sf_sync_ok(r, mirror, &st);
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	/* A live writer (this very process) holds the mirror's lock. */
	gethostname(host, sizeof(host) - 1);
	snprintf(lock, sizeof(lock), "{\"pid\":%d,\"host\":\"%s\",\"time\":%lld,\"token\":\"%032d\"}",
		 (int)getpid(), host, (long long)time(NULL), 7);
	bkf_join(path, sizeof(path), mirror, "lock");
	bkf_write(path, lock, strlen(lock), 0600);
	ck_assert_int_eq(sf_sync(r, mirror, false, &st, NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is locked by pid"), "%s", err);
	ck_assert_int_eq(sf_count_in(mirror, "snapshots"), 1);
	/* The source's lock was given back: a backup can run. */
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	ck_assert_int_eq(unlink(path), 0);
	sf_sync_ok(r, mirror, &st);
	ck_assert_uint_eq(st.snapshots_uploaded, 2);
	bk_repo_close(r);
}
END_TEST

START_TEST(unencrypted_source_only_to_a_local_mirror)
{
	struct bk_repo *r = pf_repo_with_versions(&f, false, 1), *m;
	struct bk_sync_stats st;
	char err[1024] = "";

	ck_assert_int_eq(sf_sync(r, "s3://" S3F_BUCKET "/x?endpoint=http://127.0.0.1:1", false, &st,
				 NULL, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "offsite repositories must be encrypted"), "%s", err);
	ck_assert(!st.pending_known);
	ck_assert_int_eq(sf_sync(r, "s3://" S3F_BUCKET "/x?endpoint=http://127.0.0.1:1", true, &st,
				 NULL, NULL, err, sizeof(err)), -1);
	sf_sync_ok(r, mirror, &st);
	ck_assert_uint_eq(st.snapshots_uploaded, 1);
	m = sf_open(mirror, NULL);
	ck_assert(!bk_repo_encrypted(m));
	pf_assert_restores(m, &f, 0);
	bk_repo_close(m);
	bk_repo_close(r);
}
END_TEST

/* s3rver runs for the whole program (unit_setup), or its tests are skipped. */
static bool s3;

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_sync");
	TCase *t = tcase_create("local");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, mirror_holds_the_same_objects_and_restores);
	tcase_add_test(t, second_backup_uploads_only_new_objects);
	tcase_add_test(t, prune_is_mirrored_in_prunes_order);
	tcase_add_test(t, damaged_pack_fails_before_any_index_leaves);
	tcase_add_test(t, other_repositories_are_refused);
	tcase_add_test(t, locked_target_is_refused);
	tcase_add_test(t, unencrypted_source_only_to_a_local_mirror);
	suite_add_tcase(s, t);
	suite_add_tcase(s, sf_resume_tcase());
	if (s3)
		suite_add_tcase(s, sf_s3_tcase());
	return s;
}

int unit_setup(void)
{
	char why[256] = "";

	/* libcurl honours these; s3rver is on loopback. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	s3 = s3f_server_start(why, sizeof(why));
	if (!s3)
		fprintf(stderr, "test_backup_sync: S3 server tests skipped: %s\n", why);
	return 0;
}

void unit_cleanup(void)
{
	s3f_server_stop();
}
