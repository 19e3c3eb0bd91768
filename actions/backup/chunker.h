/*
 * actions/backup/chunker.h — content-defined chunking (FastCDC with
 * normalized chunking, level 2).
 *
 * Cut points depend only on the bytes near them, so an insert or a
 * rewritten page changes the chunks around it and nothing further: that
 * is what makes an incremental backup store little.  The gear table comes
 * from a fixed seed, so two writers with the same min/avg/max cut the
 * same data the same way (docs/repository-format.md has the algorithm).
 *
 * bk_cdc is the streaming driver: the caller appends bytes (from read(2)
 * straight into bk_cdc_space, or copied) and takes chunks out.
 */
#ifndef VIGIL_ACTIONS_BACKUP_CHUNKER_H
#define VIGIL_ACTIONS_BACKUP_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_CHUNK_MIN_LIMIT 64u
#define BK_CHUNK_MAX_LIMIT (16u << 20)

struct bk_chunker {
	uint32_t min, avg, max;
	uint64_t mask_s; /* before avg: harder to match (log2(avg) + 2 bits) */
	uint64_t mask_l; /* after avg: easier (log2(avg) - 2 bits) */
	uint64_t gear[256];
};

/* min < avg < max, avg a power of two, within the limits above. */
int bk_chunker_init(struct bk_chunker *c, uint32_t min, uint32_t avg, uint32_t max,
		    char *err, size_t errlen);
/*
 * Length of the chunk starting at p, given n bytes.  Pass at least max
 * bytes unless they are the last of the stream.
 */
size_t bk_chunker_cut(const struct bk_chunker *c, const uint8_t *p, size_t n);

struct bk_cdc {
	const struct bk_chunker *c;
	uint8_t *buf;
	size_t cap, start, end;
};

int bk_cdc_init(struct bk_cdc *s, const struct bk_chunker *c, char *err, size_t errlen);
void bk_cdc_free(struct bk_cdc *s);
/* Forget buffered bytes (a new stream). */
void bk_cdc_reset(struct bk_cdc *s);
/* Where to append, and how much fits (always at least max bytes). */
uint8_t *bk_cdc_space(struct bk_cdc *s, size_t *avail);
void bk_cdc_commit(struct bk_cdc *s, size_t n);
/* Copy in n bytes, taking chunks out through emit as they complete. */
int bk_cdc_feed(struct bk_cdc *s, const void *data, size_t n,
		int (*emit)(void *arg, const uint8_t *p, size_t len), void *arg);
/*
 * The next complete chunk: 1 with *p and *len (valid until the next space
 * call), 0 when more input is needed, or at eof when nothing is left.
 */
int bk_cdc_next(struct bk_cdc *s, bool eof, const uint8_t **p, size_t *len);

#endif
