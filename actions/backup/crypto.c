/*
 * actions/backup/crypto.c — key files and the blob encoding (crypto.h).
 *
 * Every blob gets a fresh random 96-bit nonce under the one repository
 * key.  With random nonces GCM stays within its 2^-32 collision bound for
 * 2^32 blobs per key, about 64 TiB of 16 KiB chunks; a repository nearing
 * that needs a new key (not a concern for this slice, noted in the doc).
 *
 * The key schedule is set once per codec; each blob only sets its nonce.
 */
#include "actions/backup/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/error.h"
#include "common/fsutil.h"

struct bk_codec {
	bool encrypt;
	int level;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	EVP_CIPHER *aes;
	EVP_CIPHER_CTX *enc, *dec;
	struct bk_buf scratch; /* decrypted inner bytes */
};

int bk_key_load(const char *path, uint8_t key[BK_KEY_LEN], char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0, n;
	int rc = fs_read_all(path, 4096, &data, &len, err, errlen);

	if (rc == 1)
		err_set(err, errlen, "key file %s: does not exist", path);
	if (rc != 0)
		return -1;
	n = len;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ' ||
			 data[n - 1] == '\t'))
		n--;
	/* A raw key is exactly 32 bytes; a hex key is at least 64, so the
	 * two forms never overlap. */
	if (len == BK_KEY_LEN) {
		memcpy(key, data, BK_KEY_LEN);
		rc = 0;
	} else if (bk_unhex(data, n, key, BK_KEY_LEN) == 0) {
		rc = 0;
	} else {
		err_set(err, errlen, "key file %s: expected 32 raw bytes or 64 hex digits", path);
		rc = -1;
	}
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

int bk_key_create(const char *path, char *err, size_t errlen)
{
	uint8_t key[BK_KEY_LEN];
	char hex[2 * BK_KEY_LEN + 2];
	int fd, rc = 0;

	if (bk_random(key, sizeof(key), err, errlen) < 0)
		return -1;
	bk_hex(key, sizeof(key), hex);
	strcat(hex, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(err, errlen, "key file %s: %s", path, strerror(errno));
		rc = -1;
	} else if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0) {
		err_set(err, errlen, "key file %s: write: %s", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		err_set(err, errlen, "key file %s: close: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0 && fd >= 0)
		unlink(path);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

void bk_key_id(const uint8_t key[BK_KEY_LEN], char out[BK_KEY_ID_HEX])
{
	static const char label[] = "vigil key id"; /* hashed with its NUL */
	uint8_t buf[sizeof(label) + BK_KEY_LEN], h[BK_ID_LEN];

	memcpy(buf, label, sizeof(label));
	memcpy(buf + sizeof(label), key, BK_KEY_LEN);
	bk_sha256(buf, sizeof(buf), h);
	OPENSSL_cleanse(buf, sizeof(buf));
	bk_hex(h, 8, out);
}

/* ---- the codec ---- */

static int codec_keys(struct bk_codec *c, const uint8_t *key, char *err, size_t errlen)
{
	c->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	if (!c->aes || !c->enc || !c->dec ||
	    EVP_EncryptInit_ex2(c->enc, c->aes, key, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex2(c->dec, c->aes, key, NULL, NULL) != 1) {
		err_set(err, errlen, "AES-256-GCM: OpenSSL could not set up the cipher");
		return -1;
	}
	return 0;
}

struct bk_codec *bk_codec_new(const uint8_t *key, int level, char *err, size_t errlen)
{
	struct bk_codec *c = calloc(1, sizeof(*c));

	if (!c) {
		err_set(err, errlen, "codec: out of memory");
		return NULL;
	}
	c->level = level;
	c->encrypt = key != NULL;
	c->zc = ZSTD_createCCtx();
	c->zd = ZSTD_createDCtx();
	if (!c->zc || !c->zd) {
		err_set(err, errlen, "zstd: out of memory");
		bk_codec_free(c);
		return NULL;
	}
	if (key && codec_keys(c, key, err, errlen) < 0) {
		bk_codec_free(c);
		return NULL;
	}
	return c;
}

/*
 * The copy gets its own zstd and cipher contexts (they hold per-call
 * state, so threads cannot share them); the cipher contexts are copied
 * with their key schedule, so the raw key never needs to be kept.
 */
struct bk_codec *bk_codec_dup(const struct bk_codec *c, char *err, size_t errlen)
{
	struct bk_codec *d = bk_codec_new(NULL, c->level, err, errlen);

	if (!d || !c->encrypt)
		return d;
	d->encrypt = true;
	d->enc = EVP_CIPHER_CTX_new();
	d->dec = EVP_CIPHER_CTX_new();
	if (!d->enc || !d->dec || EVP_CIPHER_CTX_copy(d->enc, c->enc) != 1 ||
	    EVP_CIPHER_CTX_copy(d->dec, c->dec) != 1) {
		err_set(err, errlen, "AES-256-GCM: OpenSSL could not copy the cipher");
		bk_codec_free(d);
		return NULL;
	}
	return d;
}

void bk_codec_free(struct bk_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
	EVP_CIPHER_free(c->aes);
	if (c->scratch.p)
		OPENSSL_cleanse(c->scratch.p, c->scratch.cap);
	bk_buf_free(&c->scratch);
	free(c);
}

bool bk_codec_encrypted(const struct bk_codec *c)
{
	return c->encrypt;
}

size_t bk_codec_overhead(const struct bk_codec *c)
{
	return 1 + (c->encrypt ? BK_NONCE_LEN + BK_TAG_LEN : 0);
}

/* Encoding byte and payload at inner; its length. */
static size_t fill_inner(struct bk_codec *c, uint8_t *inner, const void *plain, size_t len,
			 bool compress)
{
	if (compress) {
		size_t z = ZSTD_compressCCtx(c->zc, inner + 1, ZSTD_compressBound(len), plain, len,
					     c->level);

		if (!ZSTD_isError(z) && z < len) {
			inner[0] = BK_ENC_ZSTD;
			return 1 + z;
		}
	}
	inner[0] = BK_ENC_RAW;
	if (len)
		memcpy(inner + 1, plain, len);
	return 1 + len;
}

/* Encrypt n bytes at p in place; the nonce is right before p, the tag after. */
static int seal(struct bk_codec *c, uint8_t *p, size_t n, char *err, size_t errlen)
{
	int outl = 0, fl = 0;

	if (bk_random(p - BK_NONCE_LEN, BK_NONCE_LEN, err, errlen) < 0)
		return -1;
	if (EVP_EncryptInit_ex2(c->enc, NULL, NULL, p - BK_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptUpdate(c->enc, p, &outl, p, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c->enc, p + outl, &fl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_GCM_GET_TAG, BK_TAG_LEN, p + n) != 1) {
		err_set(err, errlen, "encrypt: OpenSSL AES-256-GCM failed");
		return -1;
	}
	return 0;
}

int bk_encode(struct bk_codec *c, const void *plain, size_t len, bool compress,
	      struct bk_buf *out, char *err, size_t errlen)
{
	size_t pre = c->encrypt ? BK_NONCE_LEN : 0, room, n;
	uint8_t *inner;

	if (len > (size_t)INT_MAX - 1024) {
		err_set(err, errlen, "encode: blob of %zu bytes is too large", len);
		return -1;
	}
	room = compress ? ZSTD_compressBound(len) : len;
	if (room < len)
		room = len;
	if (bk_buf_reserve(out, pre + 1 + room + BK_TAG_LEN) < 0) {
		err_set(err, errlen, "encode: out of memory");
		return -1;
	}
	inner = out->p + out->len + pre;
	n = fill_inner(c, inner, plain, len, compress);
	if (c->encrypt && seal(c, inner, n, err, errlen) < 0)
		return -1;
	out->len += pre + n + (c->encrypt ? BK_TAG_LEN : 0);
	return 0;
}

/* Decrypt a stored blob into the codec's scratch buffer. */
static int open_sealed(struct bk_codec *c, const uint8_t *s, size_t len, char *err,
		       size_t errlen)
{
	size_t n = len - BK_NONCE_LEN - BK_TAG_LEN;
	int outl = 0, fl = 0;

	c->scratch.len = 0;
	if (bk_buf_reserve(&c->scratch, n + 16) < 0) {
		err_set(err, errlen, "decrypt: out of memory");
		return -1;
	}
	if (EVP_DecryptInit_ex2(c->dec, NULL, NULL, s, NULL) != 1 ||
	    EVP_DecryptUpdate(c->dec, c->scratch.p, &outl, s + BK_NONCE_LEN, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_GCM_SET_TAG, BK_TAG_LEN,
				(void *)(s + len - BK_TAG_LEN)) != 1 ||
	    EVP_DecryptFinal_ex(c->dec, c->scratch.p + outl, &fl) != 1) {
		err_set(err, errlen, "decrypt: authentication failed (damaged, or the wrong key)");
		return -1;
	}
	c->scratch.len = n;
	return 0;
}

static int unzstd(struct bk_codec *c, const uint8_t *p, size_t n, size_t expect, size_t max,
		  struct bk_buf *out, char *err, size_t errlen)
{
	unsigned long long fcs = ZSTD_getFrameContentSize(p, n);
	size_t got;

	if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN) {
		err_set(err, errlen, "decompress: not a zstd frame with a content size");
		return -1;
	}
	if ((expect != SIZE_MAX && fcs != expect) || fcs > max) {
		err_set(err, errlen, "decompress: content size %llu, expected %zu", fcs,
			expect != SIZE_MAX ? expect : max);
		return -1;
	}
	if (bk_buf_reserve(out, (size_t)fcs + 1) < 0) {
		err_set(err, errlen, "decompress: out of memory");
		return -1;
	}
	got = ZSTD_decompressDCtx(c->zd, out->p, (size_t)fcs, p, n);
	if (ZSTD_isError(got) || got != fcs) {
		err_set(err, errlen, "decompress: %s",
			ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
		return -1;
	}
	out->len = got;
	return 0;
}

int bk_decode(struct bk_codec *c, const void *stored, size_t len, size_t expect, size_t max,
	      struct bk_buf *out, char *err, size_t errlen)
{
	const uint8_t *inner = stored;
	size_t n = len;

	out->len = 0;
	if (len < bk_codec_overhead(c) || len > (size_t)INT_MAX) {
		err_set(err, errlen, "decode: blob of %zu bytes cannot be valid", len);
		return -1;
	}
	if (c->encrypt) {
		if (open_sealed(c, stored, len, err, errlen) < 0)
			return -1;
		inner = c->scratch.p;
		n = c->scratch.len;
	}
	if (inner[0] == BK_ENC_ZSTD)
		return unzstd(c, inner + 1, n - 1, expect, max, out, err, errlen);
	if (inner[0] != BK_ENC_RAW) {
		err_set(err, errlen, "decode: unknown encoding %u", inner[0]);
		return -1;
	}
	if ((expect != SIZE_MAX && n - 1 != expect) || n - 1 > max) {
		err_set(err, errlen, "decode: %zu bytes, expected %zu", n - 1,
			expect != SIZE_MAX ? expect : max);
		return -1;
	}
	if (bk_buf_append(out, inner + 1, n - 1) < 0) {
		err_set(err, errlen, "decode: out of memory");
		return -1;
	}
	return 0;
}
