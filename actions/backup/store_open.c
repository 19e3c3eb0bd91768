/*
 * actions/backup/store_open.c — a store from where it is: a directory, or
 * "s3://bucket/prefix?endpoint=...&region=...&credentials=FILE&ca_file=...
 * &path_style=0|1" (store.h, store_s3.h).  Region and endpoint default to
 * AWS_REGION / AWS_DEFAULT_REGION and AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL, then us-east-1 and AWS's own endpoint.
 */
#include "actions/backup/store_s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

struct loc {
	char *copy; /* owns the strings below */
	struct bk_s3_config cfg;
	int path_style; /* -1: not given */
	char endpoint[512];
};

static int loc_param(struct loc *l, char *kv, char *err, size_t errlen)
{
	char *v = strchr(kv, '=');

	if (!v) {
		err_set(err, errlen, "S3 location: \"%s\" is not KEY=VALUE", kv);
		return -1;
	}
	*v++ = '\0';
	if (strcmp(kv, "endpoint") == 0)
		l->cfg.endpoint = v;
	else if (strcmp(kv, "region") == 0)
		l->cfg.region = v;
	else if (strcmp(kv, "credentials") == 0)
		l->cfg.credentials_file = v;
	else if (strcmp(kv, "ca_file") == 0)
		l->cfg.ca_file = v;
	else if (strcmp(kv, "path_style") == 0 && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0))
		l->path_style = v[0] == '1';
	else {
		err_set(err, errlen, "S3 location: unknown or malformed parameter \"%s\"", kv);
		return -1;
	}
	return 0;
}

static const char *first_env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (v && v[0])
		return v;
	v = getenv(b);
	return v && v[0] ? v : NULL;
}

/* "s3://bucket/prefix?k=v&..." into l->cfg. */
static int loc_parse(struct loc *l, const char *where, char *err, size_t errlen)
{
	char *q, *save = NULL, *kv, *slash;

	bk_s3_config_default(&l->cfg);
	if (!(l->copy = strdup(where + strlen("s3://")))) {
		err_set(err, errlen, "S3 location: out of memory");
		return -1;
	}
	l->cfg.region = first_env("AWS_REGION", "AWS_DEFAULT_REGION");
	l->cfg.endpoint = first_env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	l->path_style = -1;
	if ((q = strchr(l->copy, '?')) != NULL) {
		*q++ = '\0';
		for (kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save))
			if (loc_param(l, kv, err, errlen) < 0)
				return -1;
	}
	l->cfg.bucket = l->copy;
	if ((slash = strchr(l->copy, '/')) != NULL) {
		*slash = '\0';
		l->cfg.prefix = slash + 1;
	}
	if (!l->cfg.region)
		l->cfg.region = "us-east-1";
	/* A custom endpoint (MinIO, Ceph, s3rver) usually wants path-style requests. */
	l->cfg.path_style = l->path_style >= 0 ? l->path_style == 1 : l->cfg.endpoint != NULL;
	if (!l->cfg.endpoint) {
		snprintf(l->endpoint, sizeof(l->endpoint), "https://s3.%s.amazonaws.com",
			 l->cfg.region);
		l->cfg.endpoint = l->endpoint;
	}
	return 0;
}

struct bk_store *bk_store_open(const char *where, bool create, char *err, size_t errlen)
{
	struct loc l = { 0 };
	struct bk_store *s = NULL;

	if (strncmp(where, "s3://", 5) != 0)
		return bk_store_local_new(where, create, err, errlen);
	if (loc_parse(&l, where, err, errlen) == 0)
		s = bk_store_s3_new(&l.cfg, create, err, errlen);
	free(l.copy);
	return s;
}

bool bk_store_is_offsite(const char *path)
{
	return path && strncmp(path, "s3://", 5) == 0;
}
