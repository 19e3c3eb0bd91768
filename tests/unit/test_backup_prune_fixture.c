/*
 * tests/unit/test_backup_prune_fixture.c — see test_backup_prune_fixture.h.
 *
 * Each version rewrites two of eight files, drops the previous version's
 * own file and adds one of its own, so forgetting a version leaves some
 * chunks unused everywhere and some packs only partly used: the mix a
 * prune has to sort out.
 */
#include "tests/unit/test_backup_prune_fixture.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/backup_fixture.h"
#include "tests/unit/unit_util.h"

void pf_setup(struct pf *f, const char *tag)
{
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	bkf_tmpdir(f->tmp, sizeof(f->tmp), tag);
	bkf_join(f->src, sizeof(f->src), f->tmp, "src");
	bkf_join(f->repo, sizeof(f->repo), f->tmp, "repo");
	bkf_join(f->out, sizeof(f->out), f->tmp, "out");
	bkf_join(f->key, sizeof(f->key), f->tmp, "key");
	ck_assert_int_eq(mkdir(f->src, 0700), 0);
	ck_assert_msg(bk_key_generate(f->key, err, sizeof(err)) == 0, "%s", err);
}

void pf_teardown(struct pf *f)
{
	unit_rm_tree(f->tmp);
}

void pf_copy(const char *from, const char *to)
{
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

static void file_at(const struct pf *f, const char *fmt, int n, size_t size, uint64_t seed)
{
	char name[64], path[PATH_MAX];

	snprintf(name, sizeof(name), fmt, n);
	bkf_join(path, sizeof(path), f->src, name);
	if (size == 0) {
		ck_assert_int_eq(unlink(path), 0);
		return;
	}
	bkf_random_file(path, size, seed);
}

void pf_next_version(struct pf *f)
{
	int v = f->nver;
	char name[32];

	ck_assert_int_lt(v, PF_MAX_VERSIONS);
	if (v == 0) {
		for (int i = 0; i < 8; i++)
			file_at(f, "f%d", i, 20000 + (size_t)i * 13000, 100 + (uint64_t)i);
	} else {
		file_at(f, "f%d", v % 8, 30000 + (size_t)v * 7000, 1000 + (uint64_t)v);
		file_at(f, "f%d", (v + 3) % 8, 25000 + (size_t)v * 5000, 2000 + (uint64_t)v);
		file_at(f, "own%d", v - 1, 0, 0);
	}
	file_at(f, "own%d", v, 45000 + (size_t)v * 3000, 3000 + (uint64_t)v);
	bkf_set_mtimes(f->src, 1600000000000000000LL + (int64_t)v * 1000000000000LL);
	snprintf(name, sizeof(name), "v%d", v);
	bkf_join(f->ver[v], sizeof(f->ver[v]), f->tmp, name);
	pf_copy(f->src, f->ver[v]);
	f->nver++;
}

int pf_try_backup(struct bk_repo *r, const struct pf *f, const char *job, char *id, char *err,
		  size_t errlen)
{
	struct bk_backup_opts o = { .source = f->src, .job = job };

	return bk_backup_dir(r, &o, NULL, id, err, errlen);
}

void pf_backup(struct bk_repo *r, struct pf *f, const char *job)
{
	char err[512] = "";

	ck_assert_int_gt(f->nver, 0);
	ck_assert_msg(pf_try_backup(r, f, job, f->id[f->nver - 1], err, sizeof(err)) == 0,
		      "backup: %s", err);
}

struct bk_repo *pf_repo_with_versions(struct pf *f, bool encrypted, int n)
{
	struct bk_repo *r = bkf_repo(f->repo, encrypted ? f->key : NULL, 64u << 10);

	for (int i = 0; i < n; i++) {
		pf_next_version(f);
		pf_backup(r, f, "db");
	}
	return r;
}

void pf_assert_restores(struct bk_repo *r, struct pf *f, int v)
{
	struct bk_restore_opts o = { .snapshot = f->id[v], .target = f->out };
	char err[512] = "";

	unit_rm_tree(f->out);
	ck_assert_msg(bk_restore(r, &o, NULL, err, sizeof(err)) == 0, "restore v%d: %s", v, err);
	bkf_assert_same_tree(f->ver[v], f->out);
}

void pf_assert_verifies(struct bk_repo *r, struct bk_verify_stats *vs)
{
	struct bkf_msgs m = { .n = 0 };
	struct bk_verify_opts o = { .read_data = true, .problem = bkf_collect, .arg = &m };
	struct bk_verify_stats local;
	char err[512] = "";
	int rc = bk_verify(r, &o, vs ? vs : &local, err, sizeof(err));

	ck_assert_msg(rc == 0, "verify: %d: %s %s", rc, err, m.text);
}

size_t pf_count_snapshots(struct bk_repo *r)
{
	struct bk_snapshot_info *list = NULL;
	size_t n = 0;
	char err[512] = "";

	ck_assert_msg(bk_snapshots_list(r, &list, &n, err, sizeof(err)) == 0, "%s", err);
	bk_snapshots_free(list, n);
	return n;
}

uint64_t pf_data_bytes(const struct pf *f)
{
	char data[PATH_MAX];

	bkf_join(data, sizeof(data), f->repo, "data");
	return bkf_du(data);
}

bool pf_kill_and_reap(pid_t pid, long delay_us)
{
	struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
	int status;

	if (delay_us >= 0) {
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	/* Reaped before anyone judges its locks: a zombie's pid still looks alive. */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	else
		ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	return WIFSIGNALED(status);
}
