/*
 * tests/unit/test_backup_safety.c — when things go wrong: a flipped byte
 * in a pack (verify --read-data and restore both name the file, restore
 * leaves no wrong file), a wrong or missing key, two writers, stale locks,
 * junk left in tmp/, a backup SIGKILLed in the middle, and a full disk
 * (RLIMIT_FSIZE).  After each, the repository must verify and the next
 * backup must succeed and restore byte for byte.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/backup.h"
#include "actions/backup/snapshot.h"
#include "actions/backup/tree.h"
#include "actions/backup/writer.h"
#include "tests/unit/backup_fixture.h"
#include "tests/unit/unit_util.h"

static char tmp[256], src[512], repo[512], out[512], key[512];

static void setup(void)
{
	char err[256] = "";

	bkf_tmpdir(tmp, sizeof(tmp), "safe");
	bkf_join(src, sizeof(src), tmp, "src");
	bkf_join(repo, sizeof(repo), tmp, "repo");
	bkf_join(out, sizeof(out), tmp, "out");
	bkf_join(key, sizeof(key), tmp, "key");
	ck_assert_int_eq(mkdir(src, 0700), 0);
	ck_assert_msg(bk_key_generate(key, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
	unit_rm_tree(tmp);
}

static int try_backup(struct bk_repo *r, struct bk_backup_stats *st, char *err, size_t errlen)
{
	struct bk_backup_opts o = { .source = src, .job = "safety" };

	return bk_backup_dir(r, &o, st, NULL, err, errlen);
}

static void backup(struct bk_repo *r, struct bk_backup_stats *st)
{
	char err[512] = "";

	ck_assert_msg(try_backup(r, st, err, sizeof(err)) == 0, "backup: %s", err);
}

static void restore_and_compare(struct bk_repo *r)
{
	struct bk_restore_opts o = { .target = out };
	char err[512] = "";

	unit_rm_tree(out);
	ck_assert_msg(bk_restore(r, &o, NULL, err, sizeof(err)) == 0, "restore: %s", err);
	bkf_assert_same_tree(src, out);
}

static int verify(struct bk_repo *r, bool read_data, struct bk_verify_stats *vs,
		  struct bkf_msgs *m)
{
	struct bk_verify_opts o = { .read_data = read_data, .problem = bkf_collect, .arg = m };
	char err[512] = "";
	int rc = bk_verify(r, &o, vs, err, sizeof(err));

	ck_assert_msg(rc >= 0, "verify: %s", err);
	return rc;
}

/* Path of the one pack file in repo/data (asserts there is exactly one). */
static void only_pack(char *path, size_t len)
{
	char cmd[PATH_MAX + 64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find '%s/data' -type f", repo);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(path, (int)len, p));
	path[strcspn(path, "\n")] = '\0';
	ck_assert_ptr_null(fgets(cmd, sizeof(cmd), p));
	pclose(p);
}

START_TEST(tampered_pack_is_named)
{
	/* Encrypted, GCM catches the flip; unencrypted, the chunk's SHA-256 does. */
	bool encrypted = _i == 1;
	struct bk_repo *r = bkf_repo(repo, encrypted ? key : NULL, 0);
	/* delete_extra, but a restore with a damaged file must delete nothing. */
	struct bk_restore_opts ro = { .target = out, .delete_extra = true, .problem = bkf_collect };
	struct bk_verify_stats vs;
	struct bkf_msgs m = { .n = 0 }, rm = { .n = 0 };
	struct bk_snapshot_info *list;
	char path[PATH_MAX], err[1024] = "";
	size_t n;
	int fd;
	uint8_t b;

	/*
	 * Sorted first, so its first chunks are the pack's first segment, and
	 * larger than a segment, so that segment holds nothing else.
	 */
	bkf_join(path, sizeof(path), src, "a-victim.bin");
	bkf_random_file(path, 3 * BK_DEFAULT_SEGMENT_SIZE, 5);
	bkf_join(path, sizeof(path), src, "z-good.txt");
	bkf_write(path, "fine\n", 5, 0644);
	backup(r, NULL);
	ck_assert_int_eq(bk_snapshots_list(r, &list, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	only_pack(path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	/* Structure alone cannot see it; reading the data does. */
	ck_assert_int_eq(verify(r, false, &vs, &m), 0);
	ck_assert_int_eq(verify(r, true, &vs, &m), 1);
	printf("verify --read-data:\n%s", m.text);
	/* The hash finds the one chunk; GCM condemns the whole segment. */
	if (encrypted)
		ck_assert_uint_gt(vs.damaged_chunks, 1);
	else
		ck_assert_uint_eq(vs.damaged_chunks, 1);
	ck_assert_uint_eq(vs.damaged_files, 1);
	ck_assert_ptr_nonnull(strstr(m.text, "file a-victim.bin: chunk"));
	ck_assert_ptr_nonnull(strstr(m.text, "content does not match its name"));
	ck_assert_ptr_null(strstr(m.text, "z-good.txt"));
	ro.arg = &rm;
	ck_assert_int_eq(mkdir(out, 0700), 0);
	bkf_join(path, sizeof(path), out, "was-here.txt");
	bkf_write(path, "old\n", 4, 0644);
	ck_assert_int_eq(bk_restore(r, &ro, NULL, err, sizeof(err)), -1);
	printf("restore: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "a-victim.bin"));
	ck_assert_ptr_nonnull(strstr(err, encrypted ? "authentication failed"
						    : "content does not match its hash"));
	ck_assert(strncmp(strstr(err, "snapshot ") + 9, list[0].id, 16) == 0);
	ck_assert_int_eq(rm.n, 1);
	/* No wrong file, no temp file; the good one is there. */
	bkf_join(path, sizeof(path), out, "a-victim.bin");
	ck_assert_int_eq(access(path, F_OK), -1);
	bkf_join(path, sizeof(path), out, "z-good.txt");
	ck_assert_int_eq(access(path, F_OK), 0);
	bkf_join(path, sizeof(path), out, "was-here.txt");
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(bkf_count_files(out), 2);
	bk_snapshots_free(list, n);
	bk_repo_close(r);
}
END_TEST

START_TEST(keys_are_checked)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	char other[PATH_MAX], plain[PATH_MAX], err[512] = "";

	bk_repo_close(r);
	bkf_join(other, sizeof(other), tmp, "other-key");
	ck_assert_int_eq(bk_key_generate(other, err, sizeof(err)), 0);
	ck_assert_ptr_null(bk_repo_open(repo, other, err, sizeof(err)));
	printf("wrong key: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "wrong key: key file"));
	ck_assert_ptr_nonnull(strstr(err, "the repository's key id is"));
	ck_assert_ptr_null(bk_repo_open(repo, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "a key file is needed"));
	bkf_join(plain, sizeof(plain), tmp, "plain");
	r = bkf_repo(plain, NULL, 0);
	bk_repo_close(r);
	ck_assert_ptr_null(bk_repo_open(plain, key, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not encrypted"));
	ck_assert_ptr_null(bk_repo_open(tmp, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a repository"));
	r = bk_repo_open(repo, key, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	bk_repo_close(r);
}
END_TEST

static void write_lock(long long pid, const char *host, long long when)
{
	char path[PATH_MAX], text[512];

	bkf_join(path, sizeof(path), repo, "lock");
	snprintf(text, sizeof(text), "{\"pid\":%lld,\"host\":\"%s\",\"time\":%lld,\"token\":\"x\"}",
		 pid, host, when);
	bkf_write(path, text, strlen(text), 0600);
}

START_TEST(one_writer_at_a_time)
{
	struct bk_repo *a = bkf_repo(repo, NULL, 0), *b;
	char err[512] = "", pid[32], lock[PATH_MAX];

	bkf_join(lock, sizeof(lock), src, "f");
	bkf_random_file(lock, 1000, 1);
	b = bk_repo_open(repo, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(bk_repo_lock(a, err, sizeof(err)), 0);
	ck_assert_int_eq(try_backup(b, NULL, err, sizeof(err)), -1);
	printf("second writer: %s\n", err);
	snprintf(pid, sizeof(pid), "locked by pid %d on ", (int)getpid());
	ck_assert_ptr_nonnull(strstr(err, pid));
	bk_repo_unlock(a);
	backup(b, NULL);
	bkf_join(lock, sizeof(lock), repo, "lock");
	ck_assert_int_eq(access(lock, F_OK), -1);
	bk_repo_close(a);
	bk_repo_close(b);
}
END_TEST

START_TEST(stale_locks_are_taken_over)
{
	struct bk_repo *r = bkf_repo(repo, NULL, 0);
	char host[256] = "", err[512] = "", path[PATH_MAX];
	pid_t dead = fork();

	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	gethostname(host, sizeof(host) - 1);
	bkf_join(path, sizeof(path), src, "f");
	bkf_random_file(path, 1000, 2);
	/* a dead pid on this host */
	write_lock(dead, host, (long long)time(NULL));
	backup(r, NULL);
	/* a live pid on another host: only age makes it stale */
	write_lock(1, "elsewhere", (long long)time(NULL));
	ck_assert_int_eq(try_backup(r, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "locked by pid 1 on elsewhere"));
	write_lock(1, "elsewhere", (long long)time(NULL) - 2 * BK_DEFAULT_LOCK_STALE_S);
	backup(r, NULL);
	bk_repo_set_lock_stale(r, 10);
	write_lock(1, "elsewhere", (long long)time(NULL) - 11);
	backup(r, NULL);
	bk_repo_close(r);
}
END_TEST

START_TEST(junk_in_tmp_is_cleaned)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	char path[PATH_MAX];
	struct bkf_msgs m = { .n = 0 };
	struct bk_verify_stats vs;

	bkf_make_tree(src);
	bkf_join(path, sizeof(path), repo, "tmp/0123456789abcdef");
	bkf_random_file(path, 300000, 3);
	bkf_join(path, sizeof(path), repo, "tmp/half-written-pack");
	bkf_random_file(path, 1000, 4);
	backup(r, NULL);
	bkf_join(path, sizeof(path), repo, "tmp");
	ck_assert_int_eq(bkf_count_files(path), 0);
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	restore_and_compare(r);
	bk_repo_close(r);
}
END_TEST

/* Start a backup in a child; SIGKILL it once it has written a few packs. */
static void kill_midway(void)
{
	char data[PATH_MAX];
	pid_t pid = fork();
	int status, packs = 0;
	uint64_t deadline = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[512];
		struct bk_repo *r = bk_repo_open(repo, key, err, sizeof(err));

		_exit(r && try_backup(r, NULL, err, sizeof(err)) == 0 ? 0 : 3);
	}
	bkf_join(data, sizeof(data), repo, "data");
	for (deadline = 0; deadline < 60000 && packs < 12; deadline++) {
		ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0); /* must still be running */
		usleep(1000);
		packs = bkf_count_files(data);
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(killed_backup_leaves_a_valid_repository)
{
	/* r is opened before the dead run: taking the lock must bring it up to date. */
	struct bk_repo *r = bkf_repo(repo, key, 256 << 10), *fresh;
	struct bk_backup_stats st;
	struct bk_verify_stats vs;
	struct bkf_msgs m = { .n = 0 };
	char path[PATH_MAX], err[512] = "";

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/file%d", src, i);
		bkf_random_file(path, 12u << 20, 100 + (uint64_t)i);
	}
	kill_midway();
	/* The dead run's lock, tmp files and packs are there; nothing is broken. */
	fresh = bk_repo_open(repo, key, err, sizeof(err));
	ck_assert_msg(fresh != NULL, "%s", err);
	ck_assert_int_eq(verify(fresh, true, &vs, &m), 0);
	bk_repo_close(fresh);
	printf("after SIGKILL: %llu packs indexed, %llu unindexed\n",
	       (unsigned long long)vs.packs, (unsigned long long)vs.unindexed_packs);
	ck_assert_uint_gt(vs.packs, 0);
	ck_assert_uint_le(vs.unindexed_packs, 8);
	backup(r, &st);
	printf("next backup: recovered %llu packs, %llu of %llu chunks new\n",
	       (unsigned long long)st.packs_recovered, (unsigned long long)st.chunks_new,
	       (unsigned long long)st.chunks_total);
	ck_assert_uint_eq(st.packs_recovered, vs.unindexed_packs);
	ck_assert_uint_lt(st.chunks_new, st.chunks_total);
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
	ck_assert_msg(m.n == 0, "%s", m.text);
	bkf_join(path, sizeof(path), repo, "tmp");
	ck_assert_int_eq(bkf_count_files(path), 0);
	restore_and_compare(r);
	bk_repo_close(r);
}
END_TEST

/* Packs a run wrote but never indexed are indexed from their headers and reused. */
START_TEST(unindexed_packs_are_reused)
{
	struct bk_repo *r = bkf_repo(repo, key, 256 << 10);
	struct bk_backup_stats st;
	struct bk_verify_stats vs;
	struct bkf_msgs m = { .n = 0 };
	char cmd[PATH_MAX * 2];

	bkf_make_tree(src);
	backup(r, &st);
	bk_repo_close(r);
	/* what a run killed between its packs and its index leaves */
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/index/* '%s'/snapshots/*", repo, repo);
	ck_assert_int_eq(system(cmd), 0);
	r = bk_repo_open(repo, key, cmd, sizeof(cmd));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	ck_assert_uint_eq(vs.packs, 0);
	ck_assert_uint_eq(vs.unindexed_packs, st.packs_written);
	backup(r, &st);
	ck_assert_uint_eq(st.packs_recovered, vs.unindexed_packs);
	ck_assert_uint_eq(st.chunks_new, 0);
	ck_assert_uint_eq(st.packs_written, 0);
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
	restore_and_compare(r);
	bk_repo_close(r);
}
END_TEST

/* Store a hand-made tree (one line per entry) as a snapshot. */
static void write_hostile_snapshot(struct bk_repo *r, const char *const *lines, size_t n)
{
	struct bk_writer w;
	struct bk_buf text = { 0 };
	struct bk_snapshot s = { .host = (char *)"h", .job = (char *)"j", .source = (char *)"/" };
	uint8_t id[BK_ID_LEN];
	char err[512] = "", snap[BK_ID_HEX];

	for (size_t i = 0; i < n; i++) {
		bk_buf_append(&text, lines[i], strlen(lines[i]));
		bk_buf_append(&text, "\n", 1);
	}
	ck_assert_msg(bk_repo_lock(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(bk_writer_init(&w, r, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_writer_chunk(&w, text.p, text.len, id, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_writer_index(&w, err, sizeof(err)), 0);
	s.tree = id;
	s.ntree = 1;
	s.tree_size = text.len;
	ck_assert_msg(bk_snapshot_write(r, &s, snap, NULL, err, sizeof(err)) == 0, "%s", err);
	bk_writer_free(&w);
	bk_repo_unlock(r);
	bk_buf_free(&text);
}

/* A tree whose symlink would carry a later entry out of the target. */
START_TEST(hostile_tree_cannot_escape)
{
	struct bk_repo *r = bkf_repo(repo, NULL, 0);
	struct bk_restore_opts o = { .target = out };
	char outside[PATH_MAX], link[PATH_MAX + 128], victim[PATH_MAX], err[512] = "";
	const char *lines[3];

	bkf_join(outside, sizeof(outside), tmp, "outside");
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	snprintf(link, sizeof(link),
		 "{\"path\":\"a\",\"type\":\"symlink\",\"mode\":511,\"uid\":0,\"gid\":0,"
		 "\"mtime_ns\":0,\"target\":\"%s\"}", outside);
	lines[0] = "{\"path\":\".\",\"type\":\"dir\",\"mode\":448,\"uid\":0,\"gid\":0,"
		   "\"mtime_ns\":0}";
	lines[1] = link;
	lines[2] = "{\"path\":\"a/x\",\"type\":\"file\",\"mode\":420,\"uid\":0,\"gid\":0,"
		   "\"mtime_ns\":0,\"size\":0,\"inode\":1,\"chunks\":[]}";
	write_hostile_snapshot(r, lines, 3);
	ck_assert_int_eq(bk_restore(r, &o, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a directory"));
	bkf_join(victim, sizeof(victim), outside, "x");
	ck_assert_int_eq(access(victim, F_OK), -1);
	ck_assert_int_eq(bkf_count_files(outside), 0);
	bk_repo_close(r);
}
END_TEST

START_TEST(full_disk_fails_cleanly)
{
	struct bk_repo *r = bkf_repo(repo, key, 1 << 20);
	struct rlimit lim, small;
	struct bk_verify_stats vs;
	struct bkf_msgs m = { .n = 0 };
	char path[PATH_MAX], err[512] = "";

	bkf_join(path, sizeof(path), src, "big");
	bkf_random_file(path, 8u << 20, 9);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 600 << 10; /* every pack write now fails with EFBIG */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	ck_assert_int_eq(try_backup(r, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	printf("full disk: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "File too large"));
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	bkf_join(path, sizeof(path), repo, "lock");
	ck_assert_int_eq(access(path, F_OK), -1);
	/* the same handle goes on: nothing it kept in memory points at lost packs */
	backup(r, NULL);
	ck_assert_int_eq(verify(r, true, &vs, &m), 0);
	restore_and_compare(r);
	bk_repo_close(r);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_safety");
	TCase *t = tcase_create("safety");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 180);
	tcase_add_loop_test(t, tampered_pack_is_named, 0, 2);
	tcase_add_test(t, keys_are_checked);
	tcase_add_test(t, one_writer_at_a_time);
	tcase_add_test(t, stale_locks_are_taken_over);
	tcase_add_test(t, junk_in_tmp_is_cleaned);
	tcase_add_test(t, killed_backup_leaves_a_valid_repository);
	tcase_add_test(t, unindexed_packs_are_reused);
	tcase_add_test(t, hostile_tree_cannot_escape);
	tcase_add_test(t, full_disk_fails_cleanly);
	suite_add_tcase(s, t);
	return s;
}

