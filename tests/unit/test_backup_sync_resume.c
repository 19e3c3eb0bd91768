/*
 * tests/unit/test_backup_sync_resume.c — syncs that do not finish, and
 * syncs to S3 (run from test_backup_sync.c's main).
 *
 * A sync stopped after every single object, uploads and removals alike,
 * must leave a mirror that opens, verifies with every chunk read and
 * restores every snapshot it lists, and each next run must upload only
 * what is still missing.  A sync killed with SIGKILL after a given object
 * or at a random moment leaves its locks and temporary files behind: the
 * next run takes the dead locks over, cleans up and completes.  Against
 * s3rver: a round trip, an incremental, a mirrored prune, and an
 * interrupted and a killed sync that resume.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/backup_fixture.h"
#include "tests/unit/s3_fixture.h"
#include "tests/unit/test_backup_sync.h"
#include "tests/unit/unit_util.h"

static struct pf f;
static char mirror[PATH_MAX];

static void setup(void)
{
	pf_setup(&f, "syncr");
	bkf_join(mirror, sizeof(mirror), f.tmp, "mirror");
}

static void teardown(void)
{
	pf_teardown(&f);
}


/* Stops the sync (or kills the process, with kill) once n objects have moved. */
struct stopper {
	int n, done;
	bool kill;
};

static int stop_after(void *arg, enum bk_sync_step step, const char *name)
{
	struct stopper *s = arg;

	(void)step;
	(void)name;
	if (++s->done < s->n)
		return 0;
	if (s->kill)
		raise(SIGKILL);
	return 1;
}

struct totals {
	uint64_t packs, index, snapshots, bytes, removed;
	int runs;
};

/*
 * Sync to where, stopped after every `every` objects, until a run
 * completes; after each stop the mirror must be sound and exactly
 * `every` objects fewer must be pending or removable.
 */
static void sync_in_steps(struct bk_repo *r, const char *where, int every, struct totals *t)
{
	struct bk_sync_stats st, dry;
	char err[1024] = "";
	uint64_t left;

	memset(t, 0, sizeof(*t));
	ck_assert_msg(sf_sync(r, where, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	left = dry.objects_pending + dry.removed;
	for (;;) {
		struct stopper s = { .n = every };
		int rc = sf_sync(r, where, false, &st, stop_after, &s, err, sizeof(err));

		t->runs++;
		t->packs += st.packs_uploaded;
		t->index += st.index_uploaded;
		t->snapshots += st.snapshots_uploaded;
		t->bytes += st.bytes_uploaded;
		t->removed += st.removed;
		if (rc == 0)
			break;
		ck_assert_msg(strstr(err, "stopped by the caller"), "%s", err);
		ck_assert_int_eq(s.done, every);
		ck_assert_uint_ge(left, (uint64_t)every);
		left -= (uint64_t)every;
		ck_assert_uint_le(st.objects_pending, left);
		sf_assert_sound_mirror(&f, where);
	}
	ck_assert_uint_eq(st.packs_uploaded + st.index_uploaded + st.snapshots_uploaded +
			  st.removed, left);
	ck_assert_uint_eq(st.objects_pending, 0);
}

START_TEST(stopped_after_every_object_resumes)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 3);
	uint64_t files, bytes;
	struct totals t;

	sf_objects(f.repo, &files, &bytes);
	sync_in_steps(r, mirror, 1, &t);
	/* Nothing was sent twice. */
	ck_assert_uint_eq(t.packs, (uint64_t)sf_count_in(f.repo, "data"));
	ck_assert_uint_eq(t.index, (uint64_t)sf_count_in(f.repo, "index"));
	ck_assert_uint_eq(t.snapshots, 3);
	ck_assert_uint_eq(t.bytes, bytes);
	ck_assert_int_ge(t.runs, (int)files);
	sf_assert_same_objects(f.repo, mirror);

	/* The removals a prune causes, one at a time, too. */
	sf_forget_prune(r);
	sync_in_steps(r, mirror, 1, &t);
	ck_assert_uint_gt(t.removed, 3);
	sf_assert_same_objects(f.repo, mirror);
	sf_assert_sound_mirror(&f, mirror);
	bk_repo_close(r);
}
END_TEST

/* A sync in a child killed after kill_at objects (0: never) or after delay_us (>= 0). */
static bool sync_in_child(const char *where, int kill_at, long delay_us)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct stopper s = { .n = kill_at, .kill = true };
		struct bk_sync_stats st;
		char err[1024] = "";
		struct bk_repo *r = bk_repo_open(f.repo, f.key, err, sizeof(err));

		_exit(r && sf_sync(r, where, false, &st, kill_at ? stop_after : NULL, &s, err,
				   sizeof(err)) == 0 ? 0 : 3);
	}
	return pf_kill_and_reap(pid, delay_us);
}

/* After a kill: what the mirror holds is sound, and the next sync completes it. */
static void check_after_kill(const char *where, bool local)
{
	struct bk_sync_stats st;
	struct bk_repo *r = sf_open(f.repo, f.key);
	char cfg[PATH_MAX];

	bkf_join(cfg, sizeof(cfg), where, "config");
	if (!local || access(cfg, F_OK) == 0)
		sf_assert_sound_mirror(&f, where);
	sf_sync_ok(r, where, &st);
	bk_repo_close(r);
	if (local) {
		sf_assert_same_objects(f.repo, where);
		ck_assert_int_eq(sf_count_in(where, "tmp"), 0);
	}
	sf_assert_sound_mirror(&f, where);
}

START_TEST(killed_syncs_resume)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 3);
	struct bk_sync_stats dry;
	char tmpl[PATH_MAX], cmd[3 * PATH_MAX], err[512] = "";
	uint64_t files, bytes, seed = 0x5eed;
	struct timespec a, b;
	long took_us;
	int killed = 0, n;

	bk_repo_close(r);
	sf_objects(f.repo, &files, &bytes);
	n = (int)files;
	const int upload_kills[] = { 1, 2, n / 3, n / 2, n - 2, n - 1 };
	for (size_t i = 0; i < sizeof(upload_kills) / sizeof(upload_kills[0]); i++) {
		unit_rm_tree(mirror);
		ck_assert_msg(sync_in_child(mirror, upload_kills[i], -1), "kill at %d", upload_kills[i]);
		check_after_kill(mirror, true);
	}
	/* Kills among a prune's uploads and removals, each from the same mirror. */
	r = sf_open(f.repo, f.key);
	sf_forget_prune(r);
	ck_assert_msg(sf_sync(r, mirror, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	bk_repo_close(r);
	n = (int)(dry.objects_pending + dry.removed);
	bkf_join(tmpl, sizeof(tmpl), f.tmp, "mirror-template");
	pf_copy(mirror, tmpl);
	const int prune_kills[] = { 1, (int)dry.objects_pending, (int)dry.objects_pending + 1,
				    n / 2 + 1, n - 1 };
	for (size_t i = 0; i < sizeof(prune_kills) / sizeof(prune_kills[0]); i++) {
		unit_rm_tree(mirror);
		pf_copy(tmpl, mirror);
		ck_assert_msg(sync_in_child(mirror, prune_kills[i], -1), "kill at %d", prune_kills[i]);
		check_after_kill(mirror, true);
	}

	/* And at random moments of a whole first sync. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mirror);
	ck_assert_int_eq(system(cmd), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert(!sync_in_child(mirror, 0, -1));
	clock_gettime(CLOCK_MONOTONIC, &b);
	took_us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
	for (int i = 0; i < 8; i++) {
		uint8_t rnd[4];

		bkf_fill(rnd, sizeof(rnd), &seed);
		unit_rm_tree(mirror);
		killed += sync_in_child(mirror, 0, (long)((((uint32_t)rnd[0] << 16) |
							    ((uint32_t)rnd[1] << 8) | rnd[2]) %
							   (uint32_t)(took_us + 1)));
		check_after_kill(mirror, true);
	}
	printf("a whole sync in a child took %ld us; killed %d of 8 midway\n", took_us, killed);
	ck_assert_int_gt(killed, 0);
}
END_TEST

TCase *sf_resume_tcase(void)
{
	TCase *t = tcase_create("resume");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 600);
	tcase_add_test(t, stopped_after_every_object_resumes);
	tcase_add_test(t, killed_syncs_resume);
	return t;
}

/* ---- S3 ---- */

/* s3://vigil-test/<new prefix>?endpoint=...&credentials=... on s3rver. */
static const char *s3_target(const char *tag)
{
	static char url[1024];
	struct bk_s3_config c;

	s3f_config(&c, s3f_server_port(), "", S3F_KEY_ID, S3F_SECRET);
	snprintf(url, sizeof(url), "s3://%s/%s?endpoint=%s&region=us-east-1&credentials=%s",
		 S3F_BUCKET, s3f_unique_prefix(tag), c.endpoint, c.credentials_file);
	return url;
}

/* A dry run finds nothing to upload and nothing to remove: the same objects. */
static void assert_in_step(struct bk_repo *r, const char *where)
{
	struct bk_sync_stats dry;
	char err[1024] = "";

	ck_assert_msg(sf_sync(r, where, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert(dry.pending_known);
	ck_assert_uint_eq(dry.objects_pending + dry.removed, 0);
}

START_TEST(s3_mirror_round_trip)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 2);
	const char *url = s3_target("sync");
	struct bk_sync_stats st, dry;
	uint64_t files, bytes, files1, bytes1;
	int packs0;
	char err[1024] = "";

	sf_objects(f.repo, &files, &bytes);
	ck_assert_msg(sf_sync(r, url, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(dry.objects_pending, files);
	ck_assert_uint_eq(dry.snapshots_pending, 2);
	sf_sync_ok(r, url, &st);
	ck_assert_uint_eq(st.packs_uploaded, (uint64_t)sf_count_in(f.repo, "data"));
	ck_assert_uint_eq(st.snapshots_uploaded, 2);
	ck_assert_uint_eq(st.bytes_uploaded, bytes);
	assert_in_step(r, url);
	sf_assert_sound_mirror(&f, url);

	/* Only the new objects go up. */
	packs0 = sf_count_in(f.repo, "data");
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	sf_objects(f.repo, &files1, &bytes1);
	sf_sync_ok(r, url, &st);
	ck_assert_uint_eq(st.packs_uploaded, (uint64_t)(sf_count_in(f.repo, "data") - packs0));
	ck_assert_uint_eq(st.snapshots_uploaded, 1);
	ck_assert_uint_eq(st.bytes_uploaded, bytes1 - bytes);

	/* A prune is mirrored. */
	sf_forget_prune(r);
	ck_assert_msg(sf_sync(r, url, true, &dry, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	sf_sync_ok(r, url, &st);
	ck_assert_uint_eq(st.removed, dry.removed);
	ck_assert_uint_gt(st.removed, 3);
	assert_in_step(r, url);
	sf_assert_sound_mirror(&f, url);
	bk_repo_close(r);
}
END_TEST

START_TEST(s3_interrupted_and_killed_syncs_resume)
{
	struct bk_repo *r = pf_repo_with_versions(&f, true, 2);
	const char *url = s3_target("syncr");
	uint64_t files, bytes;
	struct totals t;

	sf_objects(f.repo, &files, &bytes);
	sync_in_steps(r, url, 4, &t);
	ck_assert_int_gt(t.runs, 2);
	ck_assert_uint_eq(t.bytes, bytes);
	assert_in_step(r, url);
	/* Killed while its locks are held: the next run takes both over as stale. */
	pf_next_version(&f);
	pf_backup(r, &f, "db");
	bk_repo_close(r);
	ck_assert(sync_in_child(url, 2, -1));
	check_after_kill(url, false);
	r = sf_open(f.repo, f.key);
	assert_in_step(r, url);
	bk_repo_close(r);
}
END_TEST

TCase *sf_s3_tcase(void)
{
	TCase *t = tcase_create("s3");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 600);
	tcase_add_test(t, s3_mirror_round_trip);
	tcase_add_test(t, s3_interrupted_and_killed_syncs_resume);
	return t;
}
