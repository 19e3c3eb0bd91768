/*
 * tests/unit/test_backup_sync.h — what the two halves of test_backup_sync
 * share: running a sync, comparing a local mirror with its source, and
 * checking that a mirror is a sound repository.
 */
#ifndef VIGIL_TESTS_UNIT_TEST_BACKUP_SYNC_H
#define VIGIL_TESTS_UNIT_TEST_BACKUP_SYNC_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "actions/backup/sync.h"
#include "tests/unit/test_backup_prune_fixture.h"

/* One sync of r to target; -1 with err like bk_sync. */
int sf_sync(struct bk_repo *r, const char *target, bool dry_run, struct bk_sync_stats *st,
	    bk_sync_fn fn, void *arg, char *err, size_t errlen);
/* One sync that must succeed. */
void sf_sync_ok(struct bk_repo *r, const char *target, struct bk_sync_stats *st);
/* The two local repositories hold the same objects, byte for byte (lock and tmp/ aside). */
void sf_assert_same_objects(const char *a, const char *b);
/* Open where (a path or an s3:// location) with key; asserts. */
struct bk_repo *sf_open(const char *where, const char *key);
/* The mirror opens, verifies with every chunk read, and every snapshot it lists restores. */
void sf_assert_sound_mirror(struct pf *f, const char *where);
/* Files under repo/dir (dir = "data", "index", "snapshots"). */
int sf_count_in(const char *repo, const char *dir);
/* Objects in a local repository: files and bytes of config, data, index and snapshots. */
void sf_objects(const char *repo, uint64_t *files, uint64_t *bytes);
/* Forget all but the newest snapshot of job "db" and prune (repacking), in r. */
void sf_forget_prune(struct bk_repo *r);

/* test_backup_sync_resume.c: interrupted and killed syncs, and S3 (when s3 is true). */
TCase *sf_resume_tcase(void);
TCase *sf_s3_tcase(void);

#endif
