/*
 * actions/backup/store_s3.c — the S3 backend (store.h, store_s3.h).
 *
 * How it keeps store.h's rules:
 *
 *   put      one PUT; S3 makes an object visible only whole, and the
 *            upload is checked (SHA-256 and MD5 sent, ETag compared).  If
 *            the ETag is still wrong after every attempt the put fails,
 *            and the damaged object stays: every object but the config
 *            and the lock is named by its hash, which readers check.
 *   put_new  a conditional PUT, If-None-Match: *.  AWS S3 (since 2024),
 *            MinIO and Ceph refuse it with 412 when the key exists, in one
 *            step.  Servers that ignore the header (s3rver, older
 *            gateways) would silently overwrite, so unless
 *            conditional_put_trusted says otherwise a HEAD comes first and
 *            an existing object answers 1 without a PUT.  On such a server
 *            two writers that HEAD at the same moment can both "create"
 *            the object: the lock then has the same race as a stale-lock
 *            take-over (lock.c), and the refresh's token check stops the
 *            loser with "lock lost".  A 412 may answer a retry (ours, or
 *            libcurl's own on a dropped keep-alive connection) of a PUT
 *            that did create the object and whose answer was lost: so the
 *            object is read back, and identical bytes count as success
 *            (callers put unique bytes: a lock holds a random token).
 *   put_lazy uploaded at once (S3 has no cheap rename to defer a name
 *            with), so the object appears before sync rather than at it;
 *            that is harmless, because only an index written after sync
 *            refers to it, exactly as for packs a crash leaves unindexed.
 *            sync forgets the list; discard deletes what was uploaded since
 *            the last sync, best effort (what stays is reused or reported
 *            by the next writer, like a crash's leftovers).
 *   get / read_at / size / remove  GET, ranged GET, HEAD, DELETE; 404 is
 *            "missing" (1) except NoSuchBucket, which is an error.  HEAD
 *            answers have no body, so size cannot tell a missing bucket
 *            from a missing object.
 *   list     ListObjectsV2 under prefix/dir/, following continuation
 *            tokens; a whole page is read before the callback runs, so the
 *            callback may use the store.
 *   clean    nothing: uploads are single PUTs (up to 5 GiB, far above the
 *            1 GiB pack limit), so an interrupted one leaves nothing.
 */
#include "actions/backup/store_s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/store_s3_int.h"
#include "common/error.h"

#define TOKEN_MAX 2048

static struct s3 *S3(struct bk_store *s)
{
	return (struct s3 *)s;
}

/* 404 means a missing object, unless the bucket itself is missing. */
static bool missing(const struct s3_resp *r)
{
	return r->status == 404 && strcmp(r->code, "NoSuchBucket") != 0;
}

static bool ok(const struct s3_resp *r)
{
	return r->status >= 200 && r->status < 300;
}

static int put_object(struct s3 *s, const char *name, const void *data, size_t len, bool cond,
		      struct s3_resp *resp, char *err, size_t errlen)
{
	struct s3_req rq = { .method = "PUT", .name = name, .body = data ? data : "",
			     .body_len = len, .if_none_match = cond, .max = 64u << 10 };

	if (s3_request(s, &rq, resp, err, errlen) < 0)
		return -1;
	if (ok(resp) || (cond && resp->status == 412))
		return 0;
	s3_status_error(s, &rq, resp, err, errlen);
	return -1;
}

static int s3_put(struct bk_store *bs, const char *name, const void *data, size_t len,
		  char *err, size_t errlen)
{
	struct s3_resp resp = { 0 };
	int rc = put_object(S3(bs), name, data, len, false, &resp, err, errlen);

	s3_resp_free(&resp);
	return rc;
}

static int s3_get(struct bk_store *bs, const char *name, size_t max, uint8_t **data,
		  size_t *len, char *err, size_t errlen)
{
	struct s3 *s = S3(bs);
	struct s3_req rq = { .method = "GET", .name = name, .max = max };
	struct s3_resp resp = { 0 };
	int rc = s3_request(s, &rq, &resp, err, errlen);

	*data = NULL;
	*len = 0;
	if (rc < 0 && resp.too_big)
		err_set(err, errlen, "s3 GET %s/%s: object larger than %zu bytes", s->where, name, max);
	if (rc == 0 && missing(&resp)) {
		rc = 1;
	} else if (rc == 0 && resp.status != 200) {
		s3_status_error(s, &rq, &resp, err, errlen);
		rc = -1;
	} else if (rc == 0 && bk_buf_reserve(&resp.body, 1) < 0) {
		err_set(err, errlen, "s3 GET %s/%s: out of memory", s->where, name);
		rc = -1;
	} else if (rc == 0) {
		/* NUL-terminated like the local store's, for callers that parse text. */
		resp.body.p[resp.body.len] = '\0';
		*data = resp.body.p;
		*len = resp.body.len;
		resp.body.p = NULL;
	}
	s3_resp_free(&resp);
	return rc;
}

/* Whether NAME holds exactly these bytes (an answer of ours that got lost). */
static bool holds(struct bk_store *bs, const char *name, const void *data, size_t len)
{
	uint8_t *got = NULL;
	size_t n = 0;
	char why[256];
	bool same = s3_get(bs, name, len, &got, &n, why, sizeof(why)) == 0 && n == len &&
		    (len == 0 || memcmp(got, data, len) == 0);

	free(got);
	return same;
}

static int s3_size(struct bk_store *bs, const char *name, uint64_t *size, char *err,
		   size_t errlen)
{
	struct s3 *s = S3(bs);
	struct s3_req rq = { .method = "HEAD", .name = name };
	struct s3_resp resp = { 0 };
	int rc = s3_request(s, &rq, &resp, err, errlen);

	if (rc == 0 && resp.status == 404) {
		rc = 1;
	} else if (rc == 0 && (resp.status != 200 || resp.length < 0)) {
		s3_status_error(s, &rq, &resp, err, errlen);
		rc = -1;
	} else if (rc == 0) {
		*size = (uint64_t)resp.length;
	}
	s3_resp_free(&resp);
	return rc;
}

static int s3_put_new(struct bk_store *bs, const char *name, const void *data, size_t len,
		      char *err, size_t errlen)
{
	struct s3 *s = S3(bs);
	struct s3_resp resp = { 0 };
	uint64_t size;
	int rc;

	if (!s->cfg.conditional_put_trusted) {
		rc = s3_size(bs, name, &size, err, errlen);
		if (rc <= 0)
			return rc == 0 ? 1 : -1;
	}
	rc = put_object(s, name, data, len, true, &resp, err, errlen);
	if (rc == 0 && resp.status == 412)
		rc = holds(bs, name, data, len) ? 0 : 1;
	s3_resp_free(&resp);
	return rc;
}

static int s3_remove(struct bk_store *bs, const char *name, char *err, size_t errlen)
{
	struct s3 *s = S3(bs);
	struct s3_req rq = { .method = "DELETE", .name = name, .max = 64u << 10 };
	struct s3_resp resp = { 0 };
	int rc = s3_request(s, &rq, &resp, err, errlen);

	if (rc == 0 && !ok(&resp) && !missing(&resp)) {
		s3_status_error(s, &rq, &resp, err, errlen);
		rc = -1;
	}
	s3_resp_free(&resp);
	return rc;
}

static int s3_put_lazy(struct bk_store *bs, const char *name, const void *data, size_t len,
		       char *err, size_t errlen)
{
	struct s3 *s = S3(bs);
	char *copy;

	if (s->nlazy == s->caplazy) {
		size_t ncap = s->caplazy ? s->caplazy * 2 : 8;
		char **nl = realloc(s->lazy, ncap * sizeof(*nl));

		if (!nl) {
			err_set(err, errlen, "s3 PUT %s/%s: out of memory", s->where, name);
			return -1;
		}
		s->lazy = nl;
		s->caplazy = ncap;
	}
	if (!(copy = strdup(name))) {
		err_set(err, errlen, "s3 PUT %s/%s: out of memory", s->where, name);
		return -1;
	}
	if (s3_put(bs, name, data, len, err, errlen) < 0) {
		free(copy);
		return -1;
	}
	s->lazy[s->nlazy++] = copy;
	return 0;
}

static void forget_lazy(struct s3 *s)
{
	for (size_t i = 0; i < s->nlazy; i++)
		free(s->lazy[i]);
	s->nlazy = 0;
}

static int s3_sync(struct bk_store *bs, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	/* Every put_lazy object was stored whole when its PUT returned. */
	forget_lazy(S3(bs));
	return 0;
}

static void s3_discard(struct bk_store *bs)
{
	struct s3 *s = S3(bs);
	char why[512];

	for (size_t i = 0; i < s->nlazy; i++)
		s3_remove(bs, s->lazy[i], why, sizeof(why));
	forget_lazy(s);
}

static int s3_read_at(struct bk_store *bs, const char *name, uint64_t off, void *buf,
		      size_t len, char *err, size_t errlen)
{
	struct s3 *s = S3(bs);
	char range[64];
	struct s3_req rq = { .method = "GET", .name = name, .range = range, .fixed = buf,
			     .fixed_len = len };
	struct s3_resp resp = { 0 };
	uint64_t size;
	int rc;

	if (len == 0)
		return s3_size(bs, name, &size, err, errlen);
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	rc = s3_request(s, &rq, &resp, err, errlen);
	if (rc < 0 && resp.too_big)
		err_set(err, errlen, "s3 GET %s/%s: the server sent more than the range asked for",
			s->where, name);
	if (rc == 0 && missing(&resp)) {
		rc = 1;
	} else if (rc == 0 && (resp.status == 416 || (ok(&resp) && resp.got < len))) {
		err_set(err, errlen, "read %s/%s: object is shorter than its index says", s->where,
			name);
		rc = -1;
	} else if (rc == 0 && !(resp.status == 206 || (resp.status == 200 && off == 0))) {
		s3_status_error(s, &rq, &resp, err, errlen);
		rc = -1;
	}
	s3_resp_free(&resp);
	return rc;
}

/* ---- list ---- */

struct page {
	const struct s3 *s;
	char **keys;
	size_t n, cap;
	char token[TOKEN_MAX], prev[TOKEN_MAX]; /* the next page's, the one just used */
	bool truncated, seen_truncated;
	const char *failed; /* why page_field stopped */
};

static int page_field(void *arg, const char *path, const char *text, size_t len)
{
	struct page *p = arg;
	size_t plen = strlen(p->s->prefix);

	if (strcmp(path, "ListBucketResult/IsTruncated") == 0) {
		p->seen_truncated = true;
		p->truncated = strcmp(text, "true") == 0;
	} else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0) {
		if (len >= sizeof(p->token)) {
			p->failed = "continuation token too long";
			return -1;
		}
		memcpy(p->token, text, len + 1);
	} else if (strcmp(path, "ListBucketResult/Contents/Key") == 0) {
		/* Skip "folder" markers and anything not under our prefix. */
		if (len <= plen || strncmp(text, p->s->prefix, plen) != 0 || text[len - 1] == '/' ||
		    strlen(text) != len)
			return 0;
		if (p->n == p->cap) {
			size_t ncap = p->cap ? p->cap * 2 : 64;
			char **nk = realloc(p->keys, ncap * sizeof(*nk));

			if (!nk) {
				p->failed = "out of memory";
				return -1;
			}
			p->keys = nk;
			p->cap = ncap;
		}
		if (!(p->keys[p->n] = strdup(text + plen))) {
			p->failed = "out of memory";
			return -1;
		}
		p->n++;
	}
	return 0;
}

static void page_clear(struct page *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->keys[i]);
	p->n = 0;
}

/* One page after the token in p (none: the first); its keys into p. */
static int list_page(struct s3 *s, const char *dir, struct page *p, char *err, size_t errlen)
{
	char pfx[2048], enc_pfx[6200], enc_tok[3 * TOKEN_MAX + 1], query[12800], why[256] = "";
	struct s3_req rq = { .method = "GET", .query = query, .max = 64u << 20 };
	struct s3_resp resp = { 0 };
	char keys[32] = "";
	int rc;

	if (s->cfg.max_keys)
		snprintf(keys, sizeof(keys), "&max-keys=%u", s->cfg.max_keys);
	if (snprintf(pfx, sizeof(pfx), "%s%s/", s->prefix, dir) >= (int)sizeof(pfx) ||
	    !s3_uri_encode(pfx, false, enc_pfx, sizeof(enc_pfx)) ||
	    !s3_uri_encode(p->token, false, enc_tok, sizeof(enc_tok))) {
		err_set(err, errlen, "s3 list %s/%s: name too long", s->where, dir);
		return -1;
	}
	/* Sorted by name: curl signs the query exactly as written. */
	snprintf(query, sizeof(query), "%s%s%slist-type=2%s&prefix=%s",
		 p->token[0] ? "continuation-token=" : "", enc_tok, p->token[0] ? "&" : "", keys,
		 enc_pfx);
	memcpy(p->prev, p->token, sizeof(p->prev));
	p->token[0] = '\0';
	p->truncated = p->seen_truncated = false;
	p->failed = NULL;
	rc = s3_request(s, &rq, &resp, err, errlen);
	if (rc == 0 && resp.status != 200) {
		s3_status_error(s, &rq, &resp, err, errlen);
		rc = -1;
	} else if (rc == 0 && (bk_buf_append(&resp.body, "", 1) < 0 ||
			       s3_xml_parse((const char *)resp.body.p, resp.body.len - 1, page_field,
					    p, why, sizeof(why)) != 0 ||
			       !p->seen_truncated || (p->truncated && !p->token[0]) ||
			       (p->truncated && strcmp(p->token, p->prev) == 0))) {
		/* A repeated token would list the same page forever. */
		err_set(err, errlen, "s3 list %s/%s: %s", s->where, dir,
			p->failed ? p->failed
			: why[0] ? why : "not a complete ListObjectsV2 answer (or a repeated token)");
		rc = -1;
	}
	s3_resp_free(&resp);
	return rc;
}

static int s3_list(struct bk_store *bs, const char *dir, bk_list_fn fn, void *arg, char *err,
		   size_t errlen)
{
	struct page p = { .s = S3(bs) };
	int rc = 0;

	do {
		page_clear(&p);
		rc = list_page(S3(bs), dir, &p, err, errlen);
		for (size_t i = 0; rc == 0 && i < p.n; i++)
			rc = fn(arg, p.keys[i]);
	} while (rc == 0 && p.truncated);
	page_clear(&p);
	free(p.keys);
	return rc;
}

static int s3_clean(struct bk_store *bs, char *err, size_t errlen)
{
	(void)bs;
	(void)err;
	(void)errlen;
	return 0;
}

static void s3_free(struct bk_store *bs)
{
	struct s3 *s = S3(bs);

	forget_lazy(s);
	free(s->lazy);
	s3_curl_free(s->curl);
	s3_creds_free(&s->creds);
	free(s->where);
	free(s->base_url);
	free(s->prefix);
	free(s->bucket);
	free(s->sigv4);
	free(s->ca_file);
	free(s);
}

static const struct bk_store_ops s3_ops = {
	.put = s3_put,
	.put_new = s3_put_new,
	.put_lazy = s3_put_lazy,
	.sync = s3_sync,
	.discard = s3_discard,
	.get = s3_get,
	.read_at = s3_read_at,
	.size = s3_size,
	.list = s3_list,
	.remove = s3_remove,
	.clean = s3_clean,
	.free = s3_free,
};

/* ---- construction ---- */

static bool chars_in(const char *s, const char *extra)
{
	for (; *s; s++) {
		bool a = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');

		if (!a && !strchr(extra, *s))
			return false;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static int check_config(const struct bk_s3_config *c, char *err, size_t errlen)
{
	const char *e = c->endpoint, *why = NULL;
	size_t skip = !e ? 0 : strncmp(e, "https://", 8) == 0 ? 8 : strncmp(e, "http://", 7) == 0 ? 7 : 0;

	if (skip == 0 || !e[skip] || e[skip] == '/' || strlen(e) > 400 || has_control(e) ||
	    strpbrk(e, " ?#@\\\"<>"))
		why = "endpoint must be http(s)://host[:port] (no query, no user)";
	else if (!c->bucket || strlen(c->bucket) < 3 || strlen(c->bucket) > 255 ||
		 !chars_in(c->bucket, ".-_") || c->bucket[0] == '.' || c->bucket[0] == '-')
		why = "bucket must be 3 to 255 letters, digits, '.', '-' or '_'";
	else if (!c->region || !c->region[0] || strlen(c->region) > 64 || !chars_in(c->region, "-_"))
		why = "region must be letters, digits and '-' (\"us-east-1\")";
	else if (c->prefix && (strlen(c->prefix) > 512 || has_control(c->prefix)))
		why = "prefix must be at most 512 bytes without control characters";
	else if (c->attempts < 1 || c->attempts > 100)
		why = "attempts must be 1 to 100";
	else if (c->backoff_ms > 60000 || c->backoff_max_ms < c->backoff_ms)
		why = "backoff must be at most 60 s and below its cap";
	else if (c->connect_timeout_ms < 1 || c->low_speed_s < 1 || c->low_speed_bytes < 1)
		why = "connect timeout and low-speed limits must be positive";
	if (why) {
		err_set(err, errlen, "S3 store: %s", why);
		return -1;
	}
	return 0;
}

/* A malloc'd string from fmt and up to three strings. */
static char *str_printf(const char *fmt, const char *a, const char *b, const char *c)
{
	size_t n = strlen(fmt) + strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, fmt, a, b, c);
	return s;
}

/* prefix (slashes at either end dropped, then one '/' added when not empty), where,
 * base_url and the signing scope, from checked settings. */
static int build_names(struct s3 *s, const struct bk_s3_config *c)
{
	size_t skip = strncmp(c->endpoint, "https://", 8) == 0 ? 8 : 7, n = strlen(c->endpoint);
	const char *p = c->prefix ? c->prefix : "";
	char *host, *bare;
	size_t pn;

	while (*p == '/')
		p++;
	pn = strlen(p);
	while (pn > 0 && p[pn - 1] == '/')
		pn--;
	while (n > skip && c->endpoint[n - 1] == '/')
		n--;
	host = strndup(c->endpoint + skip, n - skip);
	bare = strndup(p, pn);
	if (host && bare) {
		s->prefix = str_printf(pn ? "%s/" : "%s", bare, "", "");
		s->where = str_printf(pn ? "s3://%s/%s" : "s3://%s%s", c->bucket, bare, "");
		s->base_url = c->path_style
			? str_printf(skip == 8 ? "https://%s/%s/" : "http://%s/%s/", host, c->bucket, "")
			: str_printf(skip == 8 ? "https://%s.%s/" : "http://%s.%s/", c->bucket, host, "");
		s->sigv4 = str_printf("aws:amz:%s:s3", c->region, "", "");
		s->bucket = strdup(c->bucket);
		s->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
	}
	free(host);
	free(bare);
	return s->prefix && s->where && s->base_url && s->sigv4 && s->bucket &&
			       (!c->ca_file || s->ca_file) ? 0 : -1;
}

struct bk_store *bk_store_s3_new(const struct bk_s3_config *c, bool create, char *err,
				 size_t errlen)
{
	struct s3 *s;
	uint64_t size;
	int rc;

	if (check_config(c, err, errlen) < 0)
		return NULL;
	if (!(s = calloc(1, sizeof(*s)))) {
		err_set(err, errlen, "S3 store: out of memory");
		return NULL;
	}
	s->base.ops = &s3_ops;
	s->cfg = *c;
	s->cfg.endpoint = s->cfg.region = s->cfg.bucket = s->cfg.prefix = NULL;
	s->cfg.credentials_file = s->cfg.ca_file = NULL;
	if (build_names(s, c) < 0 || !(s->curl = s3_curl_new())) {
		err_set(err, errlen, "S3 store: out of memory");
		s3_free(&s->base);
		return NULL;
	}
	s->base.where = s->where;
	if (s3_creds_load(c->credentials_file, &s->creds, err, errlen) < 0) {
		s3_free(&s->base);
		return NULL;
	}
	/* A new repository must not land on an existing one; this also proves access. */
	rc = create ? s3_size(&s->base, "config", &size, err, errlen) : 1;
	if (rc == 0)
		err_set(err, errlen, "%s: already a repository", s->where);
	if (rc != 1) {
		s3_free(&s->base);
		return NULL;
	}
	return &s->base;
}
