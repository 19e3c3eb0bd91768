/*
 * actions/backup/crypto.h — keys and the blob encoding every stored object
 * uses (docs/repository-format.md, "Blob encoding"):
 *
 *   inner  = encoding byte (0 raw, 1 zstd) || payload
 *   stored = inner                                   (unencrypted repository)
 *          | nonce[12] || AES-256-GCM(inner) || tag[16]  (encrypted)
 *
 * A key file holds 32 bytes, raw or as 64 hex digits.  The key id is a
 * one-way fingerprint, safe to print, that lets "wrong key" name both keys.
 */
#ifndef VIGIL_ACTIONS_BACKUP_CRYPTO_H
#define VIGIL_ACTIONS_BACKUP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/backup/bkutil.h"

#define BK_KEY_LEN 32
#define BK_NONCE_LEN 12
#define BK_TAG_LEN 16
#define BK_KEY_ID_HEX 17 /* 16 hex digits + NUL */
#define BK_ENC_RAW 0
#define BK_ENC_ZSTD 1

/* 0, or -1 with "key file PATH: why". */
int bk_key_load(const char *path, uint8_t key[BK_KEY_LEN], char *err, size_t errlen);
/* A new random key as 64 hex digits and a newline, mode 0600; never overwrites. */
int bk_key_create(const char *path, char *err, size_t errlen);
/* First 8 bytes of SHA-256("vigil key id\0" || key), in hex. */
void bk_key_id(const uint8_t key[BK_KEY_LEN], char out[BK_KEY_ID_HEX]);

struct bk_codec;

/* key NULL: no encryption.  level: zstd level for compressed blobs. */
struct bk_codec *bk_codec_new(const uint8_t *key, int level, char *err, size_t errlen);
/* An independent codec with c's key and level, for another thread. */
struct bk_codec *bk_codec_dup(const struct bk_codec *c, char *err, size_t errlen);
void bk_codec_free(struct bk_codec *c);
bool bk_codec_encrypted(const struct bk_codec *c);
/* Bytes a stored blob adds around its payload (nonce, tag, encoding byte). */
size_t bk_codec_overhead(const struct bk_codec *c);

/*
 * Append the stored form of plain to out.  With compress, zstd is tried
 * and kept only when it is smaller.  -1 with err.
 */
int bk_encode(struct bk_codec *c, const void *plain, size_t len, bool compress,
	      struct bk_buf *out, char *err, size_t errlen);
/*
 * Replace out's contents with the plaintext of a stored blob.  expect is
 * the plaintext length the caller knows, or SIZE_MAX (then at most max).
 * -1 with err: "authentication failed (damaged, or the wrong key)", a
 * zstd error, or a length mismatch.
 */
int bk_decode(struct bk_codec *c, const void *stored, size_t len, size_t expect, size_t max,
	      struct bk_buf *out, char *err, size_t errlen);

#endif
