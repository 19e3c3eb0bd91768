/*
 * actions/backup/readahead.c — the reading thread behind readahead.h.
 *
 * One ring of items indexed by sequence number: the thread fills
 * items[head], the caller takes items[tail] and holds it until its next
 * call.  head, tail, bytes and stop change only under the mutex; a slot's
 * contents belong to the thread from the moment tail passes it until head
 * passes it again, and to the caller in between, so they need no lock.
 * The thread always ends with an END or FAIL item unless told to stop,
 * so the caller's wait always ends.
 */
#include "actions/backup/readahead.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/repo.h"
#include "common/error.h"
#include "common/thread.h"

enum kind { IT_ENTRY, IT_CHUNK, IT_BAD, IT_END, IT_FAIL };

struct item {
	enum kind kind;
	struct bk_entry e;  /* IT_ENTRY, until the caller takes it */
	struct bk_buf data; /* IT_CHUNK, unless zero */
	size_t len, acct;   /* the chunk's length; bytes counted against the bound */
	bool zero;
	char why[512]; /* IT_BAD, IT_FAIL */
};

struct bk_readahead {
	struct bk_repo *r;
	const uint8_t *tree;
	size_t ntree;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t room;  /* the caller released an item, or stop */
	pthread_cond_t ready; /* the thread published an item */
	struct item items[BK_READAHEAD_ITEMS];
	uint64_t head, tail; /* under mu */
	size_t bytes;        /* under mu */
	bool stop;           /* under mu */
	/* The caller's side. */
	bool held, done, in_file;
	size_t left; /* chunks of the current file not yet taken */
	int final;   /* once done: 0 end, -1 failed */
	char final_why[512];
	/* The thread's side: a verified all-zero chunk, skipped on sight. */
	uint8_t zero_id[BK_ID_LEN];
	size_t zero_len;
};

/* ---- the reading thread ---- */

/* The next free slot, waiting for room; NULL when told to stop. */
static struct item *slot_wait(struct bk_readahead *ra)
{
	struct item *it = NULL;

	pthread_mutex_lock(&ra->mu);
	while (!ra->stop &&
	       (ra->head - ra->tail >= BK_READAHEAD_ITEMS || ra->bytes >= BK_READAHEAD_BYTES))
		pthread_cond_wait(&ra->room, &ra->mu);
	if (!ra->stop)
		it = &ra->items[ra->head % BK_READAHEAD_ITEMS];
	pthread_mutex_unlock(&ra->mu);
	return it;
}

static void publish(struct bk_readahead *ra, struct item *it)
{
	pthread_mutex_lock(&ra->mu);
	ra->bytes += it->acct;
	ra->head++;
	pthread_cond_signal(&ra->ready);
	pthread_mutex_unlock(&ra->mu);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Read one chunk into it: IT_CHUNK (maybe zero), or IT_BAD with why. */
static void read_chunk(struct bk_readahead *ra, struct item *it, const uint8_t *id)
{
	it->zero = false;
	it->acct = 0;
	if (ra->zero_len && memcmp(id, ra->zero_id, BK_ID_LEN) == 0) {
		it->kind = IT_CHUNK;
		it->zero = true;
		it->len = ra->zero_len;
		return;
	}
	if (bk_chunk_read(ra->r, id, &it->data, it->why, sizeof(it->why)) < 0) {
		it->kind = IT_BAD;
		return;
	}
	it->kind = IT_CHUNK;
	it->len = it->acct = it->data.len;
	if (all_zero(it->data.p, it->data.len)) {
		memcpy(ra->zero_id, id, BK_ID_LEN);
		ra->zero_len = it->data.len;
		it->zero = true;
	}
}

/* Publish e (moved), then each of its chunks; -1 when told to stop or out of memory. */
static int put_entry(struct bk_readahead *ra, struct bk_entry *e, char *why, size_t whylen)
{
	size_t n = e->type == BK_FILE ? e->nchunks : 0;
	uint8_t *ids = n ? malloc(n * BK_ID_LEN) : NULL;
	struct item *it;

	if (n && !ids) {
		err_set(why, whylen, "out of memory");
		bk_entry_clear(e);
		return -1;
	}
	/* The caller may clear the entry, chunk ids and all, once it has it. */
	if (n)
		memcpy(ids, e->chunks, n * BK_ID_LEN);
	if (!(it = slot_wait(ra))) {
		bk_entry_clear(e);
		free(ids);
		return -1;
	}
	it->kind = IT_ENTRY;
	it->acct = 0;
	it->e = *e;
	memset(e, 0, sizeof(*e));
	publish(ra, it);
	for (size_t i = 0; i < n; i++) {
		if (!(it = slot_wait(ra)))
			break;
		read_chunk(ra, it, ids + i * BK_ID_LEN);
		publish(ra, it);
	}
	free(ids);
	return it ? 0 : -1;
}

static void *reader_main(void *arg)
{
	struct bk_readahead *ra = arg;
	struct bk_tree_reader t;
	struct bk_entry e;
	struct item *it;
	char why[512] = "";
	int rc;

	bk_tree_reader_init(&t, ra->r, ra->tree, ra->ntree);
	while ((rc = bk_tree_next(&t, &e, why, sizeof(why))) == 1)
		if (put_entry(ra, &e, why, sizeof(why)) < 0) {
			rc = -1;
			break;
		}
	bk_tree_reader_free(&t);
	if ((it = slot_wait(ra))) {
		it->kind = rc == 0 ? IT_END : IT_FAIL;
		it->acct = 0;
		snprintf(it->why, sizeof(it->why), "%s", why[0] ? why : "tree unreadable");
		publish(ra, it);
	}
	return NULL;
}

/* ---- the caller's side ---- */

/* Give back the item held since the last call, then wait for the next one. */
static struct item *take(struct bk_readahead *ra)
{
	struct item *it;

	pthread_mutex_lock(&ra->mu);
	if (ra->held) {
		ra->bytes -= ra->items[ra->tail % BK_READAHEAD_ITEMS].acct;
		ra->tail++;
		ra->held = false;
		pthread_cond_signal(&ra->room);
	}
	while (ra->head == ra->tail)
		pthread_cond_wait(&ra->ready, &ra->mu);
	it = &ra->items[ra->tail % BK_READAHEAD_ITEMS];
	ra->held = true;
	pthread_mutex_unlock(&ra->mu);
	return it;
}

/* The tree's last item: remembered, since nothing follows it. */
static int finish(struct bk_readahead *ra, const struct item *it, char *why, size_t whylen)
{
	ra->done = true;
	ra->in_file = false;
	ra->final = it->kind == IT_END ? 0 : -1;
	snprintf(ra->final_why, sizeof(ra->final_why), "%s", it->why);
	if (ra->final < 0)
		err_set(why, whylen, "%s", ra->final_why);
	return ra->final;
}

int bk_readahead_entry(struct bk_readahead *ra, struct bk_entry *e, char *why, size_t whylen)
{
	struct item *it;

	for (;;) {
		if (ra->done) {
			if (ra->final < 0)
				err_set(why, whylen, "%s", ra->final_why);
			return ra->final;
		}
		it = take(ra);
		if (it->kind == IT_END || it->kind == IT_FAIL)
			return finish(ra, it, why, whylen);
		if (it->kind != IT_ENTRY)
			continue; /* a chunk of the last file, not asked for */
		*e = it->e;
		memset(&it->e, 0, sizeof(it->e));
		ra->in_file = e->type == BK_FILE;
		ra->left = ra->in_file ? e->nchunks : 0;
		return 1;
	}
}

int bk_readahead_chunk(struct bk_readahead *ra, const uint8_t **p, size_t *n, bool *zero,
		       char *why, size_t whylen)
{
	struct item *it;

	if (ra->done || !ra->in_file || ra->left == 0) {
		err_set(why, whylen, "no chunk left in this file");
		return -1;
	}
	it = take(ra);
	if (it->kind == IT_END || it->kind == IT_FAIL || it->kind == IT_ENTRY) {
		/* Never: the thread puts every chunk of a file right after it. */
		err_set(why, whylen, "chunks out of sequence");
		return -1;
	}
	ra->left--;
	if (it->kind == IT_BAD) {
		err_set(why, whylen, "%s", it->why);
		return 1;
	}
	*p = it->data.p;
	*n = it->len;
	*zero = it->zero;
	return 0;
}

/* ---- lifetime ---- */

static void destroy(struct bk_readahead *ra)
{
	for (size_t i = 0; i < BK_READAHEAD_ITEMS; i++) {
		bk_entry_clear(&ra->items[i].e);
		bk_buf_free(&ra->items[i].data);
	}
	pthread_cond_destroy(&ra->ready);
	pthread_cond_destroy(&ra->room);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
}

struct bk_readahead *bk_readahead_new(struct bk_repo *r, const uint8_t *tree, size_t ntree,
				      char *err, size_t errlen)
{
	struct bk_readahead *ra = calloc(1, sizeof(*ra));
	int rc;

	if (!ra) {
		err_set(err, errlen, "read ahead: out of memory");
		return NULL;
	}
	if ((rc = thread_sync_init(&ra->mu, &ra->room, &ra->ready)) != 0) {
		err_set(err, errlen, "read ahead: %s", strerror(rc));
		free(ra);
		return NULL;
	}
	ra->r = r;
	ra->tree = tree;
	ra->ntree = ntree;
	/* Signals stay with the caller's thread (thread.h). */
	rc = thread_start_quiet(&ra->th, reader_main, ra);
	if (rc != 0) {
		err_set(err, errlen, "read ahead: cannot start a thread: %s", strerror(rc));
		destroy(ra);
		return NULL;
	}
	return ra;
}

void bk_readahead_free(struct bk_readahead *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->stop = true;
	pthread_cond_broadcast(&ra->room);
	pthread_mutex_unlock(&ra->mu);
	pthread_join(ra->th, NULL);
	destroy(ra);
}
