/*
 * tests/unit/test_backup_s3_live.c — the S3 store against s3rver, most
 * requests going through s3_fault_proxy.py (signature and digest checks,
 * injected faults).  Run from test_backup_s3.c's main when s3rver is
 * installed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/backup/store_s3.h"
#include "actions/backup/store_s3_int.h"
#include "tests/unit/s3_fixture.h"

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)seed;
	}
}

static void put_ok(struct bk_store *s, const char *name, const void *d, size_t n)
{
	char err[512] = "";

	ck_assert_msg(s->ops->put(s, name, d, n, err, sizeof(err)) == 0, "put %s: %s", name, err);
}

static void get_eq(struct bk_store *s, const char *name, const void *d, size_t n)
{
	uint8_t *got = NULL;
	size_t len = 0;
	char err[512] = "";

	ck_assert_msg(s->ops->get(s, name, n + 100, &got, &len, err, sizeof(err)) == 0,
		      "get %s: %s", name, err);
	ck_assert_uint_eq(len, n);
	ck_assert_msg(n == 0 || memcmp(got, d, n) == 0, "get %s: other bytes", name);
	ck_assert_int_eq(got[len], 0); /* NUL-terminated, like the local store */
	free(got);
}

static int rc_of_size(struct bk_store *s, const char *name, uint64_t *size)
{
	char err[512] = "";
	int rc = s->ops->size(s, name, size, err, sizeof(err));

	ck_assert_msg(rc >= 0, "size %s: %s", name, err);
	return rc;
}

static struct bk_store *proxied(struct s3f_proxy *p, const char *const *args, const char *prefix,
				struct bk_s3_config *c)
{
	const char *all[24];
	int n = 0;

	/* Signatures are counted for this test's own objects only (see the proxy's --prefix). */
	for (; args && args[n] && n < 20; n++)
		all[n] = args[n];
	if (prefix && prefix[0]) {
		all[n++] = "--prefix";
		all[n++] = prefix;
	}
	all[n] = NULL;
	s3f_proxy_start(p, all);
	s3f_config(c, p->port, prefix, S3F_KEY_ID, S3F_SECRET);
	return s3f_store(c);
}

START_TEST(objects_round_trip)
{
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	char prefix[160], err[512] = "", name[128];
	static uint8_t big[300000], part[5000];
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t size = 0;
	struct bk_store *s;

	/* Every character class the signature's canonical forms care about. */
	snprintf(prefix, sizeof(prefix), "/%s/odd pre+fix=&~ü%%/", s3f_unique_prefix("obj"));
	s = proxied(&p, NULL, prefix, &c);
	fill(big, sizeof(big), 1);
	snprintf(name, sizeof(name), "data/ab/ab%062d", 7);
	put_ok(s, "config", "{\"v\":1}", 7);
	get_eq(s, "config", "{\"v\":1}", 7);
	put_ok(s, "config", "{\"v\":2, \"x\":[]}", 15); /* replaced whole */
	get_eq(s, "config", "{\"v\":2, \"x\":[]}", 15);
	put_ok(s, name, big, sizeof(big));
	get_eq(s, name, big, sizeof(big));
	ck_assert_int_eq(rc_of_size(s, name, &size), 0);
	ck_assert_uint_eq(size, sizeof(big));
	ck_assert_int_eq(s->ops->read_at(s, name, 1000, part, sizeof(part), err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(part, big + 1000, sizeof(part)), 0);
	ck_assert_int_eq(s->ops->read_at(s, name, sizeof(big) - 10, part, 10, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(part, big + sizeof(big) - 10, 10), 0);
	ck_assert_int_eq(s->ops->read_at(s, name, sizeof(big) - 5, part, 10, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "shorter than its index says"), "%s", err);
	ck_assert_int_eq(s->ops->read_at(s, name, sizeof(big) + 5, part, 10, err, sizeof(err)), -1);
	ck_assert_int_eq(s->ops->get(s, name, 1000, &got, &len, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "larger than 1000 bytes"), "%s", err);
	put_ok(s, "empty", "", 0);
	get_eq(s, "empty", "", 0);
	ck_assert_int_eq(rc_of_size(s, "empty", &size), 0);
	ck_assert_uint_eq(size, 0);
	/* Missing objects answer 1; removing one is success. */
	ck_assert_int_eq(s->ops->get(s, "nope", 100, &got, &len, err, sizeof(err)), 1);
	ck_assert_int_eq(rc_of_size(s, "nope", &size), 1);
	ck_assert_int_eq(s->ops->read_at(s, "nope", 0, part, 4, err, sizeof(err)), 1);
	ck_assert_int_eq(s->ops->remove(s, "nope", err, sizeof(err)), 0);
	ck_assert_int_eq(s->ops->remove(s, "config", err, sizeof(err)), 0);
	ck_assert_int_eq(s->ops->get(s, "config", 100, &got, &len, err, sizeof(err)), 1);
	bk_store_free(s);
	s3f_assert_signed_right(&p);
	ck_assert_int_ge(s3f_proxy_stat(&p, "sig_ok"), 20);
	s3f_proxy_stop(&p);
}
END_TEST

struct names {
	char *v[256];
	int n, stop_after, stop_with;
	struct bk_store *s; /* when set, read each object from inside the callback */
};

static int add_name(void *arg, const char *name)
{
	struct names *l = arg;
	uint8_t *d = NULL;
	size_t len = 0;
	char err[256];

	ck_assert_int_lt(l->n, 256);
	l->v[l->n++] = strdup(name);
	if (l->s)
		ck_assert_msg(l->s->ops->get(l->s, name, 1024, &d, &len, err, sizeof(err)) == 0,
			      "get %s inside list: %s", name, err);
	free(d);
	return l->stop_after && l->n == l->stop_after ? l->stop_with : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(struct names *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

START_TEST(list_follows_continuation_tokens)
{
	const char *prefix = s3f_unique_prefix("list");
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c, c2;
	struct names l = { .n = 0 };
	char name[128], other[128], err[512] = "";
	struct bk_store *s, *s2;

	s = proxied(&p, NULL, prefix, &c);
	c.max_keys = 7;
	bk_store_free(s);
	s = s3f_store(&c);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "data/%02x/%02x%062d", i * 4, i * 4, i);
		put_ok(s, name, name, strlen(name));
	}
	put_ok(s, "index/aa", "i", 1);
	put_ok(s, "data", "not under data/", 15);
	/* A neighbour whose prefix starts with ours must stay out. */
	snprintf(other, sizeof(other), "%sx", prefix);
	s3f_config(&c2, p.port, other, S3F_KEY_ID, S3F_SECRET);
	s2 = s3f_store(&c2);
	put_ok(s2, "data/00/zz", "z", 1);
	bk_store_free(s2);

	l.s = s;
	ck_assert_msg(s->ops->list(s, "data", add_name, &l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(l.n, 60);
	qsort(l.v, (size_t)l.n, sizeof(l.v[0]), by_name);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "data/%02x/%02x%062d", i * 4, i * 4, i);
		ck_assert_str_eq(l.v[i], name);
	}
	names_free(&l);
	/* The callback's non-zero value stops the listing and comes back. */
	l = (struct names){ .stop_after = 10, .stop_with = 9 };
	ck_assert_int_eq(s->ops->list(s, "data", add_name, &l, err, sizeof(err)), 9);
	ck_assert_int_eq(l.n, 10);
	names_free(&l);
	l = (struct names){ .n = 0 };
	ck_assert_int_eq(s->ops->list(s, "snapshots", add_name, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 0);
	bk_store_free(s);
	/* 60 keys 7 at a time is 9 pages, every one signed right. */
	ck_assert_int_ge(s3f_proxy_stat(&p, "requests"), 63 + 9 + 60 + 2 + 1);
	s3f_assert_signed_right(&p);
	s3f_proxy_stop(&p);
}
END_TEST

static int count_name(void *arg, const char *name)
{
	(void)name;
	++*(int *)arg;
	return 0;
}

START_TEST(list_more_than_a_thousand)
{
	struct bk_s3_config c;
	struct bk_store *s;
	char name[64], err[512] = "";
	int n = 0;

	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("many"), S3F_KEY_ID, S3F_SECRET);
	s = s3f_store(&c);
	for (int i = 0; i < 1003; i++) {
		snprintf(name, sizeof(name), "index/%04d", i);
		put_ok(s, name, "", 0);
	}
	ck_assert_msg(s->ops->list(s, "index", count_name, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n, 1003);
	bk_store_free(s);
}
END_TEST

static void assert_put_new(struct bk_store *s, const char *name, const char *text, int want)
{
	char err[512] = "";
	int rc = s->ops->put_new(s, name, text, strlen(text), err, sizeof(err));

	ck_assert_msg(rc == want, "put_new %s: %d, wanted %d (%s)", name, rc, want, err);
}

START_TEST(put_new_refuses_an_existing_object)
{
	const char *direct_args[] = { "--conditional", NULL };
	const char *drop_args[] = { "--conditional", "--drop-first-conditional", NULL };
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	struct bk_store *s;

	/* s3rver ignores If-None-Match: the HEAD before the PUT refuses. */
	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("new"), S3F_KEY_ID, S3F_SECRET);
	s = s3f_store(&c);
	assert_put_new(s, "lock", "first", 0);
	assert_put_new(s, "lock", "second", 1);
	get_eq(s, "lock", "first", 5);
	bk_store_free(s);

	/* A server that honours it: no HEAD, one conditional PUT, 412 means 1. */
	s = proxied(&p, direct_args, s3f_unique_prefix("new"), &c);
	bk_store_free(s);
	c.conditional_put_trusted = true;
	s = s3f_store(&c);
	assert_put_new(s, "lock", "first", 0);
	assert_put_new(s, "lock", "second", 1);
	get_eq(s, "lock", "first", 5);
	bk_store_free(s);
	ck_assert_int_eq(s3f_proxy_stat(&p, "conditional_412"), 1);
	/* PUT, PUT answered 412, the GET reading it back, get_eq's GET: no HEAD. */
	ck_assert_int_eq(s3f_proxy_stat(&p, "requests"), 4);
	s3f_proxy_stop(&p);

	/* Our own PUT whose answer was lost: the retry's 412 is read back as ours. */
	s = proxied(&p, drop_args, s3f_unique_prefix("new"), &c);
	bk_store_free(s);
	c.conditional_put_trusted = true;
	s = s3f_store(&c);
	assert_put_new(s, "lock", "mine", 0);
	assert_put_new(s, "lock", "theirs", 1);
	get_eq(s, "lock", "mine", 4);
	bk_store_free(s);
	ck_assert_int_eq(s3f_proxy_stat(&p, "dropped"), 1);
	ck_assert_int_eq(s3f_proxy_stat(&p, "conditional_412"), 2);
	s3f_proxy_stop(&p);
}
END_TEST

START_TEST(faults_are_retried_to_success)
{
	const char *args[] = { "--faults", "e.b.t.r.s.h.c..", "--stall", "4", NULL };
	const char *prefix = s3f_unique_prefix("faults");
	static uint8_t data[10][40000];
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	char name[64], err[512] = "";
	uint8_t part[1000];
	uint64_t size;
	int n = 0, ops = 0;
	struct bk_store *s;

	s = proxied(&p, args, prefix, &c);
	bk_store_free(s);
	c.low_speed_s = 1;
	s = s3f_store(&c);
	for (int i = 0; i < 10; i++) {
		fill(data[i], sizeof(data[i]), (uint64_t)i + 100);
		snprintf(name, sizeof(name), "data/%02d/obj", i);
		put_ok(s, name, data[i], sizeof(data[i]) - (size_t)i * 1000);
		ops++;
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "data/%02d/obj", i);
		get_eq(s, name, data[i], sizeof(data[i]) - (size_t)i * 1000);
		ck_assert_msg(s->ops->read_at(s, name, 2000, part, sizeof(part), err, sizeof(err)) == 0,
			      "read_at %s: %s", name, err);
		ck_assert_int_eq(memcmp(part, data[i] + 2000, sizeof(part)), 0);
		ck_assert_int_eq(rc_of_size(s, name, &size), 0);
		ck_assert_uint_eq(size, sizeof(data[i]) - (size_t)i * 1000);
		ops += 3;
	}
	for (int i = 0; i < 10; i += 2) {
		snprintf(name, sizeof(name), "data/%02d/obj", i);
		ck_assert_msg(s->ops->remove(s, name, err, sizeof(err)) == 0, "remove: %s", err);
		ops++;
	}
	ck_assert_msg(s->ops->list(s, "data", count_name, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n, 5);
	bk_store_free(s);
	/* Every kind of fault was met, and retried past. */
	ck_assert_int_ge(s3f_proxy_stat(&p, "faults"), 7);
	ck_assert_int_gt(s3f_proxy_stat(&p, "requests"), ops + 7);
	s3f_assert_signed_right(&p);
	s3f_proxy_stop(&p);
}
END_TEST

START_TEST(retries_are_bounded)
{
	const char *always_500[] = { "--faults", "e", NULL };
	const char *always_stall[] = { "--faults", "s", "--stall", "30", NULL };
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	char err[512] = "";
	unsigned long long t0;
	uint8_t *d = NULL;
	size_t len;
	struct bk_store *s;

	s = proxied(&p, always_500, s3f_unique_prefix("bound"), &c);
	bk_store_free(s);
	c.attempts = 3;
	s = s3f_store(&c);
	t0 = s3f_now_ms();
	ck_assert_int_eq(s->ops->put(s, "x", "y", 1, err, sizeof(err)), -1);
	ck_assert_uint_lt(s3f_now_ms() - t0, 3000);
	ck_assert_msg(strstr(err, "HTTP 500 InternalError: injected (after 3 attempts)"), "%s", err);
	ck_assert_int_eq(s3f_proxy_stat(&p, "requests"), 3);
	bk_store_free(s);
	s3f_proxy_stop(&p);

	/* A server that accepts and never answers: abandoned after low_speed_s each time. */
	s = proxied(&p, always_stall, s3f_unique_prefix("bound"), &c);
	bk_store_free(s);
	c.attempts = 2;
	c.low_speed_s = 1;
	s = s3f_store(&c);
	t0 = s3f_now_ms();
	ck_assert_int_eq(s->ops->get(s, "x", 10, &d, &len, err, sizeof(err)), -1);
	ck_assert_uint_lt(s3f_now_ms() - t0, 8000);
	ck_assert_msg(strstr(err, "s3 GET s3://" S3F_BUCKET "/") && strstr(err, "(after 2 attempts)"),
		      "%s", err);
	ck_assert_int_eq(s3f_proxy_stat(&p, "requests"), 2);
	bk_store_free(s);
	s3f_proxy_stop(&p);
}
END_TEST

static void assert_clean_error(const char *err, const char *want, const char *secret)
{
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
	ck_assert_msg(strstr(err, secret) == NULL, "error shows the secret: %s", err);
}

START_TEST(wrong_credentials_fail_clearly)
{
	const char *secret = "very-secret-value-1";
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	char err[512] = "";
	uint8_t *d = NULL;
	size_t len;
	uint64_t size;
	struct bk_store *s;

	/* An unknown key id, straight to s3rver: 403 at once, not retried. */
	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("cred"), "NOT-A-KEY", secret);
	s = s3f_store(&c);
	ck_assert_int_eq(s->ops->put(s, "x", "y", 1, err, sizeof(err)), -1);
	assert_clean_error(err, "HTTP 403 InvalidAccessKeyId", secret);
	assert_clean_error(err, "(after 1 attempt)", secret);
	bk_store_free(s);
	ck_assert_ptr_null(bk_store_s3_new(&c, true, err, sizeof(err)));
	assert_clean_error(err, "HTTP 403", secret);
	assert_clean_error(err, "check the credentials", secret);

	/* The right key id with a wrong secret: the signature check refuses it. */
	s3f_proxy_start(&p, NULL);
	s3f_config(&c, p.port, s3f_unique_prefix("cred"), S3F_KEY_ID, secret);
	s = s3f_store(&c);
	ck_assert_int_eq(s->ops->get(s, "config", 100, &d, &len, err, sizeof(err)), -1);
	assert_clean_error(err, "HTTP 403 SignatureDoesNotMatch", secret);
	ck_assert_int_eq(s->ops->size(s, "config", &size, err, sizeof(err)), -1);
	assert_clean_error(err, "HTTP 403", secret);
	bk_store_free(s);
	ck_assert_int_eq(s3f_proxy_stat(&p, "sig_bad"), 2);
	s3f_proxy_stop(&p);
}
END_TEST

START_TEST(session_token_from_the_environment)
{
	const char *args[] = { "--token", "tok-GOOD-1234", NULL };
	struct s3f_proxy p = { .pid = -1 };
	struct bk_s3_config c;
	char err[512] = "";
	struct bk_store *s;

	s3f_proxy_start(&p, args);
	s3f_config(&c, p.port, s3f_unique_prefix("tok"), NULL, NULL);
	setenv("AWS_ACCESS_KEY_ID", S3F_KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", S3F_SECRET, 1);
	setenv("AWS_SESSION_TOKEN", "tok-GOOD-1234", 1);
	s = s3f_store(&c);
	put_ok(s, "config", "abc", 3);
	get_eq(s, "config", "abc", 3);
	bk_store_free(s);
	/* The proxy echoes a wrong token in its message; the error must not. */
	setenv("AWS_SESSION_TOKEN", "tok-BAD-5678", 1);
	s = s3f_store(&c);
	ck_assert_int_eq(s->ops->put(s, "config", "abc", 3, err, sizeof(err)), -1);
	assert_clean_error(err, "HTTP 403 InvalidToken: The provided token *** is invalid",
			   "tok-BAD-5678");
	bk_store_free(s);
	s3f_assert_signed_right(&p);
	s3f_proxy_stop(&p);
}
END_TEST

START_TEST(create_and_missing_bucket)
{
	struct bk_s3_config c;
	char err[512] = "";
	uint8_t *d = NULL;
	size_t len;
	struct bk_store *s;

	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("create"), S3F_KEY_ID, S3F_SECRET);
	s = bk_store_s3_new(&c, true, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	put_ok(s, "config", "{}", 2);
	bk_store_free(s);
	ck_assert_ptr_null(bk_store_s3_new(&c, true, err, sizeof(err)));
	ck_assert_msg(strstr(err, "already a repository"), "%s", err);
	/* A missing bucket is an error, never a missing object. */
	c.bucket = "no-such-bucket";
	s = s3f_store(&c);
	ck_assert_int_eq(s->ops->get(s, "config", 100, &d, &len, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "HTTP 404 NoSuchBucket"), "%s", err);
	ck_assert_int_eq(s->ops->remove(s, "config", err, sizeof(err)), -1);
	bk_store_free(s);
}
END_TEST

START_TEST(lazy_puts_sync_and_discard)
{
	struct bk_s3_config c;
	char err[512] = "";
	uint64_t size;
	struct bk_store *s;

	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("lazy"), S3F_KEY_ID, S3F_SECRET);
	s = s3f_store(&c);
	ck_assert_int_eq(s->ops->put_lazy(s, "data/aa/1", "one", 3, err, sizeof(err)), 0);
	ck_assert_int_eq(s->ops->put_lazy(s, "data/aa/2", "two", 3, err, sizeof(err)), 0);
	ck_assert_int_eq(s->ops->sync(s, err, sizeof(err)), 0);
	ck_assert_int_eq(s->ops->put_lazy(s, "data/aa/3", "three", 5, err, sizeof(err)), 0);
	s->ops->discard(s);
	get_eq(s, "data/aa/1", "one", 3);
	get_eq(s, "data/aa/2", "two", 3);
	ck_assert_int_eq(rc_of_size(s, "data/aa/3", &size), 1);
	ck_assert_int_eq(s->ops->clean(s, err, sizeof(err)), 0);
	bk_store_free(s);
}
END_TEST

START_TEST(virtual_host_style)
{
	struct bk_s3_config c;
	char endpoint[64], want[96], err[512] = "";
	int n = 0;
	struct bk_store *s;

	s3f_config(&c, s3f_server_port(), s3f_unique_prefix("vhost"), S3F_KEY_ID, S3F_SECRET);
	snprintf(endpoint, sizeof(endpoint), "http://s3.localhost:%d/", s3f_server_port());
	c.endpoint = endpoint;
	c.path_style = false;
	s = s3f_store(&c);
	snprintf(want, sizeof(want), "http://%s.s3.localhost:%d/", S3F_BUCKET, s3f_server_port());
	ck_assert_str_eq(((struct s3 *)s)->base_url, want);
	put_ok(s, "index/aa", "vh", 2);
	get_eq(s, "index/aa", "vh", 2);
	ck_assert_msg(s->ops->list(s, "index", count_name, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n, 1);
	bk_store_free(s);
	/* The same object, seen path-style: both forms address one bucket. */
	c.endpoint = NULL;
	s3f_config(&c, s3f_server_port(), c.prefix, S3F_KEY_ID, S3F_SECRET);
	s = s3f_store(&c);
	get_eq(s, "index/aa", "vh", 2);
	bk_store_free(s);
}
END_TEST

TCase *s3f_live_tcase(void)
{
	TCase *tc = tcase_create("s3rver");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, objects_round_trip);
	tcase_add_test(tc, list_follows_continuation_tokens);
	tcase_add_test(tc, list_more_than_a_thousand);
	tcase_add_test(tc, put_new_refuses_an_existing_object);
	tcase_add_test(tc, faults_are_retried_to_success);
	tcase_add_test(tc, retries_are_bounded);
	tcase_add_test(tc, wrong_credentials_fail_clearly);
	tcase_add_test(tc, session_token_from_the_environment);
	tcase_add_test(tc, create_and_missing_bucket);
	tcase_add_test(tc, lazy_puts_sync_and_discard);
	tcase_add_test(tc, virtual_host_style);
	return tc;
}
