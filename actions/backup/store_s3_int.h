/*
 * actions/backup/store_s3_int.h — what the S3 store's files share (not for
 * callers: use store_s3.h): the store itself, one request with retries
 * (store_s3_http.c), the small XML reader (store_s3_xml.c) and the
 * credentials (store_s3_conf.c).
 */
#ifndef VIGIL_ACTIONS_BACKUP_STORE_S3_INT_H
#define VIGIL_ACTIONS_BACKUP_STORE_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/store.h"
#include "actions/backup/store_s3.h"

struct s3_creds {
	char *key_id, *secret, *token; /* token NULL when none */
};

struct s3 {
	struct bk_store base;
	struct bk_s3_config cfg; /* numbers and flags; its strings are not kept */
	char *where;             /* "s3://bucket/prefix", for messages */
	char *base_url;          /* ".../" that an encoded key is appended to */
	char *prefix;            /* "" or "backups/db1/" */
	char *bucket, *sigv4, *ca_file;
	struct s3_creds creds;
	void *curl; /* CURL *, kept so connections are reused */
	char **lazy; /* put_lazy names not yet synced */
	size_t nlazy, caplazy;
};

/* ---- store_s3_http.c ---- */

struct s3_req {
	const char *method; /* GET, HEAD, PUT, DELETE */
	const char *name;   /* object name under the prefix; NULL: the bucket itself */
	const char *query;  /* NULL, or sorted and encoded (curl signs it as it is) */
	const void *body;   /* PUT */
	size_t body_len;
	const char *range;  /* "bytes=A-B" or NULL */
	bool if_none_match; /* If-None-Match: * */
	/* A 2xx body goes into fixed (at most fixed_len bytes), else into resp.body (at most max). */
	void *fixed;
	size_t fixed_len, max;
};

struct s3_resp {
	long status;
	struct bk_buf body; /* the 2xx body (unless fixed), or the error document */
	size_t got;         /* bytes into fixed */
	bool too_big;       /* the 2xx body went over its limit */
	int64_t length;     /* Content-Length, -1 when absent */
	char etag[80];
	char code[64], message[256]; /* of an S3 error document (redacted) */
	int attempts;
};

/*
 * Run one request, retrying what is worth retrying.  0 with the last
 * answer in resp (any status: the caller decides what it means), or -1
 * when no answer came (err: "s3 GET s3://b/p/name: why (after N attempts)").
 */
int s3_request(struct s3 *s, const struct s3_req *rq, struct s3_resp *resp, char *err,
	       size_t errlen);
void s3_resp_free(struct s3_resp *resp);
/* err = "s3 METHOD WHERE/NAME: HTTP 403 AccessDenied: message (after N attempts)". */
void s3_status_error(const struct s3 *s, const struct s3_req *rq, const struct s3_resp *resp,
		     char *err, size_t errlen);
/* Percent-encode everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash); NULL if out does not fit. */
char *s3_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen);
void *s3_curl_new(void);
void s3_curl_free(void *curl);

/* ---- store_s3_xml.c ---- */

/*
 * Called at the end of every element that holds no other element, with
 * its path from the root ("ListBucketResult/Contents/Key") and its text,
 * entities resolved (NUL-terminated; len excludes the NUL).  Non-zero
 * stops the parse, which returns that value.
 */
typedef int (*s3_xml_fn)(void *arg, const char *path, const char *text, size_t len);
/* 0, fn's non-zero value, or -1 with err when doc is not well-formed enough to trust. */
int s3_xml_parse(const char *doc, size_t len, s3_xml_fn fn, void *arg, char *err, size_t errlen);

/* ---- store_s3_conf.c ---- */

/* From cfg->credentials_file, else the environment; err never holds a secret. */
int s3_creds_load(const char *file, struct s3_creds *c, char *err, size_t errlen);
/* Wipe and free; the struct may be zeroed or partly filled. */
void s3_creds_free(struct s3_creds *c);
/* Replace every occurrence of the secrets in text (NUL-terminated) with "***". */
void s3_redact(const struct s3_creds *c, char *text);

#endif
