/*
 * tests/unit/test_backup_writer.c — the writer's encoder threads: jobs
 * come back in submission order whatever the workers do, a threaded writer
 * builds byte for byte the packs and index files a single-threaded one
 * does (an unencrypted repository has no random nonces, so the names must
 * match), a chunk repeated while its first copy is still being encoded is
 * stored once, and a worker's failure reaches the caller as "encode chunk
 * <id>: why" without a deadlock, leaving nothing pending in the index.
 * And the writer compresses at the level the repository's config names.
 */
#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/unit/harness.h"
#include "actions/backup/encoder.h"
#include "actions/backup/writer.h"
#include "tests/unit/backup_fixture.h"
#include "tests/unit/unit_util.h"

#define NJOBS 2000

static char tmp[256];

static void setup(void)
{
	bkf_tmpdir(tmp, sizeof(tmp), "writer");
}

static void teardown(void)
{
	unit_rm_tree(tmp);
}

/* Sleep up to 200 us, so later jobs often finish before earlier ones. */
static void jitter(const void *p, size_t len)
{
	struct timespec ts = { 0, 0 };

	if (len > 0)
		ts.tv_nsec = (((const uint8_t *)p)[0] % 8) * 25000;
	nanosleep(&ts, NULL);
}

/* "stored" form for the order test: a marker byte, then the plaintext. */
static int tag_encode(struct bk_codec *c, const void *plain, size_t len, struct bk_buf *out,
		      char *err, size_t errlen)
{
	(void)c;
	jitter(plain, len);
	if (len >= 4 && memcmp(plain, "FAIL", 4) == 0) {
		snprintf(err, errlen, "injected failure");
		return -1;
	}
	if (bk_buf_append(out, "T", 1) < 0 || bk_buf_append(out, plain, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Job i's plaintext: its number, then pseudo-random bytes of a varying length. */
static size_t job_plain(uint8_t *buf, unsigned i)
{
	uint64_t seed = i + 1;
	size_t n = 16 + (i * 7919) % 3000;

	bkf_fill(buf, n, &seed);
	memcpy(buf, &i, sizeof(i));
	return n;
}

static void check_job(const struct bk_encoded *job, unsigned i)
{
	uint8_t want[4096];
	size_t n = job_plain(want, i);

	ck_assert_uint_eq(job->raw_len, n);
	ck_assert_uint_eq(job->stored_len, n + 1);
	ck_assert_int_eq(job->stored[0], 'T');
	ck_assert_int_eq(memcmp(job->stored + 1, want, n), 0);
	ck_assert_int_eq(job->id[0], (uint8_t)i);
}

START_TEST(encoder_returns_jobs_in_order)
{
	struct bk_codec *c;
	struct bk_encoder *e;
	struct bk_encoded job;
	uint8_t buf[4096], id[BK_ID_LEN] = { 0 };
	unsigned next = 0;
	char err[256] = "";

	c = bk_codec_new(NULL, 3, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	e = bk_encoder_new(c, 3, tag_encode, err, sizeof(err));
	ck_assert_msg(e != NULL, "%s", err);
	for (unsigned i = 0; i < NJOBS; i++) {
		size_t n = job_plain(buf, i);

		while (bk_encoder_full(e, n)) {
			ck_assert_int_eq(bk_encoder_next(e, true, &job, err, sizeof(err)), 0);
			check_job(&job, next++);
			bk_encoder_release(e);
		}
		id[0] = (uint8_t)i;
		ck_assert_int_eq(bk_encoder_submit(e, id, buf, n, err, sizeof(err)), 0);
	}
	while (bk_encoder_next(e, true, &job, err, sizeof(err)) == 0) {
		check_job(&job, next++);
		bk_encoder_release(e);
	}
	ck_assert_uint_eq(next, NJOBS);
	ck_assert_uint_eq(bk_encoder_pending(e), 0);
	bk_encoder_free(e);
	bk_codec_free(c);
}
END_TEST

/* A failed job is reported when its turn comes; freeing with jobs queued does not hang. */
START_TEST(encoder_failure_is_reported_in_turn)
{
	char err[256] = "";
	struct bk_codec *c = bk_codec_new(NULL, 3, err, sizeof(err));
	struct bk_encoder *e;
	struct bk_encoded job;
	uint8_t buf[4096], id[BK_ID_LEN] = { 0 };
	int rc = 0;
	unsigned i, got = 0;

	ck_assert_ptr_nonnull(c);
	e = bk_encoder_new(c, 2, tag_encode, err, sizeof(err));
	ck_assert_msg(e != NULL, "%s", err);
	for (i = 0; i < 20; i++) {
		size_t n = job_plain(buf, i);

		if (i == 10)
			memcpy(buf, "FAIL", 4);
		memset(id, 0xab, sizeof(id));
		ck_assert_int_eq(bk_encoder_submit(e, id, buf, n, err, sizeof(err)), 0);
	}
	while ((rc = bk_encoder_next(e, true, &job, err, sizeof(err))) == 0) {
		got++;
		bk_encoder_release(e);
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_uint_eq(got, 10);
	ck_assert_str_eq(err, "encode chunk abababababababab: injected failure");
	ck_assert_uint_eq(bk_encoder_pending(e), 10);
	bk_encoder_free(e);
	bk_codec_free(c);
}
END_TEST

/* Sorted "path size" lines of every file under repo/data and repo/index. */
static char *repo_listing(const char *repo)
{
	char cmd[PATH_MAX + 128], *text = calloc(1, 1 << 20);
	size_t used = 0, n;
	FILE *p;

	ck_assert_ptr_nonnull(text);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find data index -type f -printf '%%p %%s\\n' | LC_ALL=C sort", repo);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while ((n = fread(text + used, 1, (1 << 20) - 1 - used, p)) > 0)
		used += n;
	ck_assert_int_eq(pclose(p), 0);
	return text;
}

/*
 * Compressible chunks of varying sizes, some repeated right after their
 * first copy (still being encoded then) and some much later.
 */
static void write_chunks(struct bk_writer *w, uint64_t *distinct)
{
	uint8_t buf[40000], id[BK_ID_LEN];
	bool seen[600] = { false };
	char err[512] = "";

	*distinct = 0;
	for (unsigned i = 0; i < 600; i++) {
		unsigned k = i % 7 == 3 ? i - 1 : i % 11 == 5 ? i / 2 : i;
		uint64_t seed = k * 31 + 7;
		size_t n = 1000 + (k * 104729) % (sizeof(buf) - 1000);

		bkf_fill(buf, n / 3, &seed);
		/* Repeat the random third so zstd has something to find. */
		memcpy(buf + n / 3, buf, n / 3);
		memcpy(buf + 2 * (n / 3), buf, n - 2 * (n / 3));
		memcpy(buf, &k, sizeof(k));
		ck_assert_msg(bk_writer_chunk(w, buf, n, id, err, sizeof(err)) == 0, "%s", err);
		if (!seen[k])
			(*distinct)++;
		seen[k] = true;
	}
	ck_assert_msg(bk_writer_index(w, err, sizeof(err)) == 0, "%s", err);
}

static char *write_repo(const char *name, unsigned threads, uint64_t *chunks_new,
			uint64_t *packs)
{
	char path[512], err[512] = "", *listing;
	struct bk_repo *r;
	struct bk_writer w;
	uint64_t distinct;

	bkf_join(path, sizeof(path), tmp, name);
	r = bkf_repo(path, NULL, 64u << 10);
	ck_assert_msg(bk_repo_lock(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(bk_writer_init(&w, r, err, sizeof(err)), 0);
	w.threads = threads;
	write_chunks(&w, &distinct);
	ck_assert_uint_eq(w.chunks_new, distinct);
	*chunks_new = w.chunks_new;
	*packs = w.packs_written;
	bk_writer_free(&w);
	bk_repo_unlock(r);
	bk_repo_close(r);
	listing = repo_listing(path);
	return listing;
}

START_TEST(threads_build_the_same_packs)
{
	uint64_t n1, p1, n2, p2;
	char *one = write_repo("one", 0, &n1, &p1), *two = write_repo("two", 3, &n2, &p2);

	printf("writer: %llu distinct chunks in %llu packs\n", (unsigned long long)n1,
	       (unsigned long long)p1);
	ck_assert_uint_gt(p1, 8); /* more than one index file */
	ck_assert_uint_eq(n1, n2);
	ck_assert_uint_eq(p1, p2);
	ck_assert_str_eq(one, two);
	free(one);
	free(two);
}
END_TEST

#define FAIL_MARK "FAIL-injected-4c1d"

/* The real encoding, except for segments holding a chunk that starts with FAIL_MARK. */
static int failing_encode(struct bk_codec *c, const void *plain, size_t len,
			  struct bk_buf *out, char *err, size_t errlen)
{
	if (memmem(plain, len, FAIL_MARK, strlen(FAIL_MARK))) {
		snprintf(err, errlen, "injected failure");
		return -1;
	}
	return bk_encode(c, plain, len, true, out, err, errlen);
}

static void assert_verifies(struct bk_repo *r)
{
	struct bk_verify_opts o = { .read_data = true };
	struct bk_verify_stats vs;
	char err[512] = "";

	ck_assert_msg(bk_verify(r, &o, &vs, err, sizeof(err)) == 0, "verify: %s", err);
	ck_assert_uint_eq(vs.unindexed_packs, 0);
}

START_TEST(worker_failure_stops_the_writer)
{
	char path[512], err[512] = "";
	struct bk_repo *r;
	struct bk_writer w;
	uint8_t buf[20000], id[BK_ID_LEN], ids[300][BK_ID_LEN];
	int rc = 0;
	unsigned i;

	bkf_join(path, sizeof(path), tmp, "repo");
	r = bkf_repo(path, NULL, 64u << 10);
	ck_assert_msg(bk_repo_lock(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(bk_writer_init(&w, r, err, sizeof(err)), 0);
	w.encode = failing_encode;
	for (i = 0; i < 300 && rc == 0; i++) {
		uint64_t seed = i + 100;

		bkf_fill(buf, sizeof(buf), &seed);
		if (i == 150)
			memcpy(buf, FAIL_MARK, strlen(FAIL_MARK));
		rc = bk_writer_chunk(&w, buf, sizeof(buf), ids[i], err, sizeof(err));
	}
	if (rc == 0)
		rc = bk_writer_index(&w, err, sizeof(err));
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err, "encode chunk ") && strstr(err, ": injected failure"), "%s", err);
	/* Later calls refuse rather than index around the lost chunk. */
	ck_assert_int_eq(bk_writer_chunk(&w, buf, 10, id, err, sizeof(err)), -1);
	ck_assert_int_eq(bk_writer_index(&w, err, sizeof(err)), -1);
	bk_writer_free(&w);
	/* Whatever no index file covers is gone from the index, the rest is stored. */
	for (unsigned k = 0; k < i; k++) {
		const struct bk_ientry *e = bk_index_find(&r->index, ids[k]);

		ck_assert(!e || e->pack != BK_PACK_PENDING);
		ck_assert(k < 150 || !e);
	}
	bk_repo_unlock(r);
	assert_verifies(r);
	bk_repo_close(r);
}
END_TEST

/* Bytes stored for the same text in a repository made with this zstd level. */
static uint64_t stored_at_level(const char *name, int level)
{
	struct bk_repo_params p;
	struct bk_repo *r;
	struct bk_writer w;
	struct bk_buf text = { 0 };
	uint8_t id[BK_ID_LEN];
	char path[512], line[96], err[512] = "";
	uint64_t stored;

	for (unsigned i = 0; i < 600; i++) {
		snprintf(line, sizeof(line), "row %u: value %u, name item%u, flag %s\n", i,
			 (i * 2654435761u) % 100000, i % 37, i % 3 ? "on" : "off");
		ck_assert_int_eq(bk_buf_append(&text, line, strlen(line)), 0);
	}
	bkf_join(path, sizeof(path), tmp, name);
	bk_repo_params_default(&p);
	p.zstd_level = level;
	ck_assert_msg(bk_repo_init(path, &p, err, sizeof(err)) == 0, "%s", err);
	r = bk_repo_open(path, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_msg(bk_repo_lock(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(bk_writer_init(&w, r, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_writer_chunk(&w, text.p, text.len, id, err, sizeof(err)), 0);
	ck_assert_msg(bk_writer_flush(&w, err, sizeof(err)) == 0, "%s", err);
	stored = w.bytes_stored;
	ck_assert_int_eq(bk_writer_index(&w, err, sizeof(err)), 0);
	bk_writer_free(&w);
	bk_repo_unlock(r);
	bk_repo_close(r);
	bk_buf_free(&text);
	return stored;
}

/* The writer compresses at the config's level (it once always used 1). */
START_TEST(configured_level_is_used)
{
	uint64_t fast = stored_at_level("l1", 1), best = stored_at_level("l19", 19);

	printf("writer: one pack at zstd level 1: %llu bytes, at 19: %llu\n",
	       (unsigned long long)fast, (unsigned long long)best);
	ck_assert_uint_lt(best, fast);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_writer");
	TCase *t = tcase_create("writer");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, encoder_returns_jobs_in_order);
	tcase_add_test(t, encoder_failure_is_reported_in_turn);
	tcase_add_test(t, threads_build_the_same_packs);
	tcase_add_test(t, worker_failure_stops_the_writer);
	tcase_add_test(t, configured_level_is_used);
	suite_add_tcase(s, t);
	return s;
}

