/*
 * tests/unit/test_backup_format.c — the pieces of the repository format,
 * one by one: the chunker (bounds, determinism, resynchronising after an
 * insert, streaming equal to one-shot, and pinned cut points so a change
 * to the algorithm cannot slip by), the blob encoding (layout, tamper,
 * wrong key), key files, packs of both versions (one chunk per blob, and
 * segments of several), reading chunks out of segments, index files of
 * both versions, and tree entries.
 *
 * The pinned values are the format: if one of them changes, every
 * existing repository deduplicates against nothing (chunker) or cannot be
 * read (the rest).  docs/repository-format.md must change with them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/chunker.h"
#include "actions/backup/crypto.h"
#include "actions/backup/index.h"
#include "actions/backup/pack.h"
#include "actions/backup/segment.h"
#include "actions/backup/tree.h"

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(seed >> 56);
	}
}

static struct bk_chunker chunker(void)
{
	struct bk_chunker c;
	char err[256];

	ck_assert_int_eq(bk_chunker_init(&c, 4096, 16384, 65536, err, sizeof(err)), 0);
	return c;
}

/* Cut buf into at most max chunks; their lengths into lens. */
static size_t cut_all(const struct bk_chunker *c, const uint8_t *buf, size_t n, size_t *lens,
		      size_t max)
{
	size_t k = 0;

	for (size_t off = 0; off < n && k < max; k++) {
		lens[k] = bk_chunker_cut(c, buf + off, n - off);
		off += lens[k];
	}
	return k;
}

START_TEST(chunker_bounds_and_average)
{
	struct bk_chunker c = chunker();
	size_t n = 8u << 20, lens[2048], k, sum = 0;
	uint8_t *buf = malloc(n);

	fill(buf, n, 1);
	k = cut_all(&c, buf, n, lens, 2048);
	for (size_t i = 0; i < k; i++) {
		sum += lens[i];
		if (i + 1 < k)
			ck_assert(lens[i] >= 4096 && lens[i] <= 65536);
	}
	ck_assert_uint_eq(sum, n);
	/* normalized chunking keeps the mean near avg + min/4 (about 18.7 KiB) */
	ck_assert_msg(n / k > 15000 && n / k < 23000, "mean chunk %zu", n / k);
	free(buf);
}
END_TEST

START_TEST(chunker_resyncs_after_insert)
{
	struct bk_chunker c = chunker();
	size_t n = 4u << 20, a[1024], b[1024], ka, kb, same = 0;
	uint8_t *buf = malloc(n + 100);

	fill(buf + 100, n, 2);
	fill(buf, 100, 3);
	ka = cut_all(&c, buf + 100, n, a, 1024);
	kb = cut_all(&c, buf, n + 100, b, 1024);
	/* Compare cut positions in the original's coordinates. */
	for (size_t i = 0, j = 0, pa = 0, pb = 0; i < ka && j < kb;) {
		if (pa + a[i] == pb + b[j] - 100) {
			same++;
			pa += a[i++];
			pb += b[j++];
		} else if (pa + a[i] < pb + b[j] - 100) {
			pa += a[i++];
		} else {
			pb += b[j++];
		}
	}
	ck_assert_msg(same + 3 >= ka, "only %zu of %zu cut points survive a 100-byte insert", same,
		      ka);
	free(buf);
}
END_TEST

static size_t stream_total;
static size_t stream_lens[1024], stream_k;

static int collect_len(void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)p;
	stream_lens[stream_k++] = n;
	stream_total += n;
	return 0;
}

START_TEST(chunker_stream_equals_one_shot)
{
	struct bk_chunker c = chunker();
	struct bk_cdc s;
	size_t n = 3u << 20, lens[1024], k, off = 0, step = 1;
	uint8_t *buf = malloc(n);
	const uint8_t *p;
	size_t len;
	char err[128];

	fill(buf, n, 4);
	k = cut_all(&c, buf, n, lens, 1024);
	ck_assert_int_eq(bk_cdc_init(&s, &c, err, sizeof(err)), 0);
	stream_k = stream_total = 0;
	while (off < n) {
		size_t take = step < n - off ? step : n - off;

		ck_assert_int_eq(bk_cdc_feed(&s, buf + off, take, collect_len, NULL), 0);
		off += take;
		step = step * 7 % 200003 + 1; /* irregular feeds, 1 byte to ~200 KB */
	}
	while (bk_cdc_next(&s, true, &p, &len) == 1)
		collect_len(NULL, p, len);
	ck_assert_uint_eq(stream_total, n);
	ck_assert_uint_eq(stream_k, k);
	for (size_t i = 0; i < k; i++)
		ck_assert_uint_eq(stream_lens[i], lens[i]);
	bk_cdc_free(&s);
	free(buf);
}
END_TEST

START_TEST(chunker_pinned)
{
	struct bk_chunker c = chunker();
	static const size_t want[] = { 22673, 18000, 5196, 18836, 17593, 7279, 22380, 19910 };
	size_t lens[8];
	uint8_t *buf = malloc(1u << 20);
	char err[128];

	ck_assert_uint_eq(c.gear[0], 0xcc0ed4350e005451ULL);
	ck_assert_uint_eq(c.gear[255], 0xe3f226055085f9e9ULL);
	ck_assert_uint_eq(c.mask_s, 0xffff000000000000ULL);
	ck_assert_uint_eq(c.mask_l, 0xfff0000000000000ULL);
	fill(buf, 1u << 20, 5);
	cut_all(&c, buf, 1u << 20, lens, 8);
	for (size_t i = 0; i < 8; i++)
		ck_assert_msg(lens[i] == want[i], "chunk %zu is %zu bytes, pinned %zu", i, lens[i],
			      want[i]);
	ck_assert_int_eq(bk_chunker_init(&c, 4096, 16000, 65536, err, sizeof(err)), -1);
	ck_assert_int_eq(bk_chunker_init(&c, 16384, 16384, 65536, err, sizeof(err)), -1);
	ck_assert_int_eq(bk_chunker_init(&c, 32, 1024, 65536, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "avg a power of two"));
	free(buf);
}
END_TEST

START_TEST(blob_layout_and_round_trip)
{
	static const uint8_t key[BK_KEY_LEN] = { 1, 2, 3 };
	bool enc = _i == 1;
	struct bk_codec *c = bk_codec_new(enc ? key : NULL, 3, NULL, 0);
	struct bk_buf out = { 0 }, back = { 0 };
	uint8_t rnd[5000], text[5000];
	size_t over = enc ? BK_NONCE_LEN + BK_TAG_LEN : 0;
	char err[256];

	fill(rnd, sizeof(rnd), 6);
	memset(text, 'a', sizeof(text));
	ck_assert_int_eq(bk_encode(c, rnd, sizeof(rnd), true, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.len, over + 1 + sizeof(rnd)); /* incompressible: stored raw */
	if (!enc) {
		ck_assert_uint_eq(out.p[0], BK_ENC_RAW);
		ck_assert_mem_eq(out.p + 1, rnd, sizeof(rnd));
	}
	ck_assert_int_eq(bk_decode(c, out.p, out.len, sizeof(rnd), sizeof(rnd), &back, err,
				   sizeof(err)), 0);
	ck_assert_mem_eq(back.p, rnd, sizeof(rnd));
	out.len = 0;
	ck_assert_int_eq(bk_encode(c, text, sizeof(text), true, &out, err, sizeof(err)), 0);
	ck_assert_uint_lt(out.len, 200);
	if (!enc)
		ck_assert_uint_eq(out.p[0], BK_ENC_ZSTD);
	ck_assert_int_eq(bk_decode(c, out.p, out.len, SIZE_MAX, 1 << 20, &back, err, sizeof(err)), 0);
	ck_assert_mem_eq(back.p, text, sizeof(text));
	/* a wrong expected length is refused */
	ck_assert_int_eq(bk_decode(c, out.p, out.len, 4999, 4999, &back, err, sizeof(err)), -1);
	bk_buf_free(&out);
	bk_buf_free(&back);
	bk_codec_free(c);
}
END_TEST

START_TEST(blob_tamper_and_wrong_key)
{
	static const uint8_t key[BK_KEY_LEN] = { 9 }, other[BK_KEY_LEN] = { 8 };
	struct bk_codec *c = bk_codec_new(key, 3, NULL, 0), *d = bk_codec_new(other, 3, NULL, 0);
	struct bk_buf out = { 0 }, back = { 0 };
	char err[256];

	ck_assert_int_eq(bk_encode(c, "some chunk", 10, false, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_decode(d, out.p, out.len, 10, 10, &back, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "authentication failed"));
	out.p[BK_NONCE_LEN + 3] ^= 1;
	ck_assert_int_eq(bk_decode(c, out.p, out.len, 10, 10, &back, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "authentication failed"));
	out.p[BK_NONCE_LEN + 3] ^= 1;
	ck_assert_int_eq(bk_decode(c, out.p, out.len, 10, 10, &back, err, sizeof(err)), 0);
	bk_buf_free(&out);
	bk_buf_free(&back);
	bk_codec_free(c);
	bk_codec_free(d);
}
END_TEST

START_TEST(key_files)
{
	char dir[] = "/tmp/vigil-bk-key-XXXXXX", path[128], err[256], id[BK_KEY_ID_HEX];
	uint8_t key[BK_KEY_LEN], raw[BK_KEY_LEN];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	ck_assert_int_eq(bk_key_create(path, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_key_create(path, err, sizeof(err)), -1); /* never overwrites */
	ck_assert_int_eq(bk_key_load(path, key, err, sizeof(err)), 0);
	unlink(path);
	memset(raw, 0x0a, sizeof(raw)); /* newlines, yet raw: exactly 32 bytes */
	f = fopen(path, "w");
	fwrite(raw, 1, sizeof(raw), f);
	fclose(f);
	ck_assert_int_eq(bk_key_load(path, key, err, sizeof(err)), 0);
	ck_assert_mem_eq(key, raw, sizeof(raw));
	f = fopen(path, "w");
	fputs("00000000000000000000000000000000000000000000000000000000000000\n", f);
	fclose(f);
	ck_assert_int_eq(bk_key_load(path, key, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "expected 32 raw bytes or 64 hex digits"));
	memset(key, 0, sizeof(key));
	bk_key_id(key, id);
	ck_assert_str_eq(id, "7b448a521af559da");
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Version 1: every blob one chunk, 44-byte entries. */
START_TEST(pack_round_trip)
{
	struct bk_codec *c = bk_codec_new((const uint8_t *)"0123456789abcdef0123456789abcdef", 3,
					  NULL, 0);
	struct bk_packw w;
	struct bk_pack_entry *ents;
	uint8_t data[3][3000], ids[3][BK_ID_LEN], pid[BK_ID_LEN], sum[BK_ID_LEN];
	size_t n;
	char err[256];

	bk_packw_init(&w);
	for (int i = 0; i < 3; i++) {
		struct bk_seg_chunk one = { .off = 0, .len = sizeof(data[i]) };

		fill(data[i], sizeof(data[i]), 10 + (uint64_t)i);
		bk_sha256(data[i], sizeof(data[i]), ids[i]);
		memcpy(one.id, ids[i], BK_ID_LEN);
		ck_assert_int_eq(bk_packw_add(&w, c, data[i], sizeof(data[i]), &one, 1, err,
					      sizeof(err)), 0);
	}
	ck_assert_int_eq(bk_packw_seal(&w, c, 1, pid, err, sizeof(err)), 0);
	/* Header: 12 + 3 x 44 bytes, stored uncompressed (encoding 0). */
	ck_assert_uint_eq(bk_get_le32(w.data.p + w.data.len - 8),
			  BK_NONCE_LEN + 1 + 12 + 3 * 44 + BK_TAG_LEN);
	bk_sha256(w.data.p, w.data.len, sum);
	ck_assert_mem_eq(pid, sum, BK_ID_LEN);
	ck_assert_mem_eq(w.data.p + w.data.len - 4, "VGPK", 4);
	ck_assert_int_eq(bk_pack_parse(c, w.data.p, w.data.len, &ents, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_mem_eq(ents[i].id, ids[i], BK_ID_LEN);
		ck_assert_uint_eq(ents[i].raw_len, 3000);
		ck_assert_uint_eq(ents[i].stored_len, 3000 + 1 + BK_NONCE_LEN + BK_TAG_LEN);
		ck_assert_uint_eq(ents[i].seg_len, 3000);
		ck_assert_uint_eq(ents[i].chunk_off, 0);
	}
	ck_assert_uint_eq(ents[2].offset, 2 * ents[2].stored_len);
	free(ents);
	ck_assert_int_eq(bk_pack_parse(c, w.data.p, w.data.len - 1, &ents, &n, err, sizeof(err)), -1);
	w.data.p[w.data.len - 20] ^= 1; /* inside the header blob's tag */
	ck_assert_int_eq(bk_pack_parse(c, w.data.p, w.data.len, &ents, &n, err, sizeof(err)), -1);
	bk_packw_free(&w);
	bk_codec_free(c);
}
END_TEST

/* Two segments (3 chunks, then 1) in one version 2 pack. */
static void build_segments(struct bk_packw *w, struct bk_codec *c, uint8_t data[4][5000],
			   struct bk_seg_chunk ch[4])
{
	char err[256];
	uint8_t seg[3 * 5000];

	for (int i = 0; i < 4; i++) {
		fill(data[i], 5000, 20 + (uint64_t)i);
		memset(data[i] + 1000, 'x', 3000); /* compressible */
		bk_sha256(data[i], 5000, ch[i].id);
		ch[i].off = (uint32_t)(i < 3 ? i * 5000 : 0);
		ch[i].len = 5000;
		if (i < 3)
			memcpy(seg + i * 5000, data[i], 5000);
	}
	bk_packw_init(w);
	ck_assert_int_eq(bk_packw_add(w, c, seg, sizeof(seg), ch, 3, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_packw_add(w, c, data[3], 5000, ch + 3, 1, err, sizeof(err)), 0);
}

START_TEST(pack_segments)
{
	struct bk_codec *c = bk_codec_new((const uint8_t *)"0123456789abcdef0123456789abcdef", 3,
					  NULL, 0);
	struct bk_packw w;
	struct bk_pack_entry *ents, bad;
	struct bk_seg_chunk ch[4];
	uint8_t data[4][5000], pid[BK_ID_LEN];
	size_t n;
	char err[256];

	build_segments(&w, c, data, ch);
	/* A version 1 pack cannot say where a chunk lies inside a blob. */
	ck_assert_int_eq(bk_packw_seal(&w, c, 1, pid, err, sizeof(err)), -1);
	bk_packw_free(&w);
	build_segments(&w, c, data, ch);
	ck_assert_int_eq(bk_packw_seal(&w, c, 2, pid, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_pack_parse(c, w.data.p, w.data.len, &ents, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_mem_eq(ents[i].id, ch[i].id, BK_ID_LEN);
		ck_assert_uint_eq(ents[i].raw_len, 5000);
		ck_assert_uint_eq(ents[i].chunk_off, ch[i].off);
		ck_assert_uint_eq(ents[i].seg_len, i < 3 ? 15000 : 5000);
		ck_assert_uint_eq(ents[i].offset, i < 3 ? 0 : ents[0].stored_len);
	}
	/* One zstd frame for the three: far smaller than three times one. */
	ck_assert_uint_lt(ents[0].stored_len, 15000 / 2);
	ck_assert_uint_eq(ents[1].stored_len, ents[0].stored_len);
	bad = ents[1];
	bad.chunk_off = 12000; /* 12000 + 5000 > 15000 */
	ck_assert_int_eq(bk_pack_entry_check(&bad, w.data.len, err, sizeof(err)), -1);
	bad = ents[1];
	bad.stored_len = (uint32_t)w.data.len + 1;
	ck_assert_int_eq(bk_pack_entry_check(&bad, w.data.len, err, sizeof(err)), -1);
	free(ents);
	bk_packw_free(&w);
	bk_codec_free(c);
}
END_TEST

/* Chunks out of segments: checked against their ids, damage confined to its segment. */
START_TEST(segment_reads)
{
	struct bk_codec *c = bk_codec_new((const uint8_t *)"0123456789abcdef0123456789abcdef", 3,
					  NULL, 0);
	struct bk_segcache sc = { .tick = 0 };
	struct bk_packw w;
	struct bk_pack_entry *ents;
	struct bk_ientry ie[4];
	struct bk_seg_chunk ch[4];
	struct bk_seg_mem m;
	uint8_t data[4][5000], pid[BK_ID_LEN];
	const uint8_t *got;
	size_t n;
	char err[256];

	build_segments(&w, c, data, ch);
	ck_assert_int_eq(bk_packw_seal(&w, c, 2, pid, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_pack_parse(c, w.data.p, w.data.len, &ents, &n, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		memcpy(ie[i].id, ents[i].id, BK_ID_LEN);
		ie[i].pack = 0;
		ie[i].offset = ents[i].offset;
		ie[i].stored_len = ents[i].stored_len;
		ie[i].seg_len = ents[i].seg_len;
		ie[i].chunk_off = ents[i].chunk_off;
		ie[i].raw_len = ents[i].raw_len;
	}
	m.data = w.data.p;
	m.len = w.data.len;
	for (int i = 3; i >= 0; i--) {
		ck_assert_int_eq(bk_segcache_chunk(&sc, c, pid, &ie[i], bk_seg_fetch_mem, &m, &got,
						   err, sizeof(err)), 0);
		ck_assert_mem_eq(got, data[i], 5000);
	}
	/* A chunk whose id does not match its bytes is refused, even from a held segment. */
	ie[1].id[0] ^= 1;
	ck_assert_int_eq(bk_segcache_chunk(&sc, c, pid, &ie[1], bk_seg_fetch_mem, &m, &got, err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "content does not match its hash");
	ie[1].id[0] ^= 1;
	/* Damage in the first segment: its chunks fail, the other segment's do not. */
	bk_segcache_free(&sc); /* forget the decoded segments */
	w.data.p[ents[0].offset + 40] ^= 1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(bk_segcache_chunk(&sc, c, pid, &ie[i], bk_seg_fetch_mem, &m, &got,
						   err, sizeof(err)), -1);
	ck_assert_int_eq(bk_segcache_chunk(&sc, c, pid, &ie[3], bk_seg_fetch_mem, &m, &got, err,
					   sizeof(err)), 0);
	/* A chunk said to lie past its segment's end is refused before any read. */
	ie[3].chunk_off = 1;
	ck_assert_int_eq(bk_segcache_chunk(&sc, c, pid, &ie[3], bk_seg_fetch_mem, &m, &got, err,
					   sizeof(err)), -1);
	free(ents);
	bk_segcache_free(&sc);
	bk_packw_free(&w);
	bk_codec_free(c);
}
END_TEST

/* Two chunk ids (0xaa..., 0xbb...) and an index file's plaintext with room for its header. */
static void index_start(struct bk_pack_entry e[2], struct bk_buf *plain)
{
	memset(e[0].id, 0xaa, BK_ID_LEN);
	memset(e[1].id, 0xbb, BK_ID_LEN);
	ck_assert_int_eq(bk_buf_reserve(plain, BK_INDEX_HEADER_LEN), 0);
	plain->len = BK_INDEX_HEADER_LEN;
}

START_TEST(index_files_and_duplicates)
{
	struct bk_pack_entry e[2] = { { .offset = 0, .stored_len = 10, .seg_len = 9, .raw_len = 9 },
				      { .offset = 10, .stored_len = 20, .seg_len = 19, .raw_len = 19 } };
	uint8_t p1[BK_ID_LEN] = { 1 }, p2[BK_ID_LEN] = { 2 };
	struct bk_buf plain = { 0 };
	struct bk_index x;
	const struct bk_ientry *ie;
	char err[256];

	index_start(e, &plain);
	ck_assert_int_eq(bk_index_record(&plain, 1, p1, 100, e, 2), 0);
	e[0].offset = 50; /* the same chunk again in another pack: the first wins */
	ck_assert_int_eq(bk_index_record(&plain, 1, p2, 100, e, 1), 0);
	bk_index_header(&plain, 1, 2);
	ck_assert_mem_eq(plain.p, "VGIX\x01\x00\x00\x00\x02\x00\x00\x00", 12);
	ck_assert_uint_eq(plain.len, 12 + 2 * 44 + 2 * 44 + 44);
	bk_index_init(&x);
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len, err, sizeof(err)), 0);
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len, err, sizeof(err)), 0);
	ck_assert_uint_eq(x.npacks, 2);
	ck_assert_uint_eq(x.chunks.n, 2);
	ie = bk_index_find(&x, e[0].id);
	ck_assert_ptr_nonnull(ie);
	ck_assert_uint_eq(ie->pack, 0);
	ck_assert_uint_eq(ie->offset, 0);
	ck_assert_int_eq(bk_index_truncate(&x, 0, err, sizeof(err)), 0);
	ck_assert_ptr_null(bk_index_find(&x, e[0].id));
	ck_assert(!bk_index_has_pack(&x, p1));
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len - 1, err, sizeof(err)), -1);
	plain.p[0] = 'X';
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len, err, sizeof(err)), -1);
	bk_index_free(&x);
	bk_buf_free(&plain);
}
END_TEST

/* Version 2 records: 52 bytes, the chunk's place in its segment kept. */
START_TEST(index_segments)
{
	struct bk_pack_entry e[2] = {
		{ .offset = 0, .stored_len = 100, .seg_len = 300, .chunk_off = 0, .raw_len = 120 },
		{ .offset = 0, .stored_len = 100, .seg_len = 300, .chunk_off = 120, .raw_len = 180 }
	};
	uint8_t p1[BK_ID_LEN] = { 1 };
	struct bk_buf plain = { 0 };
	struct bk_index x;
	const struct bk_ientry *ie;
	char err[256];

	index_start(e, &plain);
	/* Version 1 cannot hold them. */
	ck_assert_int_eq(bk_index_record(&plain, 1, p1, 100, e, 2), -1);
	plain.len = BK_INDEX_HEADER_LEN;
	ck_assert_int_eq(bk_index_record(&plain, 2, p1, 100, e, 2), 0);
	bk_index_header(&plain, 2, 1);
	ck_assert_mem_eq(plain.p, "VGIX\x02\x00\x00\x00\x01\x00\x00\x00", 12);
	ck_assert_uint_eq(plain.len, 12 + 44 + 2 * 52);
	bk_index_init(&x);
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len, err, sizeof(err)), 0);
	ie = bk_index_find(&x, e[1].id);
	ck_assert_ptr_nonnull(ie);
	ck_assert_uint_eq(ie->seg_len, 300);
	ck_assert_uint_eq(ie->chunk_off, 120);
	ck_assert_uint_eq(ie->raw_len, 180);
	bk_index_free(&x);
	/* A chunk reaching past its segment's end makes the file damaged. */
	bk_put_le32(plain.p + 12 + 44 + 52 + 44, 121);
	bk_index_init(&x);
	ck_assert_int_eq(bk_index_parse(&x, plain.p, plain.len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside its segment"));
	bk_index_free(&x);
	bk_buf_free(&plain);
}
END_TEST

START_TEST(tree_entries)
{
	uint8_t ids[2 * BK_ID_LEN];
	struct bk_entry e = { .path = (char *)"dir/bad-\xff-name", .type = BK_FILE, .mode = 0640,
			      .uid = 7, .gid = 8, .mtime_ns = 1700000000123456789LL, .size = 42,
			      .inode = 99, .chunks = ids, .nchunks = 2 };
	struct bk_entry back;
	char *line, err[256];

	memset(ids, 0x5c, sizeof(ids));
	line = bk_entry_json(&e);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "\"path_hex\":\"6469722f6261642dff2d6e616d65\""));
	ck_assert_int_eq(bk_entry_parse(line, strlen(line), &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.path, e.path);
	ck_assert_uint_eq(back.nchunks, 2);
	ck_assert_mem_eq(back.chunks, ids, sizeof(ids));
	ck_assert(back.mtime_ns == e.mtime_ns && back.mode == 0640 && back.size == 42);
	bk_entry_clear(&back);
	free(line);
	ck_assert(bk_path_safe(".") && bk_path_safe("a/b c/d") && bk_path_safe("..a/b.."));
	ck_assert(!bk_path_safe("../x") && !bk_path_safe("/x") && !bk_path_safe("a//b"));
	ck_assert(!bk_path_safe("a/./b") && !bk_path_safe("a/") && !bk_path_safe("a/.."));
	ck_assert(!bk_path_safe(""));
	line = (char *)"{\"path\":\"../etc/passwd\",\"type\":\"file\",\"mode\":420,\"uid\":0,"
		       "\"gid\":0,\"mtime_ns\":0,\"size\":0,\"inode\":1,\"chunks\":[]}";
	ck_assert_int_eq(bk_entry_parse(line, strlen(line), &back, err, sizeof(err)), -1);
	line = (char *)"{\"path\":\"x\",\"type\":\"fifo\",\"mode\":420,\"uid\":0,\"gid\":0,"
		       "\"mtime_ns\":0}";
	ck_assert_int_eq(bk_entry_parse(line, strlen(line), &back, err, sizeof(err)), -1);
	line = (char *)"{\"path\":\"x\",\"type\":\"symlink\",\"mode\":511,\"uid\":0,\"gid\":0,"
		       "\"mtime_ns\":-5,\"target\":\"/etc\"}";
	ck_assert_int_eq(bk_entry_parse(line, strlen(line), &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.target, "/etc");
	ck_assert(back.mtime_ns == -5);
	bk_entry_clear(&back);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_format");
	TCase *t = tcase_create("format");

	tcase_add_test(t, chunker_bounds_and_average);
	tcase_add_test(t, chunker_resyncs_after_insert);
	tcase_add_test(t, chunker_stream_equals_one_shot);
	tcase_add_test(t, chunker_pinned);
	tcase_add_loop_test(t, blob_layout_and_round_trip, 0, 2);
	tcase_add_test(t, blob_tamper_and_wrong_key);
	tcase_add_test(t, key_files);
	tcase_add_test(t, pack_round_trip);
	tcase_add_test(t, pack_segments);
	tcase_add_test(t, segment_reads);
	tcase_add_test(t, index_files_and_duplicates);
	tcase_add_test(t, index_segments);
	tcase_add_test(t, tree_entries);
	suite_add_tcase(s, t);
	return s;
}

