/*
 * tests/unit/backup_fixture.c — see backup_fixture.h.
 *
 * The comparison walks the expected tree with lstat and insists on the
 * same set of names on the other side, so a stray temp file left by a
 * restore fails it as surely as a wrong byte.
 */
#include "tests/unit/backup_fixture.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void bkf_tmpdir(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/vigil-bk-%s-XXXXXX", tag);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

void bkf_join(char *buf, size_t len, const char *a, const char *b)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", a, b), (int)len);
}

void bkf_fill(uint8_t *p, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		/* xorshift64*: cheap, and plenty for incompressible test data */
		*seed ^= *seed >> 12;
		*seed ^= *seed << 25;
		*seed ^= *seed >> 27;
		p[i] = (uint8_t)((*seed * 0x2545F4914F6CDD1DULL) >> 56);
	}
}

void bkf_write(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

void bkf_random_file(const char *path, size_t size, uint64_t seed)
{
	uint8_t *p = malloc(size ? size : 1);

	ck_assert_ptr_nonnull(p);
	seed = seed * 2 + 1; /* xorshift needs a non-zero state; keep seeds distinct */
	bkf_fill(p, size, &seed);
	bkf_write(path, p, size, 0644);
	free(p);
}

static void make_sparse(const char *path)
{
	uint8_t block[4096];
	uint64_t seed = 99;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	bkf_fill(block, sizeof(block), &seed);
	ck_assert_int_eq(ftruncate(fd, 16 << 20), 0);
	ck_assert_int_eq(pwrite(fd, block, sizeof(block), 1 << 20), (ssize_t)sizeof(block));
	ck_assert_int_eq(pwrite(fd, block, sizeof(block), 9 << 20), (ssize_t)sizeof(block));
	close(fd);
}

/* Text that compresses: the large file is half random, half this. */
static void make_large(const char *path)
{
	size_t size = 6u << 20, half = size / 2;
	uint8_t *p = malloc(size);
	uint64_t seed = 7;

	ck_assert_ptr_nonnull(p);
	bkf_fill(p, half, &seed);
	for (size_t i = half; i < size; i++)
		p[i] = (uint8_t)("vigil keeps the primary honest\n"[i % 31]);
	bkf_write(path, p, size, 0640);
	free(p);
}

void bkf_make_tree(const char *root)
{
	char p[PATH_MAX];
	static const char *const dirs[] = { "dir", "dir/sub", "dir/sub/deep", "private",
					    "ro-dir", "setgid-dir", "empty-dir" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		bkf_join(p, sizeof(p), root, dirs[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
	}
	bkf_join(p, sizeof(p), root, "small.txt");
	bkf_write(p, "hello\n", 6, 0644);
	bkf_join(p, sizeof(p), root, "empty");
	bkf_write(p, "", 0, 0600);
	bkf_join(p, sizeof(p), root, "exec.sh");
	bkf_write(p, "#!/bin/sh\necho hi\n", 18, 0755);
	bkf_join(p, sizeof(p), root, "large.bin");
	make_large(p);
	bkf_join(p, sizeof(p), root, "sparse.img");
	make_sparse(p);
	bkf_join(p, sizeof(p), root, "dir/sub/deep/file.txt");
	bkf_write(p, "deep\n", 5, 0444);
	bkf_join(p, sizeof(p), root, "private/secret");
	bkf_write(p, "s3cret\n", 7, 0400);
	bkf_join(p, sizeof(p), root, "ro-dir/inside");
	bkf_write(p, "in a read-only dir\n", 19, 0644);
	bkf_join(p, sizeof(p), root, "name with spaces & \xc3\xbcnic\xc3\xb6" "de.txt");
	bkf_write(p, "utf-8\n", 6, 0644);
	bkf_join(p, sizeof(p), root, "bad-\xff\xfe-name");
	bkf_write(p, "not utf-8\n", 10, 0644);
	bkf_join(p, sizeof(p), root, "owned.txt");
	bkf_write(p, "owned\n", 6, 0644);
	if (geteuid() == 0)
		ck_assert_int_eq(lchown(p, 1234, 5678), 0);
	bkf_join(p, sizeof(p), root, "dir/link-rel");
	ck_assert_int_eq(symlink("../small.txt", p), 0);
	bkf_join(p, sizeof(p), root, "link-abs");
	ck_assert_int_eq(symlink("/etc/hostname", p), 0);
	bkf_join(p, sizeof(p), root, "dangling");
	ck_assert_int_eq(symlink("nowhere/at/all", p), 0);
	bkf_join(p, sizeof(p), root, "private");
	ck_assert_int_eq(chmod(p, 0700), 0);
	bkf_join(p, sizeof(p), root, "setgid-dir");
	ck_assert_int_eq(chmod(p, 02775), 0);
	bkf_set_mtimes(root, 1600000000LL * 1000000000 + 123456789);
	bkf_join(p, sizeof(p), root, "ro-dir");
	ck_assert_int_eq(chmod(p, 0555), 0);
}

static int64_t mtime_base, mtime_step;

static int set_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct timespec ts[2];
	int64_t ns = mtime_base + mtime_step++ * 1000001117LL;

	(void)st;
	(void)flag;
	(void)ftw;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(ns / 1000000000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(ns % 1000000000);
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

void bkf_set_mtimes(const char *root, int64_t base_ns)
{
	mtime_base = base_ns;
	mtime_step = 0;
	ck_assert_int_eq(nftw(root, set_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void same_content(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
	static uint8_t ba[1 << 16], bb[1 << 16];
	ssize_t na, nb;

	ck_assert_int_ge(fa, 0);
	ck_assert_msg(fb >= 0, "open %s: %s", b, strerror(errno));
	do {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		ck_assert_msg(na == nb && (na <= 0 || memcmp(ba, bb, (size_t)na) == 0),
			      "%s differs from %s", b, a);
	} while (na > 0);
	close(fa);
	close(fb);
}

static void same_entry(const char *a, const char *b)
{
	struct stat sa, sb;
	char ta[PATH_MAX], tb[PATH_MAX];
	ssize_t la, lb;

	ck_assert_int_eq(lstat(a, &sa), 0);
	ck_assert_msg(lstat(b, &sb) == 0, "%s is missing", b);
	ck_assert_msg((sa.st_mode & S_IFMT) == (sb.st_mode & S_IFMT), "%s: type differs", b);
	ck_assert_msg((sa.st_mode & 07777) == (sb.st_mode & 07777) || S_ISLNK(sa.st_mode),
		      "%s: mode %o, want %o", b, sb.st_mode & 07777, sa.st_mode & 07777);
	ck_assert_msg(sa.st_uid == sb.st_uid && sa.st_gid == sb.st_gid, "%s: owner differs", b);
	ck_assert_msg(sa.st_mtim.tv_sec == sb.st_mtim.tv_sec &&
			      sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec,
		      "%s: mtime %ld.%09ld, want %ld.%09ld", b, (long)sb.st_mtim.tv_sec,
		      sb.st_mtim.tv_nsec, (long)sa.st_mtim.tv_sec, sa.st_mtim.tv_nsec);
	if (S_ISREG(sa.st_mode)) {
		ck_assert_msg(sa.st_size == sb.st_size, "%s: size differs", b);
		same_content(a, b);
	}
	if (S_ISLNK(sa.st_mode)) {
		la = readlink(a, ta, sizeof(ta) - 1);
		lb = readlink(b, tb, sizeof(tb) - 1);
		ck_assert_msg(la == lb && la > 0 && memcmp(ta, tb, (size_t)la) == 0,
			      "%s: symlink target differs", b);
	}
}

static int count_names(const char *dir)
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

void bkf_assert_same_tree(const char *want, const char *got)
{
	DIR *d = opendir(want);
	struct dirent *e;
	char a[PATH_MAX], b[PATH_MAX];
	struct stat st;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		bkf_join(a, sizeof(a), want, e->d_name);
		bkf_join(b, sizeof(b), got, e->d_name);
		ck_assert_int_eq(lstat(a, &st), 0);
		if (S_ISDIR(st.st_mode))
			bkf_assert_same_tree(a, b);
		else
			same_entry(a, b);
	}
	closedir(d);
	ck_assert_msg(count_names(want) == count_names(got), "%s: %d names, want %d", got,
		      count_names(got), count_names(want));
	same_entry(want, got);
}

static uint64_t du_total;
static int du_files;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		du_total += (uint64_t)st->st_size;
		du_files++;
	}
	return 0;
}

uint64_t bkf_du(const char *dir)
{
	du_total = 0;
	du_files = 0;
	ck_assert_int_eq(nftw(dir, du_one, 16, FTW_PHYS), 0);
	return du_total;
}

int bkf_count_files(const char *dir)
{
	bkf_du(dir);
	return du_files;
}

struct bk_repo *bkf_repo(const char *path, const char *key, uint32_t pack_size)
{
	struct bk_repo_params p;
	struct bk_repo *r;
	char err[512] = "";

	bk_repo_params_default(&p);
	p.key_file = key;
	if (pack_size)
		p.pack_size = pack_size;
	ck_assert_msg(bk_repo_init(path, &p, err, sizeof(err)) == 0, "%s", err);
	r = bk_repo_open(path, key, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

void bkf_collect(void *arg, const char *msg)
{
	struct bkf_msgs *m = arg;
	size_t used = strlen(m->text);

	snprintf(m->text + used, sizeof(m->text) - used, "%s\n", msg);
	m->n++;
}
