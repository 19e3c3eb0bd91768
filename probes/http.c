/*
 * probes/http.c — an HTTP(S) probe through the shared curl loop.
 *
 * Connections are reused through the multi's connection cache, which any
 * easy handle can draw from, so a probe does not need an easy handle of
 * its own between runs.  An idle curl easy handle costs about 5.5 KiB;
 * ten thousand probes each holding one would spend 55 MiB doing nothing.
 * Instead a run borrows a handle from a small pool and configures it, and
 * memory follows the transfers in flight, not the number of probes.  The
 * body is only buffered when a substring must be found in it, and only for
 * the length of a run.
 *
 * The pool is process-wide (the daemon has one thread and one loop) and is
 * emptied when the last http probe is freed.
 */
#include "probes/probe_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/curl_loop.h"
#include "common/fdlimit.h"

/* The most of a body searched for expect_body. */
#define HTTP_BODY_MAX (64 * 1024)
/* curl's own timeout trails probe.c's timer, which is the authority. */
#define HTTP_TIMEOUT_MARGIN_MS 500
/* Health answers are small; curl's default 16 KiB per transfer is not. */
#define HTTP_BUFFER_SIZE 4096L
/* Idle easy handles kept for the next runs; a burst beyond this is freed. */
#define HTTP_POOL_MAX 256

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST };

/* An easy handle lent to one run. */
struct easy_slot {
	CURL *easy;
	struct easy_slot *next;
	char errbuf[CURL_ERROR_SIZE];
};

static struct easy_slot *pool;
static size_t pool_idle;
static size_t live_probes;

struct http_probe {
	struct curl_loop *loop;
	struct probe *owner;
	struct easy_slot *slot; /* the run in flight, or NULL */
	char *url;
	unsigned shard_key; /* same target, same connection cache: see curl_loop.c */
	enum http_method method;
	bool tls_verify;
	long timeout_ms; /* curl's backstop, 0 = none */
	int *expect;
	size_t n_expect;
	char *expect_body; /* NULL: not checked */
	int sock_errno;    /* this run's socket() failed so (vigil's fault, not the node's) */
	char *body;        /* this run's body so far, when checked */
	size_t body_len;
	size_t body_cap;
};

static struct easy_slot *slot_get(void)
{
	struct easy_slot *s = pool;

	if (s != NULL) {
		pool = s->next;
		pool_idle--;
		return s;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->easy = curl_easy_init();
	if (s->easy == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void slot_free(struct easy_slot *s)
{
	curl_easy_cleanup(s->easy);
	free(s);
}

/* Back to the pool with every option cleared (connections stay in the multi). */
static void slot_put(struct easy_slot *s)
{
	if (pool_idle >= HTTP_POOL_MAX) {
		slot_free(s);
		return;
	}
	curl_easy_reset(s->easy);
	s->errbuf[0] = '\0';
	s->next = pool;
	pool = s;
	pool_idle++;
}

static void pool_drain(void)
{
	while (pool != NULL) {
		struct easy_slot *s = pool;
		pool = s->next;
		slot_free(s);
	}
	pool_idle = 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_probe *h = arg;
	size_t len = size * nmemb;

	if (h->expect_body == NULL || h->body_len >= HTTP_BODY_MAX)
		return len; /* discarded, but read to the end so the connection stays reusable */
	size_t keep = HTTP_BODY_MAX - h->body_len < len ? HTTP_BODY_MAX - h->body_len : len;
	if (h->body_len + keep + 1 > h->body_cap) {
		size_t cap = h->body_cap ? h->body_cap : 4096;
		while (cap < h->body_len + keep + 1)
			cap *= 2;
		char *nb = realloc(h->body, cap);
		if (nb == NULL)
			return 0; /* curl ends the run with CURLE_WRITE_ERROR */
		h->body = nb;
		h->body_cap = cap;
	}
	memcpy(h->body + h->body_len, data, keep);
	h->body_len += keep;
	h->body[h->body_len] = '\0';
	return len;
}

static void body_reset(struct http_probe *h)
{
	free(h->body);
	h->body = NULL;
	h->body_len = 0;
	h->body_cap = 0;
}

static int parse_method(const char *s, enum http_method *m, char *err, size_t errlen)
{
	if (s == NULL || strcasecmp(s, "GET") == 0)
		*m = HTTP_GET;
	else if (strcasecmp(s, "HEAD") == 0)
		*m = HTTP_HEAD;
	else if (strcasecmp(s, "POST") == 0)
		*m = HTTP_POST;
	else {
		snprintf(err, errlen, "http probe: method \"%s\" not supported "
			 "(GET, HEAD or POST)", s);
		return -1;
	}
	return 0;
}

/*
 * curl's socket(), so that a socket vigil could not get (EMFILE, ENOBUFS)
 * is told apart from a node that refused: curl reports both alike.
 */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_probe *h = arg;
	int fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0)
		h->sock_errno = errno;
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* Set up a freshly reset handle for one run of h. */
static CURLcode configure(struct http_probe *h, struct easy_slot *s)
{
	CURL *e = s->easy;
	long verify = h->tls_verify ? 1L : 0L;
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, h->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_NOSIGNAL, 1L);
	/* A health check must reach the node itself, never a proxy from the environment. */
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_USERAGENT, "vigil/0.1");
	SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, verify);
	SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_OPENSOCKETDATA, h);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_BUFFERSIZE, HTTP_BUFFER_SIZE);
	/*
	 * Addresses are numeric, so the "DNS" cache only holds parsed literals;
	 * never expiring them spares libcurl a prune walk over the cache after
	 * every transfer.
	 */
	SET(CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	if (h->method == HTTP_HEAD)
		SET(CURLOPT_NOBODY, 1L);
	if (h->method == HTTP_POST) {
		SET(CURLOPT_POSTFIELDS, "");
		SET(CURLOPT_POSTFIELDSIZE, 0L);
	}
#undef SET
	return rc;
}

static void http_free(void *impl);

/* FNV-1a of an address: probes of one target share a connection cache. */
static unsigned address_key(const char *address)
{
	uint32_t h = 2166136261u;

	for (; *address; address++)
		h = (h ^ (unsigned char)*address) * 16777619u;
	return h;
}

static void *http_new(const struct probe_env *env, const struct conf_probe *conf,
		      const struct conf_node *node, const struct conf_node *via,
		      const char *cluster, char *err, size_t errlen)
{
	struct probe_vars pv;
	struct http_probe *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		snprintf(err, errlen, "http probe: out of memory");
		return NULL;
	}
	live_probes++;
	probe_vars_init(&pv, node, via, cluster);
	h->loop = env->curl;
	/*
	 * The key only steers connection reuse, never correctness.  A via
	 * probe's URL names the via node (that is what via is for), so its
	 * probes of every node share the via node's connections.
	 */
	h->shard_key = address_key(via != NULL ? via->address : node->address);
	h->tls_verify = conf->tls_verify;
	h->timeout_ms = conf->timeout_ms > 0 ?
		(long)conf->timeout_ms + HTTP_TIMEOUT_MARGIN_MS : 0L;
	if (parse_method(conf->method, &h->method, err, errlen) < 0) {
		http_free(h);
		return NULL;
	}
	h->url = tmpl_expand(conf->url ? conf->url : "", pv.v, pv.n, err, errlen);
	if (h->url == NULL) {
		char why[192];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "http probe: url: %s", why);
		http_free(h);
		return NULL;
	}
	size_t n = conf->n_expect_status > 0 ? conf->n_expect_status : 1;
	h->expect = calloc(n, sizeof(*h->expect));
	/* An empty substring is in every body: nothing to check. */
	bool check_body = conf->expect_body != NULL && conf->expect_body[0] != '\0';
	if (check_body)
		h->expect_body = strdup(conf->expect_body);
	if (h->expect == NULL || (check_body && h->expect_body == NULL)) {
		snprintf(err, errlen, "http probe: out of memory");
		http_free(h);
		return NULL;
	}
	h->n_expect = n;
	if (conf->n_expect_status > 0)
		memcpy(h->expect, conf->expect_status, n * sizeof(*h->expect));
	else
		h->expect[0] = 200;
	return h;
}

/* Which probe_status a transfer error is. */
static enum probe_status classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return PROBE_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return PROBE_ERR_TLS;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_WRITE_ERROR:
		return PROBE_ERR_LOCAL; /* vigil could not run the transfer */
	default:
		/* Refused, reset, empty or garbled replies: the node did not answer HTTP. */
		return PROBE_ERR_CONNECT;
	}
}

static bool status_expected(const struct http_probe *h, long code)
{
	for (size_t i = 0; i < h->n_expect; i++)
		if (h->expect[i] == code)
			return true;
	return false;
}

/* The verdict on a finished transfer, written into detail. */
static enum probe_status judge(struct http_probe *h, CURLcode rc, char *detail, size_t len)
{
	const char *why = h->slot->errbuf;
	long code = 0, os_errno = 0;
	char errtext[64];

	if (rc != CURLE_OK && h->sock_errno) {
		snprintf(detail, len, "local: socket: %s",
			 fd_errno_text(h->sock_errno, errtext, sizeof(errtext)));
		return PROBE_ERR_LOCAL;
	}
	if (rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(h->slot->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
	    fd_errno_is_local((int)os_errno)) {
		snprintf(detail, len, "local: connect: %s",
			 fd_errno_text((int)os_errno, errtext, sizeof(errtext)));
		return PROBE_ERR_LOCAL;
	}
	if (rc != CURLE_OK) {
		enum probe_status st = classify(rc);
		snprintf(detail, len, "%s: %.140s", probe_status_str(st),
			 why[0] ? why : curl_easy_strerror(rc));
		return st;
	}
	curl_easy_getinfo(h->slot->easy, CURLINFO_RESPONSE_CODE, &code);
	if (!status_expected(h, code)) {
		snprintf(detail, len, "status %ld", code);
		return PROBE_ERR_STATUS;
	}
	if (h->expect_body != NULL &&
	    (h->body == NULL ||
	     memmem(h->body, h->body_len, h->expect_body, strlen(h->expect_body)) == NULL)) {
		snprintf(detail, len, "status %ld, body lacks \"%.60s\"", code, h->expect_body);
		return PROBE_ERR_BODY;
	}
	snprintf(detail, len, "status %ld", code);
	return PROBE_OK;
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct http_probe *h = arg;
	char detail[160];

	(void)easy;
	enum probe_status st = judge(h, rc, detail, sizeof(detail));
	slot_put(h->slot);
	h->slot = NULL;
	body_reset(h);
	/* Last: the report may free this probe. */
	probe_report(h->owner, st, detail);
}

static int http_start(void *impl, struct probe *owner, char *err, size_t errlen)
{
	struct http_probe *h = impl;
	struct easy_slot *s = slot_get();

	h->owner = owner;
	h->sock_errno = 0;
	body_reset(h);
	if (s == NULL) {
		snprintf(err, errlen, "http probe: cannot create curl handle");
		return -1;
	}
	CURLcode rc = configure(h, s);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "http probe: %s", curl_easy_strerror(rc));
		slot_put(s);
		return -1;
	}
	if (curl_loop_add_keyed(h->loop, h->shard_key, s->easy, on_done, h) < 0) {
		snprintf(err, errlen, "http probe: cannot start transfer");
		slot_put(s);
		return -1;
	}
	h->slot = s;
	return 0;
}

static void http_cancel(void *impl)
{
	struct http_probe *h = impl;

	if (h->slot != NULL) {
		curl_loop_remove(h->loop, h->slot->easy);
		slot_put(h->slot);
		h->slot = NULL;
	}
	body_reset(h);
}

static void http_free(void *impl)
{
	struct http_probe *h = impl;

	if (h == NULL)
		return;
	http_cancel(h);
	free(h->url);
	free(h->expect);
	free(h->expect_body);
	free(h);
	if (--live_probes == 0)
		pool_drain();
}

const struct probe_ops probe_http_ops = {
	.name = "http",
	.new = http_new,
	.start = http_start,
	.cancel = http_cancel,
	.free = http_free,
};
