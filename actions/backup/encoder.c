/*
 * actions/backup/encoder.c — the worker pool behind encoder.h.
 *
 * One ring of slots indexed by sequence number.  The caller owns a slot
 * from submit until it is queued (head moves past it) and again once it
 * sees it done; a worker owns it between taking it and marking it done.
 * Every hand-over happens under the one mutex, so the slot's buffers need
 * no lock of their own.  Workers take jobs strictly in sequence order, so
 * the oldest job is always either running or next in line, and the caller
 * wakes any idle worker before it waits for that job: the wait always
 * ends, and no error path can leave it waiting.
 */
#include "actions/backup/encoder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/thread.h"

/*
 * A slot whose buffers grew past this gives them back: the ring cycles
 * through every slot, and kept segment-sized buffers in all of them would
 * hold several times the bytes ever in flight.
 */
#define SLOT_KEEP_CAP (128u << 10)
/*
 * An idle worker is woken once this many jobs wait for one, not for each:
 * a chunk takes tens of microseconds to encode, about what a wake-up and
 * a context switch cost, so waking per job would eat much of the gain.
 */
#define WAKE_AT 4

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_DONE, SLOT_FAILED };

struct slot {
	uint8_t id[BK_ID_LEN];
	struct bk_buf plain, out;
	enum slot_state state;
	char err[256];
};

struct worker {
	struct bk_encoder *e;
	struct bk_codec *codec;
	pthread_t th;
	bool started;
};

struct bk_encoder {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job finished */
	struct slot slots[BK_ENCODER_SLOTS];
	uint64_t head;  /* next sequence number to submit (written under mu) */
	uint64_t taken; /* next one a worker takes (under mu) */
	uint64_t tail;  /* oldest not released (caller only) */
	size_t bytes;   /* plaintext between tail and head (caller only) */
	bool stop;      /* under mu */
	unsigned idle;  /* workers waiting for work (under mu) */
	bool waiting;   /* the caller waits for the oldest job (under mu) */
	bk_encode_fn fn;
	struct worker workers[BK_ENCODER_MAX_THREADS];
	unsigned nworkers;
};

static int encode_compressed(struct bk_codec *c, const void *plain, size_t len,
			     struct bk_buf *out, char *err, size_t errlen)
{
	return bk_encode(c, plain, len, true, out, err, errlen);
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct bk_encoder *e = wk->e;
	struct slot *s;
	int rc;

	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (!e->stop && e->taken == e->head) {
			e->idle++;
			pthread_cond_wait(&e->work, &e->mu);
			e->idle--;
		}
		if (e->stop)
			break;
		s = &e->slots[e->taken % BK_ENCODER_SLOTS];
		e->taken++;
		pthread_mutex_unlock(&e->mu);

		s->out.len = 0;
		s->err[0] = '\0';
		rc = e->fn(wk->codec, s->plain.p, s->plain.len, &s->out, s->err, sizeof(s->err));

		pthread_mutex_lock(&e->mu);
		s->state = rc < 0 ? SLOT_FAILED : SLOT_DONE;
		/* Only the caller waits for "done"; it rechecks its slot. */
		if (e->waiting)
			pthread_cond_signal(&e->done);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

unsigned bk_encoder_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* Two even on one CPU: a worker compresses while the caller waits on
	 * a read.  More than a few would only wait for the one caller. */
	if (n < 2)
		return 2;
	return n > BK_ENCODER_MAX_THREADS ? BK_ENCODER_MAX_THREADS : (unsigned)n;
}

/* Start one worker; signals stay with the caller's thread (thread.h). */
static int start_worker(struct bk_encoder *e, struct worker *wk, const struct bk_codec *proto,
			char *err, size_t errlen)
{
	int rc;

	wk->e = e;
	wk->codec = bk_codec_dup(proto, err, errlen);
	if (!wk->codec)
		return -1;
	rc = thread_start_quiet(&wk->th, worker_main, wk);
	if (rc != 0) {
		err_set(err, errlen, "encoder: cannot start a thread: %s", strerror(rc));
		bk_codec_free(wk->codec);
		wk->codec = NULL;
		return -1;
	}
	wk->started = true;
	return 0;
}

struct bk_encoder *bk_encoder_new(const struct bk_codec *proto, unsigned threads,
				  bk_encode_fn fn, char *err, size_t errlen)
{
	struct bk_encoder *e = calloc(1, sizeof(*e));
	char why[256] = "";
	int rc;

	if (!e) {
		err_set(err, errlen, "encoder: out of memory");
		return NULL;
	}
	if ((rc = thread_sync_init(&e->mu, &e->work, &e->done)) != 0) {
		err_set(err, errlen, "encoder: %s", strerror(rc));
		free(e);
		return NULL;
	}
	e->fn = fn ? fn : encode_compressed;
	if (threads > BK_ENCODER_MAX_THREADS)
		threads = BK_ENCODER_MAX_THREADS;
	/* Fewer threads than asked is slower but still correct. */
	for (unsigned i = 0; i < threads; i++)
		if (start_worker(e, &e->workers[e->nworkers], proto, why, sizeof(why)) == 0)
			e->nworkers++;
	if (e->nworkers == 0) {
		err_set(err, errlen, "%s", why[0] ? why : "encoder: no threads asked for");
		bk_encoder_free(e);
		return NULL;
	}
	return e;
}

void bk_encoder_free(struct bk_encoder *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->mu);
	/* A worker in the middle of a job finishes it, then sees stop. */
	for (unsigned i = 0; i < e->nworkers; i++) {
		pthread_join(e->workers[i].th, NULL);
		bk_codec_free(e->workers[i].codec);
	}
	for (size_t i = 0; i < BK_ENCODER_SLOTS; i++) {
		bk_buf_free(&e->slots[i].plain);
		bk_buf_free(&e->slots[i].out);
	}
	pthread_cond_destroy(&e->done);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

bool bk_encoder_full(const struct bk_encoder *e, size_t n)
{
	if (e->head == e->tail)
		return false;
	/* One job of any size may always run, so a huge chunk cannot stall. */
	return e->head - e->tail >= BK_ENCODER_SLOTS || e->bytes >= BK_ENCODER_BYTES ||
	       n > BK_ENCODER_BYTES - e->bytes;
}

int bk_encoder_submit(struct bk_encoder *e, const uint8_t id[BK_ID_LEN], const void *p,
		      size_t n, char *err, size_t errlen)
{
	struct slot *s = &e->slots[e->head % BK_ENCODER_SLOTS];

	/* Free and past head: no worker looks at this slot until head moves. */
	s->plain.len = 0;
	if (bk_buf_append(&s->plain, p, n) < 0) {
		err_set(err, errlen, "encoder: out of memory");
		return -1;
	}
	memcpy(s->id, id, BK_ID_LEN);
	e->bytes += n;
	pthread_mutex_lock(&e->mu);
	s->state = SLOT_QUEUED;
	e->head++;
	if (e->idle > 0 && e->head - e->taken >= WAKE_AT)
		pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

int bk_encoder_next(struct bk_encoder *e, bool wait, struct bk_encoded *out, char *err,
		    size_t errlen)
{
	struct slot *s = &e->slots[e->tail % BK_ENCODER_SLOTS];
	enum slot_state st;
	char hex[2 * BK_ID_LEN + 1];

	if (e->tail == e->head)
		return 1;
	pthread_mutex_lock(&e->mu);
	if (wait && s->state == SLOT_QUEUED) {
		/* Fewer than WAKE_AT jobs may be waiting with every worker asleep. */
		if (e->idle > 0 && e->taken < e->head)
			pthread_cond_broadcast(&e->work);
		e->waiting = true;
		while (s->state == SLOT_QUEUED)
			pthread_cond_wait(&e->done, &e->mu);
		e->waiting = false;
	}
	st = s->state;
	pthread_mutex_unlock(&e->mu);
	if (st == SLOT_QUEUED)
		return 1;
	if (st == SLOT_FAILED) {
		bk_hex(s->id, BK_ID_LEN, hex);
		err_set(err, errlen, "encode chunk %.16s: %s", hex, s->err);
		return -1;
	}
	memcpy(out->id, s->id, BK_ID_LEN);
	out->stored = s->out.p;
	out->stored_len = s->out.len;
	out->raw_len = s->plain.len;
	return 0;
}

void bk_encoder_release(struct bk_encoder *e)
{
	struct slot *s = &e->slots[e->tail % BK_ENCODER_SLOTS];

	if (e->tail == e->head)
		return;
	e->bytes -= s->plain.len;
	if (s->plain.cap > SLOT_KEEP_CAP)
		bk_buf_free(&s->plain);
	if (s->out.cap > SLOT_KEEP_CAP)
		bk_buf_free(&s->out);
	/* No worker holds this slot; the lock only keeps every write of
	 * state under it, which is simpler to check than the exceptions. */
	pthread_mutex_lock(&e->mu);
	s->state = SLOT_FREE;
	pthread_mutex_unlock(&e->mu);
	e->tail++;
}

size_t bk_encoder_pending(const struct bk_encoder *e)
{
	return (size_t)(e->head - e->tail);
}
