/*
 * tests/unit/backup_fixture.h — what the backup tests share: temp dirs,
 * deterministic file contents, a source tree with every kind of entry,
 * a byte-for-byte and metadata comparison of two trees, and repositories.
 */
#ifndef VIGIL_TESTS_BACKUP_FIXTURE_H
#define VIGIL_TESTS_BACKUP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/backup/backup.h"

/* A new temp dir, /tmp/vigil-bk-TAG-XXXXXX, into buf. */
void bkf_tmpdir(char *buf, size_t len, const char *tag);
/* buf = a/b */
void bkf_join(char *buf, size_t len, const char *a, const char *b);
/* Deterministic pseudo-random bytes. */
void bkf_fill(uint8_t *p, size_t n, uint64_t *seed);
void bkf_write(const char *path, const void *data, size_t len, mode_t mode);
/* A file of size pseudo-random bytes from seed. */
void bkf_random_file(const char *path, size_t size, uint64_t seed);
/*
 * Regular, empty, multi-MiB, sparse, executable and read-only files;
 * nested, private, read-only and setgid directories; relative, absolute
 * and dangling symlinks; a name with spaces and UTF-8, one that is not
 * UTF-8; a file owned by 1234:5678 (when root); distinct mtimes.
 */
void bkf_make_tree(const char *root);
/* Give every entry under root a distinct mtime (children before parents). */
void bkf_set_mtimes(const char *root, int64_t base_ns);
/* Assert that got matches want: names, types, modes, owners, mtimes, bytes, targets. */
void bkf_assert_same_tree(const char *want, const char *got);
/* Apparent bytes of the regular files under dir. */
uint64_t bkf_du(const char *dir);
/* How many regular files under dir (e.g. dir = repo/data). */
int bkf_count_files(const char *dir);
/* Init a repository (pack_size 0: default) and open it; key may be NULL. */
struct bk_repo *bkf_repo(const char *path, const char *key, uint32_t pack_size);

/* Collects problem messages (bk_problem_fn). */
struct bkf_msgs {
	char text[16384];
	int n;
};

void bkf_collect(void *arg, const char *msg);

#endif
