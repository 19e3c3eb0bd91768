/*
 * tests/unit/s3_fixture.h — the servers test_backup_s3 runs against: one
 * s3rver for the whole program (from the npm cache scripts/lib/deps.sh
 * fills, or $VIGIL_S3RVER), and per test a s3_fault_proxy.py in front of
 * it that checks signatures and digests and injects faults.  Both listen
 * on free 127.0.0.1 ports and die with the process that started them.
 */
#ifndef VIGIL_TESTS_UNIT_S3_FIXTURE_H
#define VIGIL_TESTS_UNIT_S3_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "actions/backup/store_s3.h"

#define S3F_BUCKET "vigil-test"
/* s3rver's built-in account; its secret is the same string. */
#define S3F_KEY_ID "S3RVER"
#define S3F_SECRET "S3RVER"

/* Start s3rver; false (with why) when it is not installed or will not start. */
bool s3f_server_start(char *why, size_t whylen);
void s3f_server_stop(void);
int s3f_server_port(void);

struct s3f_proxy {
	pid_t pid;
	int port;
	char dir[128];
};

/* Start the proxy with extra arguments (NULL-terminated, may be NULL); asserts. */
void s3f_proxy_start(struct s3f_proxy *p, const char *const *extra);
void s3f_proxy_stop(struct s3f_proxy *p);
/* A counter from the proxy's stats ("requests", "faults", "sig_bad", ...). */
long s3f_proxy_stat(const struct s3f_proxy *p, const char *field);
/* No request of the test's own was signed wrong (else the reasons the proxy gave). */
void s3f_assert_signed_right(const struct s3f_proxy *p);

/*
 * Settings for a store on port under prefix: path-style, fast retries
 * (backoff 10 ms), the credentials file for key_id/secret (written in a
 * temp dir, mode 0600; a NULL key_id means the environment).
 */
void s3f_config(struct bk_s3_config *c, int port, const char *prefix, const char *key_id,
		const char *secret);
/* bk_store_s3_new(create = false) that must succeed. */
struct bk_store *s3f_store(const struct bk_s3_config *c);
/* A prefix no other test uses. */
const char *s3f_unique_prefix(const char *tag);
/* Milliseconds on the monotonic clock. */
unsigned long long s3f_now_ms(void);

/* The tests that need s3rver (test_backup_s3_live.c). */
TCase *s3f_live_tcase(void);

#endif
