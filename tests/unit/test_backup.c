/*
 * tests/unit/test_backup.c — backups that come back: a tree with every
 * kind of entry restored byte for byte with its metadata (encrypted and
 * not), sparse files restored sparse, an incremental that reads only what
 * changed and stores little, every snapshot restoring on its own, a full
 * backup rereading everything but storing nothing new, and the figure the
 * chunk sizes were chosen for: scattered 8 KiB page rewrites in a 32 MiB
 * file.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/backup.h"
#include "actions/backup/readahead.h"
#include "actions/backup/repo.h"
#include "actions/backup/writer.h"
#include "common/fsutil.h"
#include "tests/unit/backup_fixture.h"
#include "tests/unit/unit_util.h"

static char tmp[256], src[512], repo[512], out[512], key[512];

static void setup(void)
{
	char err[256] = "";

	bkf_tmpdir(tmp, sizeof(tmp), "bk");
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

static void backup(struct bk_repo *r, bool full, struct bk_backup_stats *st, char id[BK_ID_HEX])
{
	struct bk_backup_opts o = { .source = src, .job = "test", .full = full };
	char err[512] = "";

	ck_assert_msg(bk_backup_dir(r, &o, st, id, err, sizeof(err)) == 0, "backup: %s", err);
}

static void restore(struct bk_repo *r, const char *snap, const char *target)
{
	struct bk_restore_opts o = { .snapshot = snap, .target = target };
	char err[512] = "";

	ck_assert_msg(bk_restore(r, &o, NULL, err, sizeof(err)) == 0, "restore: %s", err);
}

START_TEST(round_trip_every_kind)
{
	bool encrypted = _i == 1;
	struct bk_repo *r = bkf_repo(repo, encrypted ? key : NULL, 0);
	struct bk_backup_stats st;
	struct bk_verify_opts vo = { .read_data = true };
	struct bk_verify_stats vs;
	char id[BK_ID_HEX], err[256] = "";

	bkf_make_tree(src);
	backup(r, false, &st, id);
	ck_assert_uint_eq(st.files, 11);
	ck_assert_uint_eq(st.symlinks, 3);
	ck_assert_uint_eq(st.dirs, 8);
	ck_assert_uint_eq(st.bytes_read, st.bytes_total);
	ck_assert(bk_repo_encrypted(r) == encrypted);
	restore(r, NULL, out);
	bkf_assert_same_tree(src, out);
	ck_assert_int_eq(bk_verify(r, &vo, &vs, err, sizeof(err)), 0);
	ck_assert_uint_eq(vs.chunks_read, vs.chunks);
	ck_assert_uint_eq(vs.snapshots, 1);
	bk_repo_close(r);
}
END_TEST

START_TEST(sparse_comes_back_sparse)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	char path[PATH_MAX], id[BK_ID_HEX];
	struct stat st;

	bkf_make_tree(src);
	backup(r, false, NULL, id);
	restore(r, id, out);
	bkf_join(path, sizeof(path), out, "sparse.img");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 16 << 20);
	/* Two 4 KiB blocks of data; the holes must not have been written out. */
	ck_assert_msg((uint64_t)st.st_blocks * 512 < (1u << 20), "sparse.img uses %lld bytes",
		      (long long)st.st_blocks * 512);
	bk_repo_close(r);
}
END_TEST

/* Append to one small file, keeping the rest as they are. */
static void change_one_file(void)
{
	char path[PATH_MAX];
	int fd;

	bkf_join(path, sizeof(path), src, "dir/sub/deep/file.txt");
	ck_assert_int_eq(chmod(path, 0644), 0);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "more\n", 5), 5);
	close(fd);
}

START_TEST(incremental_reads_and_stores_only_changes)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	struct bk_backup_stats s1, s2;
	char id1[BK_ID_HEX], id2[BK_ID_HEX], copy[PATH_MAX], cmd[PATH_MAX * 2 + 16];
	char out2[PATH_MAX];
	uint64_t before, growth;

	bkf_make_tree(src);
	backup(r, false, &s1, id1);
	bkf_join(copy, sizeof(copy), tmp, "copy1");
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", src, copy);
	ck_assert_int_eq(system(cmd), 0);
	before = bkf_du(repo);
	change_one_file();
	backup(r, false, &s2, id2);
	growth = bkf_du(repo) - before;
	printf("incremental after one 10-byte file changed: read %llu of %llu bytes, "
	       "%llu new chunks, repository grew %llu bytes\n",
	       (unsigned long long)s2.bytes_read, (unsigned long long)s2.bytes_total,
	       (unsigned long long)s2.chunks_new, (unsigned long long)growth);
	ck_assert_uint_eq(s2.files_read, 1);
	ck_assert_uint_eq(s2.bytes_read, 10);
	ck_assert_uint_eq(s2.files_unchanged, s1.files - 1);
	/* one file chunk plus the tree chunk(s) that changed */
	ck_assert_uint_le(s2.chunks_new, 3);
	ck_assert_uint_lt(growth, 16 * 1024);
	/* Each snapshot restores on its own, to its own state. */
	restore(r, id1, out);
	bkf_assert_same_tree(copy, out);
	bkf_join(out2, sizeof(out2), tmp, "out2");
	restore(r, id2, out2);
	bkf_assert_same_tree(src, out2);
	bk_repo_close(r);
}
END_TEST

START_TEST(full_rereads_everything_stores_nothing_new)
{
	struct bk_repo *r = bkf_repo(repo, NULL, 0);
	struct bk_backup_stats s1, s2;
	char id[BK_ID_HEX];
	struct bk_snapshot_info *list;
	size_t n;
	char err[256] = "";

	bkf_make_tree(src);
	backup(r, false, &s1, id);
	backup(r, true, &s2, id);
	ck_assert_uint_eq(s2.bytes_read, s1.bytes_total);
	ck_assert_uint_eq(s2.files_read, s1.files);
	ck_assert_uint_eq(s2.chunks_new, 0);
	ck_assert_uint_eq(s2.packs_written, 0);
	ck_assert_int_eq(bk_snapshots_list(r, &list, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(list[0].full && list[1].full);
	ck_assert_str_eq(list[1].id, id);
	ck_assert_str_eq(list[0].job, "test");
	ck_assert_uint_eq(list[1].files, s1.files);
	ck_assert(list[0].time_ns <= list[1].time_ns);
	bk_snapshots_free(list, n);
	bk_repo_close(r);
}
END_TEST

/* Rewrite count random aligned 8 KiB pages of path with new random bytes. */
static void rewrite_pages(const char *path, size_t size, int count, uint64_t seed)
{
	uint8_t page[8192];
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < count; i++) {
		uint64_t pick;

		bkf_fill((uint8_t *)&pick, sizeof(pick), &seed);
		bkf_fill(page, sizeof(page), &seed);
		ck_assert_int_eq(pwrite(fd, page, sizeof(page),
					(off_t)(pick % (size / sizeof(page)) * sizeof(page))),
				 (ssize_t)sizeof(page));
	}
	close(fd);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The smallest and largest segment among the chunks in packs [from, to). */
struct seg_range {
	size_t from, to;
	uint32_t min, max;
};

static int seg_range(void *elem, void *arg)
{
	const struct bk_ientry *e = elem;
	struct seg_range *sr = arg;

	if (e->pack < sr->from || e->pack >= sr->to)
		return 0;
	if (sr->min == 0 || e->seg_len < sr->min)
		sr->min = e->seg_len;
	if (e->seg_len > sr->max)
		sr->max = e->seg_len;
	return 0;
}

START_TEST(scattered_page_rewrites_grow_little)
{
	/* The density of 400 pages in a 300 MiB file: one per ~768 KiB. */
	const size_t size = 32u << 20;
	const int pages = 43;
	struct bk_repo *r = bkf_repo(repo, key, 0);
	struct bk_backup_stats s1, s2;
	char path[PATH_MAX], id[BK_ID_HEX], out2[PATH_MAX];
	struct timespec t0;
	uint64_t before, growth;
	size_t npacks;
	double secs, ratio;

	bkf_join(path, sizeof(path), src, "db.img");
	bkf_random_file(path, size, 4242);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	backup(r, false, &s1, id);
	secs = seconds_since(&t0);
	before = bkf_du(repo);
	npacks = r->index.npacks;
	rewrite_pages(path, size, pages, 77);
	backup(r, false, &s2, id);
	growth = bkf_du(repo) - before;
	/* The scattered new chunks went into small segments (writer.h), the
	 * full backup's into ones of the default size. */
	for (size_t i = 0; i < 2; i++) {
		struct seg_range sr = { .from = i ? npacks : 0, .to = i ? SIZE_MAX : npacks };

		bk_tab_each(&r->index.chunks, seg_range, &sr);
		printf("segments of the %s backup: %u to %u bytes\n", i ? "second" : "first",
		       sr.min, sr.max);
		/* BK_SCATTERED_SEGMENT, plus the run of new chunks around one page. */
		if (i)
			ck_assert_uint_le(sr.max, BK_SCATTERED_SEGMENT + 3 * BK_DEFAULT_CHUNK_MAX);
		else
			ck_assert_uint_ge(sr.max, BK_DEFAULT_SEGMENT_SIZE);
	}
	ratio = (double)growth / (pages * 8192.0);
	printf("scattered pages: %d x 8 KiB rewritten in a 32 MiB file: repository grew %llu bytes "
	       "= %.2f x the changed bytes (%llu new chunks); full backup %.0f MB/s\n",
	       pages, (unsigned long long)growth, ratio, (unsigned long long)s2.chunks_new,
	       (double)size / secs / 1e6);
	ck_assert_msg(ratio < 20.0, "grew %.2f x the changed bytes", ratio);
	ck_assert_uint_eq(s2.bytes_read, size);
	bkf_join(out2, sizeof(out2), tmp, "out2");
	restore(r, id, out2);
	bkf_assert_same_tree(src, out2);
	bk_repo_close(r);
}
END_TEST

/*
 * A restore that stops early (a file in the way of a directory) stops its
 * read-ahead thread while that thread waits for room: the call returns,
 * names the path, and leaks nothing (ASan) and leaves no temporary file.
 */
START_TEST(restore_stops_cleanly_midway)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	struct bk_restore_opts o = { .target = out };
	char path[PATH_MAX], name[64], id[BK_ID_HEX], err[512] = "";

	/* Enough small files before "zz" that the read-ahead fills its ring. */
	for (int i = 0; i < 3 * BK_READAHEAD_ITEMS; i++) {
		snprintf(name, sizeof(name), "a%04d.txt", i);
		bkf_join(path, sizeof(path), src, name);
		bkf_write(path, name, strlen(name), 0644);
	}
	bkf_join(path, sizeof(path), src, "zz");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	bkf_join(path, sizeof(path), src, "zz/last.txt");
	bkf_write(path, "last\n", 5, 0644);
	backup(r, false, NULL, id);
	ck_assert_int_eq(mkdir(out, 0700), 0);
	bkf_join(path, sizeof(path), out, "a0000.txt");
	ck_assert_int_eq(mkdir(path, 0700), 0); /* the first file's name is taken by a directory */
	bkf_join(path, sizeof(path), out, "zz");
	bkf_write(path, "in the way", 10, 0644);
	ck_assert_int_eq(bk_restore(r, &o, NULL, err, sizeof(err)), -1);
	printf("restore stopped: %s\n", err);
	ck_assert_ptr_nonnull(strstr(err, "restore a0000.txt: rename"));
	ck_assert_int_eq(bkf_count_files(out), 1); /* only "zz": no temp file left */
	bk_repo_close(r);
}
END_TEST

/*
 * delete_extra: what the target held that the snapshot does not is
 * removed, files, directories and symlinks alike, inside kept directories
 * too; a symlink is removed, never followed, so what it points at outside
 * the target survives.  Without it, the extras stay.
 */
START_TEST(restore_delete_extra)
{
	struct bk_repo *r = bkf_repo(repo, key, 0);
	struct bk_restore_opts o = { .target = out };
	struct bk_restore_stats st;
	char path[PATH_MAX], outside[PATH_MAX], id[BK_ID_HEX], err[512] = "";
	const char *extras[] = { "extra.txt", "extra-dir/nested/f", "dir/extra-in-kept-dir" };

	bkf_make_tree(src);
	backup(r, false, NULL, id);
	bkf_join(outside, sizeof(outside), tmp, "outside");
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	bkf_join(path, sizeof(path), outside, "precious");
	bkf_write(path, "keep", 4, 0600);
	restore(r, id, out);
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		char dir[PATH_MAX];

		bkf_join(path, sizeof(path), out, extras[i]);
		snprintf(dir, sizeof(dir), "%s", path);
		*strrchr(dir, '/') = '\0';
		ck_assert_msg(fs_mkdir_p(dir, 0700, err, sizeof(err)) == 0, "%s", err);
		bkf_write(path, "x", 1, 0600);
	}
	bkf_join(path, sizeof(path), out, "link-out");
	ck_assert_int_eq(symlink(outside, path), 0);
	bkf_join(path, sizeof(path), out, "extra-dir/link-in");
	ck_assert_int_eq(symlink(outside, path), 0);
	/* Without delete_extra a second restore leaves them. */
	ck_assert_msg(bk_restore(r, &o, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(st.removed, 0);
	bkf_join(path, sizeof(path), out, "extra.txt");
	ck_assert_int_eq(access(path, F_OK), 0);
	o.delete_extra = true;
	ck_assert_msg(bk_restore(r, &o, &st, err, sizeof(err)) == 0, "%s", err);
	/* 3 files, 2 symlinks, extra-dir and extra-dir/nested. */
	ck_assert_uint_eq(st.removed, 7);
	bkf_assert_same_tree(src, out);
	bkf_join(path, sizeof(path), outside, "precious");
	ck_assert_int_eq(access(path, F_OK), 0);
	bk_repo_close(r);
}
END_TEST

static int seg_stats(void *elem, void *arg)
{
	const struct bk_ientry *e = elem;
	unsigned *shared = arg; /* [0]: chunks sharing a segment, [1]: v1-shaped ones */

	if (e->chunk_off > 0 || e->seg_len != e->raw_len)
		shared[0]++;
	else
		shared[1]++;
	return 0;
}

/* An init'd repository of format version, opened. */
static struct bk_repo *repo_of_version(const char *path, unsigned version)
{
	struct bk_repo_params p;
	struct bk_repo *r;
	char err[512] = "";

	bk_repo_params_default(&p);
	p.key_file = key;
	p.format = version;
	ck_assert_msg(bk_repo_init(path, &p, err, sizeof(err)) == 0, "%s", err);
	r = bk_repo_open(path, key, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

/*
 * A version 1 repository (one chunk per blob) made by an older vigil
 * stays version 1: backed up into, restored, verified and pruned, and
 * everything it holds still has the version 1 shape when read back.
 * The same tree in version 2 shares segments.
 */
START_TEST(version_1_repository_still_works)
{
	struct bk_repo *r = repo_of_version(repo, 1);
	struct bk_verify_opts vo = { .read_data = true };
	struct bk_keep_policy kp = { .keep_last = 1 };
	struct bk_forget_stats fs;
	struct bk_prune_opts po;
	struct bk_prune_stats ps;
	struct bk_verify_stats vs;
	unsigned shape[2] = { 0, 0 };
	char id[BK_ID_HEX], v2[PATH_MAX], path[PATH_MAX], err[512] = "";

	ck_assert_uint_eq(r->version, 1);
	bkf_make_tree(src);
	backup(r, false, NULL, id);
	change_one_file();
	backup(r, false, NULL, id);
	ck_assert_msg(bk_forget(r, NULL, &kp, false, NULL, NULL, &fs, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(fs.removed, 1);
	bk_prune_opts_default(&po);
	po.repack_threshold = 100;
	ck_assert_msg(bk_prune(r, &po, &ps, err, sizeof(err)) == 0, "prune: %s", err);
	ck_assert_uint_gt(ps.index_written, 0);
	bk_repo_close(r);
	r = bk_repo_open(repo, key, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(r->version, 1);
	ck_assert_uint_eq(r->index.damaged, 0);
	bk_tab_each(&r->index.chunks, seg_stats, shape);
	ck_assert_uint_eq(shape[0], 0);
	ck_assert_uint_gt(shape[1], 10);
	restore(r, id, out);
	bkf_assert_same_tree(src, out);
	ck_assert_msg(bk_verify(r, &vo, &vs, err, sizeof(err)) == 0, "verify: %s", err);
	ck_assert_uint_eq(vs.problems, 0);

	/* Upgraded: new chunks share segments, the old ones keep reading. */
	ck_assert_msg(bk_repo_upgrade(r, BK_DEFAULT_SEGMENT_SIZE, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(bk_repo_upgrade(r, BK_DEFAULT_SEGMENT_SIZE, err, sizeof(err)), 1);
	ck_assert_uint_eq(r->version, 2);
	unit_rm_tree(src);
	ck_assert_int_eq(mkdir(src, 0700), 0);
	bkf_make_tree(src);
	bkf_join(path, sizeof(path), src, "after-upgrade.bin");
	bkf_random_file(path, 1u << 20, 99); /* about 60 new chunks */
	backup(r, true, NULL, id);
	bk_repo_close(r);
	r = bk_repo_open(repo, key, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	shape[0] = shape[1] = 0;
	bk_tab_each(&r->index.chunks, seg_stats, shape);
	ck_assert_uint_gt(shape[0], 0);
	ck_assert_uint_gt(shape[1], 10);
	unit_rm_tree(out);
	restore(r, id, out);
	bkf_assert_same_tree(src, out);
	ck_assert_msg(bk_verify(r, &vo, &vs, err, sizeof(err)) == 0, "verify: %s", err);
	bk_repo_close(r);

	bkf_join(v2, sizeof(v2), tmp, "repo2");
	r = repo_of_version(v2, 2);
	backup(r, false, NULL, id);
	shape[0] = shape[1] = 0;
	bk_tab_each(&r->index.chunks, seg_stats, shape);
	ck_assert_uint_gt(shape[0], 10);
	bk_repo_close(r);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup");
	TCase *t = tcase_create("round trip");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, round_trip_every_kind, 0, 2);
	tcase_add_test(t, sparse_comes_back_sparse);
	tcase_add_test(t, incremental_reads_and_stores_only_changes);
	tcase_add_test(t, full_rereads_everything_stores_nothing_new);
	tcase_add_test(t, scattered_page_rewrites_grow_little);
	tcase_add_test(t, version_1_repository_still_works);
	tcase_add_test(t, restore_stops_cleanly_midway);
	tcase_add_test(t, restore_delete_extra);
	suite_add_tcase(s, t);
	return s;
}

