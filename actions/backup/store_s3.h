/*
 * actions/backup/store_s3.h — a repository in an S3-compatible bucket
 * (AWS S3, MinIO, Ceph RGW, s3rver), one more bk_store_ops table.
 *
 * Objects live at <prefix>/<name> in the bucket ("backups/db1/config",
 * "backups/db1/data/ab/ab12...").  Requests are signed by libcurl's
 * AWS SigV4 support; every upload carries its SHA-256 and MD5 so the
 * server rejects a body damaged on the way, and the returned ETag is
 * checked against the MD5 as well.  Failed requests (5xx, 429, timeouts,
 * connection errors, a stalled transfer) are retried with exponential
 * backoff.  How put_new, put_lazy, list and the credentials behave is
 * described at the top of store_s3.c and store_s3_conf.c.
 *
 * Synchronous and blocking, like every store: for child processes and the
 * CLI, never for the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_STORE_S3_H
#define VIGIL_ACTIONS_BACKUP_STORE_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "actions/backup/store.h"

struct bk_s3_config {
	/* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000": scheme, host, port */
	const char *endpoint;
	const char *region; /* signs the requests: "us-east-1" for MinIO and s3rver */
	const char *bucket;
	const char *prefix; /* "" or "backups/db1"; slashes at either end are ignored */
	/* http://host/bucket/key instead of http://bucket.host/key (MinIO, s3rver, IP endpoints) */
	bool path_style;
	/*
	 * KEY=VALUE lines AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
	 * AWS_SESSION_TOKEN, mode 0600 or stricter.  NULL: the same three
	 * variables from the environment.
	 */
	const char *credentials_file;
	const char *ca_file; /* NULL: the system's CA certificates */

	/* Retries: attempts in all (>= 1); the first wait, doubling up to the cap. */
	unsigned attempts;
	unsigned backoff_ms, backoff_max_ms;
	unsigned connect_timeout_ms;
	/* A transfer slower than low_speed_bytes per second for low_speed_s is abandoned and retried. */
	unsigned low_speed_bytes, low_speed_s;
	unsigned max_keys; /* list page size; 0: the server's (1000 on AWS) */

	/*
	 * put_new sends a conditional PUT (If-None-Match: *), which AWS S3 and
	 * MinIO refuse atomically for an existing object.  Servers that ignore
	 * the header would overwrite, so put_new first asks (HEAD) unless this
	 * says the server is known to honour it.  See store_s3.c.
	 */
	bool conditional_put_trusted;
	/* SSE-KMS and SSE-C buckets return ETags that are not the MD5: skip that check. */
	bool no_etag_check;
};

/* The defaults: region us-east-1, 6 attempts, 100 ms doubling to 10 s, 10 s connect, 1 KiB/s over 30 s. */
void bk_s3_config_default(struct bk_s3_config *c);

/*
 * A store on the bucket.  Loads the credentials (file or environment) and
 * checks the settings.  With create, also checks that the prefix holds no
 * repository yet ("config" absent), which proves the bucket and the
 * credentials work; without it, no request is made.  NULL with err, which
 * never contains a secret.
 */
struct bk_store *bk_store_s3_new(const struct bk_s3_config *c, bool create, char *err,
				 size_t errlen);

/*
 * The store a repository location names:
 *
 *   s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=1&credentials=FILE&ca_file=FILE]
 *
 * is an S3 store (endpoint default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL,
 * else https://s3.REGION.amazonaws.com; region default: $AWS_REGION,
 * $AWS_DEFAULT_REGION, else us-east-1; credentials default: the
 * environment); anything else is a local directory (bk_store_local_new).
 */
struct bk_store *bk_store_open(const char *where, bool create, char *err, size_t errlen);

#endif
