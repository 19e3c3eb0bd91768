/*
 * actions/backup/encoder.h — encoding chunks (zstd, then AES-GCM) on
 * worker threads while the caller reads, chunks and hashes the next ones.
 *
 * Jobs come back in the order they were submitted, whatever order the
 * threads finish them in, so whoever appends them to a pack builds the
 * same pack a single thread would.  Only the caller's thread may call
 * these functions; the workers touch nothing but their own codec and the
 * job they hold.
 *
 * The queue is bounded (BK_ENCODER_SLOTS jobs, BK_ENCODER_BYTES of
 * plaintext), so a backup's memory does not grow with the source.
 */
#ifndef VIGIL_ACTIONS_BACKUP_ENCODER_H
#define VIGIL_ACTIONS_BACKUP_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"
#include "actions/backup/crypto.h"

#define BK_ENCODER_SLOTS 32
#define BK_ENCODER_BYTES (8u << 20)
#define BK_ENCODER_MAX_THREADS 4

/* What a worker runs for each job: append the stored form of plain to out. */
typedef int (*bk_encode_fn)(struct bk_codec *c, const void *plain, size_t len,
			    struct bk_buf *out, char *err, size_t errlen);

/* One finished job, valid until bk_encoder_release. */
struct bk_encoded {
	uint8_t id[BK_ID_LEN];
	const uint8_t *stored;
	size_t stored_len, raw_len;
};

struct bk_encoder;

/*
 * threads workers, each with its own copy of proto (bk_codec_dup); fn
 * NULL means bk_encode with compression.  NULL with err when not even
 * one thread starts.
 */
struct bk_encoder *bk_encoder_new(const struct bk_codec *proto, unsigned threads,
				  bk_encode_fn fn, char *err, size_t errlen);
/* Stop and join the workers; jobs not yet collected are dropped. */
void bk_encoder_free(struct bk_encoder *e);
/* Worker threads for this machine: its online CPUs, 2 to BK_ENCODER_MAX_THREADS. */
unsigned bk_encoder_threads(void);
/* Whether a job of n bytes must wait for the oldest one to be collected. */
bool bk_encoder_full(const struct bk_encoder *e, size_t n);
/* Queue a copy of p (the caller checked bk_encoder_full).  -1 only on out of memory. */
int bk_encoder_submit(struct bk_encoder *e, const uint8_t id[BK_ID_LEN], const void *p,
		      size_t n, char *err, size_t errlen);
/*
 * The oldest job not collected: 0 and *out when it is done (waiting for
 * it if wait), 1 when there is none or it is not done and !wait, -1 with
 * "encode chunk <id>: why" when its worker failed.
 */
int bk_encoder_next(struct bk_encoder *e, bool wait, struct bk_encoded *out, char *err,
		    size_t errlen);
/* Done with the job bk_encoder_next returned: its slot is free again. */
void bk_encoder_release(struct bk_encoder *e);
/* Jobs submitted but not yet released. */
size_t bk_encoder_pending(const struct bk_encoder *e);

#endif
