/*
 * actions/backup/bkutil.h — the backup library's small shared pieces:
 * growable byte buffers, hex, little-endian fields, SHA-256, randomness,
 * and one hash table keyed by 32-byte ids (chunk ids, pack ids).
 *
 * Like the rest of actions/backup/, synchronous and meant for child
 * processes or the CLI, never the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_BKUTIL_H
#define VIGIL_ACTIONS_BACKUP_BKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_ID_LEN 32 /* SHA-256 */

struct bk_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Room for extra more bytes; 0, or -1 when out of memory. */
int bk_buf_reserve(struct bk_buf *b, size_t extra);
int bk_buf_append(struct bk_buf *b, const void *data, size_t n);
void bk_buf_free(struct bk_buf *b);

void bk_put_le32(uint8_t *p, uint32_t v);
void bk_put_le64(uint8_t *p, uint64_t v);
uint32_t bk_get_le32(const uint8_t *p);
uint64_t bk_get_le64(const uint8_t *p);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void bk_hex(const uint8_t *in, size_t n, char *out);
/* Exactly 2n hex digits (either case) to n bytes; 0, or -1 when malformed. */
int bk_unhex(const char *in, size_t inlen, uint8_t *out, size_t n);
/* Whether s is a full lowercase 64-digit id. */
bool bk_is_id_hex(const char *s);

void bk_sha256(const void *data, size_t len, uint8_t out[BK_ID_LEN]);
int bk_random(void *buf, size_t n, char *err, size_t errlen);

/*
 * Open-addressing table of fixed-size elements whose first 32 bytes are
 * an id.  An all-zero id marks an empty slot, so it can never be stored
 * (SHA-256 never yields it; a file claiming it is corrupt).
 */
struct bk_tab {
	uint8_t *slots;
	size_t esize, cap, n;
};

void bk_tab_init(struct bk_tab *t, size_t esize);
void bk_tab_free(struct bk_tab *t);
void *bk_tab_find(const struct bk_tab *t, const uint8_t id[BK_ID_LEN]);
/*
 * The element for id: the existing one (*existed = true) or a new zeroed
 * one with the id filled in.  NULL when out of memory or id is all zero.
 * Pointers stay valid only until the next insert.
 */
void *bk_tab_insert(struct bk_tab *t, const uint8_t id[BK_ID_LEN], bool *existed);
/* Call fn on every element; stops and returns fn's value when non-zero. */
int bk_tab_each(const struct bk_tab *t, int (*fn)(void *elem, void *arg), void *arg);
/* Drop every element for which keep returns false; -1 when out of memory. */
int bk_tab_filter(struct bk_tab *t, bool (*keep)(const void *elem, void *arg), void *arg);

#endif
