/*
 * tests/unit/test_fsutil.c — atomic write, read, durable remove, mkdir -p.
 *
 * The failure cases matter most: a write that fails half-way must leave
 * the old file byte for byte and no temp file behind.  Running as root
 * bypasses directory permissions, so the read-only case drops to an
 * unprivileged uid (check forks each test, so this stays contained).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "common/fsutil.h"
#include "tests/unit/unit_util.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vigil-fsutil-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	chmod(tmpdir, 0700);
	unit_rm_tree(tmpdir);
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Assert that PATH holds exactly EXPECT. */
static void assert_content(const char *path, const char *expect)
{
	char err[256] = "", *data = NULL;
	size_t len = 0;

	ck_assert_int_eq(fs_read_all(path, 1 << 20, &data, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, strlen(expect));
	ck_assert_mem_eq(data, expect, len);
	free(data);
}

START_TEST(write_creates_and_replaces)
{
	char path[512], err[256] = "";
	struct stat st;
	const char *big = "a much longer first version of the file\nline two\n";

	path_in(path, sizeof(path), "upstream.conf");
	ck_assert_int_eq(fs_write_atomic(path, big, strlen(big), 0640, err, sizeof(err)), 0);
	assert_content(path, big);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);

	/* Shorter content must not leave a tail of the old one. */
	ck_assert_int_eq(fs_write_atomic(path, "short\n", 6, 0644, err, sizeof(err)), 0);
	assert_content(path, "short\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(count_entries(tmpdir), 1);

	/* Empty content is a valid file. */
	ck_assert_int_eq(fs_write_atomic(path, "", 0, 0600, err, sizeof(err)), 0);
	assert_content(path, "");
}
END_TEST

START_TEST(write_missing_dir_fails)
{
	char path[512], err[256] = "";

	path_in(path, sizeof(path), "nope/upstream.conf");
	ck_assert_int_eq(fs_write_atomic(path, "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	ck_assert_int_eq(count_entries(tmpdir), 0);
}
END_TEST

/* In a child (so the test process keeps its uid): 0 when the write is refused cleanly. */
static int write_as_nobody(const char *dir, const char *path)
{
	char err[256] = "";

	if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
		return 10;
	if (fs_write_atomic(path, "new", 3, 0644, err, sizeof(err)) != -1)
		return 11;
	if (!strstr(err, "Permission denied") || !strstr(err, path))
		return 12;
	return count_entries(dir) == 1 ? 0 : 13;
}

START_TEST(write_readonly_dir_keeps_old)
{
	char dir[512], path[512], err[256] = "";
	const char *old = "old content\n\0with a NUL";
	char *data = NULL;
	size_t len = 0;
	pid_t pid;
	int status;

	path_in(dir, sizeof(dir), "ro");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	path_in(path, sizeof(path), "ro/f");
	ck_assert_int_eq(fs_write_atomic(path, old, 24, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(write_as_nobody(dir, path));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	ck_assert_int_eq(fs_read_all(path, 4096, &data, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 24);
	ck_assert_mem_eq(data, old, 24);
	free(data);
	ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

START_TEST(write_failure_midway_removes_temp)
{
	char path[512], err[256] = "";
	struct rlimit rl = { .rlim_cur = 16, .rlim_max = RLIM_INFINITY };
	char big[4096];

	path_in(path, sizeof(path), "f");
	ck_assert_int_eq(fs_write_atomic(path, "previous\n", 9, 0644, err, sizeof(err)), 0);
	/* A file-size limit makes write(2) fail after the temp file exists. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(fs_write_atomic(path, big, sizeof(big), 0644, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "write ", 6) == 0, "err: %s", err);
	rl.rlim_cur = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_ptr_nonnull(strstr(err, "File too large"));
	assert_content(path, "previous\n");
	ck_assert_int_eq(count_entries(tmpdir), 1);
}
END_TEST

START_TEST(read_missing_and_limits)
{
	char path[512], err[256] = "", *data = (char *)"sentinel";
	size_t len = 7;

	path_in(path, sizeof(path), "absent");
	ck_assert_int_eq(fs_read_all(path, 100, &data, &len, err, sizeof(err)), 1);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);

	path_in(path, sizeof(path), "ten");
	ck_assert_int_eq(fs_write_atomic(path, "0123456789", 10, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(fs_read_all(path, 10, &data, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(data, "0123456789");
	free(data);
	ck_assert_int_eq(fs_read_all(path, 9, &data, &len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	ck_assert_ptr_null(data);

	/* A directory is an error, not "missing". */
	ck_assert_int_eq(fs_read_all(tmpdir, 100, &data, &len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, tmpdir));
}
END_TEST

START_TEST(read_large_file)
{
	char path[512], err[256] = "", *data = NULL;
	size_t len = 0, n = 100000;
	char *buf = malloc(n);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + i % 26);
	path_in(path, sizeof(path), "big");
	ck_assert_int_eq(fs_write_atomic(path, buf, n, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(fs_read_all(path, n, &data, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(data, buf, n);
	ck_assert_int_eq(data[n], '\0');
	free(data);
	free(buf);
}
END_TEST

START_TEST(remove_durable)
{
	char path[512], err[256] = "";

	path_in(path, sizeof(path), "gone");
	ck_assert_int_eq(fs_write_atomic(path, "x", 1, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(fs_remove_durable(path, err, sizeof(err)), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(fs_remove_durable(path, err, sizeof(err)), 0);
	/* A non-empty directory cannot be unlinked. */
	ck_assert_int_eq(fs_remove_durable(tmpdir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "remove "));
}
END_TEST

START_TEST(mkdir_p)
{
	char path[512], file[512], err[256] = "";
	struct stat st;
	mode_t um = umask(022);

	umask(um);

	path_in(path, sizeof(path), "a/b//c/");
	ck_assert_int_eq(fs_mkdir_p(path, 0750, err, sizeof(err)), 0);
	path_in(path, sizeof(path), "a/b/c");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0750 & ~um);
	/* Existing directories are fine. */
	ck_assert_int_eq(fs_mkdir_p(path, 0750, err, sizeof(err)), 0);

	path_in(file, sizeof(file), "a/file");
	ck_assert_int_eq(fs_write_atomic(file, "x", 1, 0644, err, sizeof(err)), 0);
	path_in(path, sizeof(path), "a/file/sub");
	ck_assert_int_eq(fs_mkdir_p(path, 0750, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_creates_and_replaces);
	tcase_add_test(tc, write_missing_dir_fails);
	tcase_add_test(tc, write_readonly_dir_keeps_old);
	tcase_add_test(tc, write_failure_midway_removes_temp);
	tcase_add_test(tc, read_missing_and_limits);
	tcase_add_test(tc, read_large_file);
	tcase_add_test(tc, remove_durable);
	tcase_add_test(tc, mkdir_p);
	suite_add_tcase(s, tc);
	return s;
}

