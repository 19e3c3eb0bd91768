/*
 * actions/backup/store_s3_http.c — one S3 request through libcurl's easy
 * API, signed by curl (CURLOPT_AWS_SIGV4), retried when worth it.
 *
 * Signing: curl computes the SigV4 signature, but (as of 7.88) neither
 * sorts the query nor hashes a body it reads through a callback, and it
 * signs the path and query exactly as given.  So every URL here is built
 * already canonical: keys percent-encoded byte by byte (RFC 3986
 * unreserved characters and '/' kept), query parameters sorted and
 * encoded by the caller; and x-amz-content-sha256 always carries the
 * body's real SHA-256, which curl then uses as the payload hash.  That
 * also makes the server check the body.  Uploads carry Content-MD5 too,
 * and the ETag of the answer must be that MD5: a body damaged on the way,
 * or by a misbehaving proxy, is caught and sent again.
 *
 * Retries: 5xx, 429, 408, S3's RequestTimeout/BadDigest/IncompleteBody,
 * a conflicting conditional write (409), connection failures, timeouts
 * and a transfer slower than low_speed_bytes/s for low_speed_s (a stall)
 * are retried up to cfg.attempts times in all, waiting backoff_ms, then
 * twice that, up to backoff_max_ms.  Other answers (403, 404, 412...)
 * return at once: they will not change.
 *
 * Secrets: the key id and secret go to curl only through CURLOPT_USERNAME
 * / CURLOPT_PASSWORD, the session token only in its header; none of them
 * is in a URL, and error documents are redacted before they are kept.
 */
#include "actions/backup/store_s3_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"

#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM < 0x074b00
#error "the S3 store needs libcurl >= 7.75 (CURLOPT_AWS_SIGV4)"
#endif

#define ERROR_DOC_MAX (64u << 10)

struct xfer {
	const struct s3_req *rq;
	struct s3_resp *resp;
	CURL *c;
	int mode;      /* 0: not yet known, 1: the 2xx body, 2: an error document */
	size_t sent;   /* upload position */
	bool answered; /* the last attempt got an HTTP answer worth reporting as such */
};

void *s3_curl_new(void)
{
	return curl_easy_init();
}

void s3_curl_free(void *curl)
{
	if (curl)
		curl_easy_cleanup(curl);
}

void s3_resp_free(struct s3_resp *resp)
{
	bk_buf_free(&resp->body);
}

char *s3_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
			     *p == '~' || (keep_slash && *p == '/');

		if (o + (plain ? 1 : 3) >= outlen)
			return NULL;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= outlen)
		return NULL;
	out[o] = '\0';
	return out;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct s3_resp *r = x->resp;
	size_t len = size * n;

	if (x->mode == 0) {
		long code = 0;
		curl_off_t cl = -1;

		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
		x->mode = code >= 200 && code < 300 ? 1 : 2;
		/* Refuse an oversized object before downloading it; else size the buffer once. */
		if (x->mode == 1 && !x->rq->fixed &&
		    curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
		    cl > 0) {
			if ((uint64_t)cl > x->rq->max) {
				r->too_big = true;
				return 0;
			}
			if (bk_buf_reserve(&r->body, (size_t)cl) < 0)
				return 0;
		}
	}
	if (x->mode == 2) {
		/* Only the start of an error document matters. */
		size_t room = ERROR_DOC_MAX - r->body.len;

		if (room > 0 && bk_buf_append(&r->body, p, len < room ? len : room) < 0)
			return 0;
		return len;
	}
	if (x->rq->fixed) {
		if (len > x->rq->fixed_len - r->got) {
			r->too_big = true;
			return 0;
		}
		memcpy((uint8_t *)x->rq->fixed + r->got, p, len);
		r->got += len;
		return len;
	}
	if (len > x->rq->max - r->body.len) {
		r->too_big = true;
		return 0;
	}
	return bk_buf_append(&r->body, p, len) < 0 ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, i = 5, o = 0;

	/* A new status line (after a 100 Continue) starts the headers over. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		x->resp->etag[0] = '\0';
	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		while (i < len && (p[i] == ' ' || p[i] == '"'))
			i++;
		while (i < len && p[i] != '"' && p[i] != '\r' && p[i] != '\n' &&
		       o + 1 < sizeof(x->resp->etag))
			x->resp->etag[o++] = p[i++];
		x->resp->etag[o] = '\0';
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t left = x->rq->body_len - x->sent, len = size * n;

	if (len > left)
		len = left;
	memcpy(buf, (const uint8_t *)x->rq->body + x->sent, len);
	x->sent += len;
	return len;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->rq->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static int error_field(void *arg, const char *path, const char *text, size_t len)
{
	struct s3_resp *r = arg;

	(void)len;
	if (strcmp(path, "Error/Code") == 0)
		snprintf(r->code, sizeof(r->code), "%s", text);
	else if (strcmp(path, "Error/Message") == 0)
		snprintf(r->message, sizeof(r->message), "%s", text);
	return 0;
}

/* Append line to *h; false (the list left as it was) when out of memory. */
static bool add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *t = curl_slist_append(*h, line);

	if (t)
		*h = t;
	return t != NULL;
}

/* The headers every attempt of rq sends; the body's MD5 into md5_hex. */
static struct curl_slist *headers_for(const struct s3 *s, const struct s3_req *rq,
				      char md5_hex[33])
{
	uint8_t sha[BK_ID_LEN], md5[16];
	unsigned char md5_b64[32];
	char line[256], hex[2 * BK_ID_LEN + 1], *tl = NULL;
	struct curl_slist *h = NULL;
	bool ok;

	bk_sha256(rq->body ? rq->body : "", rq->body_len, sha);
	bk_hex(sha, sizeof(sha), hex);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
	ok = add_header(&h, line) && add_header(&h, "Expect:"); /* no 100-continue round trip */
	if (ok && rq->body) {
		ok = EVP_Digest(rq->body, rq->body_len, md5, NULL, EVP_md5(), NULL) == 1;
		bk_hex(md5, sizeof(md5), md5_hex);
		EVP_EncodeBlock(md5_b64, md5, sizeof(md5));
		snprintf(line, sizeof(line), "Content-MD5: %s", (const char *)md5_b64);
		ok = ok && add_header(&h, line) &&
		     add_header(&h, "Content-Type: application/octet-stream");
	}
	if (ok && rq->if_none_match)
		ok = add_header(&h, "If-None-Match: *");
	if (ok && rq->range) {
		snprintf(line, sizeof(line), "Range: %s", rq->range);
		ok = add_header(&h, line);
	}
	if (ok && s->creds.token) {
		size_t n = strlen(s->creds.token) + 32;

		ok = (tl = malloc(n)) != NULL;
		if (ok) {
			snprintf(tl, n, "x-amz-security-token: %s", s->creds.token);
			ok = add_header(&h, tl);
			OPENSSL_cleanse(tl, n);
			free(tl);
		}
	}
	if (!ok) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

static int url_for(const struct s3 *s, const struct s3_req *rq, char *url, size_t len)
{
	char key[3200], enc[9700];

	if (snprintf(key, sizeof(key), "%s%s", rq->name ? s->prefix : "",
		     rq->name ? rq->name : "") >= (int)sizeof(key) ||
	    !s3_uri_encode(key, true, enc, sizeof(enc)))
		return -1;
	return snprintf(url, len, "%s%s%s%s", s->base_url, enc, rq->query ? "?" : "",
			rq->query ? rq->query : "") >= (int)len ? -1 : 0;
}

static void set_options(struct s3 *s, struct xfer *x, const char *url, struct curl_slist *h,
			char *errbuf)
{
	CURL *c = x->c;
	const struct s3_req *rq = x->rq;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, s->creds.key_id);
	curl_easy_setopt(c, CURLOPT_PASSWORD, s->creds.secret);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)s->cfg.low_speed_bytes);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)s->cfg.low_speed_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
}

static bool retry_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

static bool retry_status(const struct s3_req *rq, const struct s3_resp *r)
{
	if (r->status >= 500 || r->status == 429 || r->status == 408)
		return true;
	if (r->status == 400)
		return strcmp(r->code, "RequestTimeout") == 0 || strcmp(r->code, "BadDigest") == 0 ||
		       strcmp(r->code, "IncompleteBody") == 0 ||
		       strcmp(r->code, "XAmzContentSHA256Mismatch") == 0;
	/* Two conditional writes at once: the retry learns which one won. */
	return r->status == 409 && rq->if_none_match;
}

/* Whether an upload's ETag says the server got other bytes than were sent. */
static bool etag_mismatch(const struct s3 *s, const struct s3_resp *r, const char *md5_hex)
{
	size_t n = strlen(r->etag);

	/* A multipart ETag ("...-3") is not an MD5; an empty one proves nothing. */
	if (s->cfg.no_etag_check || n != 32)
		return false;
	return strcasecmp(r->etag, md5_hex) != 0;
}

/* One attempt: 1 retry, 0 answered, -1 failed for good; why describes a failure. */
static int attempt(struct s3 *s, struct xfer *x, const char *url, struct curl_slist *h,
		   const char *md5_hex, char *why, size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct s3_resp *r = x->resp;
	CURLcode rc;
	curl_off_t cl = -1;

	x->mode = 0;
	x->sent = 0;
	x->answered = false;
	r->body.len = r->got = 0;
	r->too_big = false;
	r->status = 0;
	r->length = -1;
	r->etag[0] = r->code[0] = r->message[0] = '\0';
	set_options(s, x, url, h, errbuf);
	rc = curl_easy_perform(x->c);
	if (rc != CURLE_OK) {
		if (r->too_big)
			snprintf(why, whylen, "the answer is larger than expected");
		else
			snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return retry_curl(rc) ? 1 : -1;
	}
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
		r->length = cl;
	if (r->status >= 300 && r->body.len > 0 && bk_buf_append(&r->body, "", 1) == 0) {
		s3_xml_parse((const char *)r->body.p, r->body.len - 1, error_field, r, NULL, 0);
		s3_redact(&s->creds, r->message);
		s3_redact(&s->creds, r->code);
	}
	if (r->status >= 200 && r->status < 300 && x->rq->body && etag_mismatch(s, r, md5_hex)) {
		snprintf(why, whylen, "the stored object's ETag %s is not the MD5 %s of what was sent",
			 r->etag, md5_hex);
		return 1;
	}
	x->answered = true;
	snprintf(why, whylen, "HTTP %ld%s%s", r->status, r->code[0] ? " " : "", r->code);
	return retry_status(x->rq, r) ? 1 : 0;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int s3_request(struct s3 *s, const struct s3_req *rq, struct s3_resp *resp, char *err,
	       size_t errlen)
{
	struct xfer x = { .rq = rq, .resp = resp, .c = s->curl };
	char url[16384], md5_hex[33] = "", why[CURL_ERROR_SIZE + 128] = "", n[32];
	struct curl_slist *h;
	unsigned wait = s->cfg.backoff_ms;
	int rc = 1;

	if (url_for(s, rq, url, sizeof(url)) < 0) {
		err_set(err, errlen, "s3 %s %s/%s: name too long", rq->method, s->where,
			rq->name ? rq->name : "");
		return -1;
	}
	if (!(h = headers_for(s, rq, md5_hex))) {
		err_set(err, errlen, "s3 %s %s: out of memory", rq->method, s->where);
		return -1;
	}
	resp->attempts = 0;
	while (rc == 1 && resp->attempts < (int)s->cfg.attempts) {
		if (resp->attempts > 0) {
			snprintf(n, sizeof(n), "%d/%u", resp->attempts + 1, s->cfg.attempts);
			vlog(VLOG_WARNING, "backup", "S3 request failed; retrying", "method",
			     rq->method, "object", rq->name ? rq->name : "(bucket)", "repository",
			     s->where, "error", why, "attempt", n, NULL);
			pause_ms(wait);
			wait = wait > s->cfg.backoff_max_ms / 2 ? s->cfg.backoff_max_ms : wait * 2;
		}
		resp->attempts++;
		rc = attempt(s, &x, url, h, md5_hex, why, sizeof(why));
	}
	curl_slist_free_all(h);
	/* A retryable status that never cleared is still an answer; the caller words it. */
	if (x.answered)
		return 0;
	err_set(err, errlen, "s3 %s %s/%s: %s (after %d attempt%s)", rq->method, s->where,
		rq->name ? rq->name : "", why, resp->attempts, resp->attempts == 1 ? "" : "s");
	return -1;
}

void s3_status_error(const struct s3 *s, const struct s3_req *rq, const struct s3_resp *resp,
		     char *err, size_t errlen)
{
	const char *hint = resp->status == 403 ? " (check the credentials and the bucket policy)"
			   : resp->status == 404 ? " (check the bucket name and the endpoint)" : "";

	err_set(err, errlen, "s3 %s %s/%s: HTTP %ld%s%s%s%s%s (after %d attempt%s)", rq->method,
		s->where, rq->name ? rq->name : "", resp->status, resp->code[0] ? " " : "",
		resp->code, resp->message[0] ? ": " : "", resp->message,
		resp->code[0] || resp->message[0] ? "" : hint, resp->attempts,
		resp->attempts == 1 ? "" : "s");
}
