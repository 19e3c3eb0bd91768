/*
 * tests/unit/test_backup_prune_fixture.h — what the prune tests share: a
 * source tree that changes from version to version (a copy of each
 * version kept to compare restores against), a repository of several
 * versions, and checks that it verifies and restores byte for byte.
 */
#ifndef VIGIL_TESTS_BACKUP_PRUNE_FIXTURE_H
#define VIGIL_TESTS_BACKUP_PRUNE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/backup/backup.h"

#define PF_MAX_VERSIONS 12

struct pf {
	char tmp[256], src[512], repo[512], out[512], key[512];
	char ver[PF_MAX_VERSIONS][512]; /* a copy of the source at each version */
	char id[PF_MAX_VERSIONS][BK_ID_HEX];
	int nver;
};

/* Temp dir, paths and a key; no repository yet. */
void pf_setup(struct pf *f, const char *tag);
void pf_teardown(struct pf *f);
/* cp -a from to (to must not exist). */
void pf_copy(const char *from, const char *to);
/* Change the source into its next version and keep a copy of it. */
void pf_next_version(struct pf *f);
/* Back up the source as job; the snapshot id of the version just made. */
void pf_backup(struct bk_repo *r, struct pf *f, const char *job);
/* Backing up may fail; -1 with err. */
int pf_try_backup(struct bk_repo *r, const struct pf *f, const char *job, char *id, char *err,
		  size_t errlen);
/* A repository (key: encrypted) holding n versions of job "db", 64 KiB packs. */
struct bk_repo *pf_repo_with_versions(struct pf *f, bool encrypted, int n);
/* Restore snapshot id and compare it with version v. */
void pf_assert_restores(struct bk_repo *r, struct pf *f, int v);
/* verify --read-data finds nothing wrong; its stats into vs (may be NULL). */
void pf_assert_verifies(struct bk_repo *r, struct bk_verify_stats *vs);
/* How many snapshots the repository lists. */
size_t pf_count_snapshots(struct bk_repo *r);
/* Bytes of the pack files. */
uint64_t pf_data_bytes(const struct pf *f);
/*
 * The parent's half of a child that a test kills: SIGKILL it after
 * delay_us (< 0: let it finish), reap it, and assert that it either
 * exited 0 or died of that SIGKILL; whether it was killed.
 */
bool pf_kill_and_reap(pid_t pid, long delay_us);

#endif
