/*
 * actions/backup/repo.c — creating and opening a repository, its config
 * file, and reading one chunk back (verified) for restore and verify.
 *
 * The config is plain JSON so it can be read without the key: it says
 * whether the repository is encrypted and with which key (key_id), and
 * carries key_check, a small blob encrypted with that key.  Opening
 * decrypts key_check: a wrong key fails there, with both key ids named,
 * instead of as a pile of undecryptable chunks later.
 */
#include "actions/backup/repo.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/backup/store_s3.h"
#include "common/error.h"

#define CONFIG_MAX (64u << 10)
#define CHUNKER_NAME "fastcdc-gear64-nc2"
#define KEY_CHECK_LABEL "vigil key check" /* with its NUL, then the repository id */

void bk_repo_params_default(struct bk_repo_params *p)
{
	p->chunk_min = BK_DEFAULT_CHUNK_MIN;
	p->chunk_avg = BK_DEFAULT_CHUNK_AVG;
	p->chunk_max = BK_DEFAULT_CHUNK_MAX;
	p->pack_size = BK_DEFAULT_PACK_SIZE;
	p->segment_size = BK_DEFAULT_SEGMENT_SIZE;
	p->format = BK_FORMAT_VERSION;
	p->zstd_level = BK_DEFAULT_ZSTD_LEVEL;
	p->key_file = NULL;
}

int bk_key_generate(const char *path, char *err, size_t errlen)
{
	return bk_key_create(path, err, errlen);
}

int64_t bk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The key check blob's plaintext for repository id. */
static void key_check_plain(const uint8_t id[BK_ID_LEN], uint8_t out[sizeof(KEY_CHECK_LABEL) + BK_ID_LEN])
{
	memcpy(out, KEY_CHECK_LABEL, sizeof(KEY_CHECK_LABEL));
	memcpy(out + sizeof(KEY_CHECK_LABEL), id, BK_ID_LEN);
}

static json_t *encryption_json(const uint8_t key[BK_KEY_LEN], const uint8_t id[BK_ID_LEN],
			       char *err, size_t errlen)
{
	uint8_t plain[sizeof(KEY_CHECK_LABEL) + BK_ID_LEN];
	struct bk_codec *c = bk_codec_new(key, 1, err, errlen);
	struct bk_buf blob = { 0 };
	char kid[BK_KEY_ID_HEX], *hex = NULL;
	json_t *j = NULL;

	key_check_plain(id, plain);
	if (c && bk_encode(c, plain, sizeof(plain), false, &blob, err, errlen) == 0 &&
	    (hex = malloc(2 * blob.len + 1)) != NULL) {
		bk_hex(blob.p, blob.len, hex);
		bk_key_id(key, kid);
		j = json_pack("{s:s, s:s, s:s}", "algorithm", "aes-256-gcm", "key_id", kid,
			      "key_check", hex);
	}
	if (!j)
		err_set(err, errlen, "repository config: cannot build the key check");
	free(hex);
	bk_buf_free(&blob);
	bk_codec_free(c);
	return j;
}

#define SEGMENT_MIN (16u << 10)
#define SEGMENT_MAX (16u << 20)

/* A segment size a writer accepts; -1 with err otherwise. */
static int segment_size_check(uint32_t size, char *err, size_t errlen)
{
	if (size >= SEGMENT_MIN && size <= SEGMENT_MAX)
		return 0;
	err_set(err, errlen, "segment size %u: must be 16 KiB to 16 MiB", size);
	return -1;
}

/* No segment outgrows the pack it goes into. */
static uint32_t segment_in_pack(uint32_t segment_size, uint32_t pack_size)
{
	return segment_size < pack_size ? segment_size : pack_size;
}

static int params_check(const struct bk_repo_params *p, char *err, size_t errlen)
{
	struct bk_chunker c;

	if (bk_chunker_init(&c, p->chunk_min, p->chunk_avg, p->chunk_max, err, errlen) < 0)
		return -1;
	if (p->pack_size < (64u << 10) || p->pack_size > (1u << 30)) {
		err_set(err, errlen, "pack size %u: must be 64 KiB to 1 GiB", p->pack_size);
		return -1;
	}
	if (p->format != 1 && p->format != BK_FORMAT_VERSION) {
		err_set(err, errlen, "format version %u: this vigil writes 1 or %d", p->format,
			BK_FORMAT_VERSION);
		return -1;
	}
	if (p->format >= 2 && segment_size_check(p->segment_size, err, errlen) < 0)
		return -1;
	if (p->zstd_level < 1 || p->zstd_level > 19) {
		err_set(err, errlen, "zstd level %d: must be 1 to 19", p->zstd_level);
		return -1;
	}
	return 0;
}

static char *config_text(const struct bk_repo_params *p, const uint8_t *key,
			 const uint8_t id[BK_ID_LEN], char *err, size_t errlen)
{
	char idhex[BK_ID_HEX], created[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *enc = key ? encryption_json(key, id, err, errlen) : json_null(), *root;
	char *text;

	if (!enc)
		return NULL;
	bk_hex(id, BK_ID_LEN, idhex);
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	root = json_pack("{s:i, s:s, s:s, s:{s:s, s:i, s:i, s:i}, s:{s:s, s:i}, s:i, s:o}",
			 "vigil_repository", (int)p->format, "id", idhex, "created", created,
			 "chunker", "algorithm", CHUNKER_NAME, "min", (int)p->chunk_min, "avg",
			 (int)p->chunk_avg, "max", (int)p->chunk_max, "compression", "algorithm",
			 "zstd", "level", p->zstd_level, "pack_size", (int)p->pack_size,
			 "encryption", enc);
	if (root && p->format >= 2 &&
	    json_object_set_new(root, "segment_size",
				json_integer(segment_in_pack(p->segment_size, p->pack_size))) < 0) {
		json_decref(root);
		root = NULL;
	}
	text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (!text)
		err_set(err, errlen, "repository config: out of memory");
	return text;
}

int bk_repo_init(const char *path, const struct bk_repo_params *p, char *err, size_t errlen)
{
	uint8_t key[BK_KEY_LEN], id[BK_ID_LEN];
	char why[512] = "", *text = NULL;
	struct bk_store *s = NULL;
	int rc = -1;

	if (bk_store_is_offsite(path) && !p->key_file) {
		snprintf(why, sizeof(why), "an S3 repository is offsite and must be encrypted: "
			 "give a key file (vigil keygen FILE)");
		goto out;
	}
	if (params_check(p, why, sizeof(why)) < 0 ||
	    (p->key_file && bk_key_load(p->key_file, key, why, sizeof(why)) < 0) ||
	    bk_random(id, sizeof(id), why, sizeof(why)) < 0 ||
	    !(text = config_text(p, p->key_file ? key : NULL, id, why, sizeof(why))) ||
	    !(s = bk_store_open(path, true, why, sizeof(why))))
		goto out;
	/* Written last: a directory without a config is not yet a repository. */
	rc = s->ops->put(s, "config", text, strlen(text), why, sizeof(why));
out:
	if (rc < 0)
		err_set(err, errlen, "init repository %s: %s", path, why);
	OPENSSL_cleanse(key, sizeof(key));
	bk_store_free(s);
	free(text);
	return rc;
}

/* ---- open ---- */

/* Load and check the key against the config's encryption object. */
static int open_key(struct bk_repo *r, json_t *enc, const char *key_file, int level,
		    uint8_t key[BK_KEY_LEN], char *err, size_t errlen)
{
	const char *kid_want = NULL, *check = NULL, *alg = NULL;
	uint8_t plain[sizeof(KEY_CHECK_LABEL) + BK_ID_LEN], id[BK_ID_LEN];
	char kid[BK_KEY_ID_HEX], why[256];
	struct bk_buf blob = { 0 }, out = { 0 };
	int rc = -1;

	if (json_unpack(enc, "{s:s, s:s, s:s}", "algorithm", &alg, "key_id", &kid_want,
			"key_check", &check) < 0 || strcmp(alg, "aes-256-gcm") != 0) {
		err_set(err, errlen, "config: unknown encryption");
		return -1;
	}
	if (!key_file) {
		err_set(err, errlen, "repository is encrypted: a key file is needed");
		return -1;
	}
	if (bk_key_load(key_file, key, err, errlen) < 0)
		return -1;
	bk_key_id(key, kid);
	if (strcmp(kid, kid_want) != 0) {
		err_set(err, errlen, "wrong key: key file %s has key id %s, the repository's key id is %s",
			key_file, kid, kid_want);
		return -1;
	}
	bk_unhex(r->id, strlen(r->id), id, BK_ID_LEN);
	key_check_plain(id, plain);
	if (bk_buf_reserve(&blob, strlen(check) / 2 + 1) < 0 ||
	    bk_unhex(check, strlen(check), blob.p, strlen(check) / 2) < 0) {
		err_set(err, errlen, "config: malformed key_check");
	} else if (!(r->codec = bk_codec_new(key, level, err, errlen))) {
		/* err set */
	} else if (bk_decode(r->codec, blob.p, strlen(check) / 2, sizeof(plain), sizeof(plain), &out,
			     why, sizeof(why)) < 0 || memcmp(out.p, plain, sizeof(plain)) != 0) {
		err_set(err, errlen, "wrong key: key file %s does not decrypt the key check (%s)",
			key_file, out.len ? "it decrypts to something else" : why);
	} else {
		rc = 0;
	}
	bk_buf_free(&blob);
	bk_buf_free(&out);
	return rc;
}

/* Parse the config into r and set up the chunker and codec. */
static int open_config(struct bk_repo *r, const char *text, const char *key_file, char *err,
		       size_t errlen)
{
	json_t *root = json_loads(text, 0, NULL), *enc = NULL;
	int version = 0, min = 0, avg = 0, max = 0, level = 0, pack = 0, seg = 0, rc = -1;
	const char *id = NULL, *alg = NULL, *comp = NULL;
	uint8_t key[BK_KEY_LEN];

	if (!root || json_unpack(root, "{s:i, s:s, s:{s:s, s:i, s:i, s:i}, s:{s:s, s:i}, s:i, s:o}",
				 "vigil_repository", &version, "id", &id, "chunker", "algorithm",
				 &alg, "min", &min, "avg", &avg, "max", &max, "compression",
				 "algorithm", &comp, "level", &level, "pack_size", &pack,
				 "encryption", &enc) < 0) {
		err_set(err, errlen, "config: not a vigil repository config");
		goto out;
	}
	if (version < 1 || version > BK_FORMAT_VERSION) {
		err_set(err, errlen, "config: format version %d, this vigil reads versions 1 to %d",
			version, BK_FORMAT_VERSION);
		goto out;
	}
	/* Only writers use the segment size: a reader must not refuse an odd one. */
	if (version >= 2 && (json_unpack(root, "{s:i}", "segment_size", &seg) < 0 ||
			     seg < (int)SEGMENT_MIN || seg > (int)SEGMENT_MAX))
		seg = BK_DEFAULT_SEGMENT_SIZE;
	if (!bk_is_id_hex(id) || strcmp(alg, CHUNKER_NAME) != 0 || strcmp(comp, "zstd") != 0 ||
	    min <= 0 || avg <= 0 || max <= 0 || pack < (64 << 10)) {
		err_set(err, errlen, "config: unsupported settings");
		goto out;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->pack_size = (uint32_t)pack;
	r->version = (unsigned)version;
	/* 0 in version 1: every chunk is a segment of its own. */
	r->segment_size = segment_in_pack((uint32_t)seg, r->pack_size);
	/* Only writers use the level: a reader must not refuse a hand-edited one. */
	if (level < 1 || level > 19)
		level = BK_DEFAULT_ZSTD_LEVEL;
	if (bk_chunker_init(&r->chunker, (uint32_t)min, (uint32_t)avg, (uint32_t)max, err, errlen) < 0)
		goto out;
	r->encrypted = !json_is_null(enc);
	if (!r->encrypted && key_file) {
		err_set(err, errlen, "repository is not encrypted, but a key file was given");
		goto out;
	}
	if (r->encrypted ? open_key(r, enc, key_file, level, key, err, errlen) == 0
			 : (r->codec = bk_codec_new(NULL, level, err, errlen)) != NULL)
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
out:
	json_decref(root);
	return rc;
}

struct bk_repo *bk_repo_open(const char *path, const char *key_file, char *err, size_t errlen)
{
	struct bk_repo *r = calloc(1, sizeof(*r));
	uint8_t *text = NULL;
	size_t len = 0;
	char why[512] = "";
	int rc;

	if (!r) {
		err_set(err, errlen, "open repository %s: out of memory", path);
		return NULL;
	}
	bk_index_init(&r->index);
	r->lock_stale_s = BK_DEFAULT_LOCK_STALE_S;
	r->store = bk_store_open(path, false, why, sizeof(why));
	rc = r->store ? r->store->ops->get(r->store, "config", CONFIG_MAX, &text, &len, why,
					   sizeof(why)) : -1;
	if (rc == 1)
		snprintf(why, sizeof(why), "no config file: not a repository");
	if (rc == 0 && open_config(r, (const char *)text, key_file, why, sizeof(why)) < 0)
		rc = -1;
	/* Refused on open too: plaintext must never go offsite, whoever made the repository. */
	if (rc == 0 && !r->encrypted && bk_store_is_offsite(path)) {
		snprintf(why, sizeof(why), "an S3 repository must be encrypted, and this one is not");
		rc = -1;
	}
	if (rc == 0 && bk_index_load(&r->index, r->store, r->codec, why, sizeof(why)) < 0)
		rc = -1;
	free(text);
	if (rc != 0) {
		err_set(err, errlen, "open repository %s: %s", path, why);
		bk_repo_close(r);
		return NULL;
	}
	return r;
}

void bk_repo_close(struct bk_repo *r)
{
	if (!r)
		return;
	if (r->locked)
		bk_lock_release(r);
	bk_index_free(&r->index);
	bk_codec_free(r->codec);
	bk_store_free(r->store);
	bk_buf_free(&r->rbuf);
	bk_segcache_free(&r->segs);
	free(r);
}

bool bk_repo_encrypted(const struct bk_repo *r)
{
	return r->encrypted;
}

unsigned bk_repo_format(const struct bk_repo *r)
{
	return r->version;
}

void bk_repo_set_lock_stale(struct bk_repo *r, unsigned seconds)
{
	r->lock_stale_s = seconds;
}

/* The config text of version 2: text's, with the version and the segment size set. */
static char *upgraded_config(const uint8_t *text, size_t len, uint32_t segment_size, int *was,
			     char *err, size_t errlen)
{
	json_t *root = json_loadb((const char *)text, len, 0, NULL);
	char *out = NULL;

	*was = 0;
	if (!root || json_unpack(root, "{s:i}", "vigil_repository", was) < 0) {
		err_set(err, errlen, "config: not a vigil repository config");
	} else if (*was == 1 &&
		   (json_object_set_new(root, "vigil_repository", json_integer(2)) < 0 ||
		    json_object_set_new(root, "segment_size", json_integer(segment_size)) < 0 ||
		    !(out = json_dumps(root, JSON_INDENT(2))))) {
		err_set(err, errlen, "config: out of memory");
	}
	json_decref(root);
	return out;
}

int bk_repo_upgrade(struct bk_repo *r, uint32_t segment_size, char *err, size_t errlen)
{
	uint8_t *text = NULL;
	size_t len = 0;
	char why[512] = "", *up = NULL;
	int was = 0, rc;

	if (segment_size_check(segment_size, err, errlen) < 0)
		return -1;
	segment_size = segment_in_pack(segment_size, r->pack_size);
	/* Under the lock: no writer may be halfway through version 1 objects. */
	if (bk_repo_lock(r, err, errlen) < 0)
		return -1;
	rc = r->store->ops->get(r->store, "config", CONFIG_MAX, &text, &len, why, sizeof(why));
	if (rc == 1)
		snprintf(why, sizeof(why), "no config");
	if (rc == 0) {
		up = upgraded_config(text, len, segment_size, &was, why, sizeof(why));
		if (up) {
			rc = r->store->ops->put(r->store, "config", up, strlen(up), why,
						sizeof(why));
		} else if (!why[0] && was == BK_FORMAT_VERSION) {
			rc = 1; /* nothing to do */
		} else {
			if (!why[0])
				snprintf(why, sizeof(why), "format version %d cannot be upgraded",
					 was);
			rc = -1;
		}
	}
	if (rc == 0) {
		r->version = 2;
		r->segment_size = segment_size;
	} else if (rc != 1) {
		err_set(err, errlen, "upgrade %s: %s", r->store->where, why);
		rc = -1;
	}
	bk_repo_unlock(r);
	free(text);
	free(up);
	return rc;
}

struct store_fetch {
	struct bk_repo *r;
	const char *name;
};

/* A segment's stored bytes, read from its pack in the store. */
static int fetch_from_store(void *arg, const struct bk_ientry *e, const uint8_t **stored,
			    char *why, size_t whylen)
{
	struct store_fetch *f = arg;
	struct bk_repo *r = f->r;
	int rc;

	r->rbuf.len = 0;
	if (bk_buf_reserve(&r->rbuf, e->stored_len) < 0) {
		err_set(why, whylen, "out of memory");
		return -1;
	}
	rc = r->store->ops->read_at(r->store, f->name, e->offset, r->rbuf.p, e->stored_len, why,
				    whylen);
	if (rc == 1)
		err_set(why, whylen, "pack missing");
	*stored = r->rbuf.p;
	return rc;
}

int bk_chunk_read(struct bk_repo *r, const uint8_t id[BK_ID_LEN], struct bk_buf *out,
		  char *err, size_t errlen)
{
	const struct bk_ientry *e = bk_index_find(&r->index, id);
	char hex[BK_ID_HEX], phex[BK_ID_HEX], name[96], why[256] = "";
	struct store_fetch f = { .r = r, .name = name };
	const uint8_t *chunk;

	bk_hex(id, BK_ID_LEN, hex);
	if (!e || e->pack == BK_PACK_PENDING) {
		err_set(err, errlen, "chunk %s: not in the index", hex);
		return -1;
	}
	bk_hex(r->index.packs[e->pack].id, BK_ID_LEN, phex);
	bk_pack_name(phex, name, sizeof(name));
	if (bk_segcache_chunk(&r->segs, r->codec, r->index.packs[e->pack].id, e,
			      fetch_from_store, &f, &chunk, why, sizeof(why)) < 0) {
		err_set(err, errlen, "chunk %s in pack %s: %s", hex, phex, why);
		return -1;
	}
	out->len = 0;
	if (bk_buf_append(out, chunk, e->raw_len) < 0) {
		err_set(err, errlen, "chunk %s: out of memory", hex);
		return -1;
	}
	return 0;
}
