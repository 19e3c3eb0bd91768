/*
 * actions/backup/tree.c — tree entries as JSON lines, reading a stored
 * tree back, and a path map for the parent snapshot (tree.h).
 *
 * Every field read from a tree is checked before use: restore writes
 * where a tree says, so a path that could climb out of the target is
 * refused here, once, for every consumer.
 */
#include "actions/backup/tree.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/repo.h"
#include "common/error.h"

#define LINE_MAX_BYTES (256u << 20)

static const char *const type_names[] = { "dir", "file", "symlink" };

void bk_entry_clear(struct bk_entry *e)
{
	free(e->path);
	free(e->target);
	free(e->chunks);
	memset(e, 0, sizeof(*e));
}

bool bk_path_safe(const char *path)
{
	const char *p = path;

	if (strcmp(path, ".") == 0)
		return true;
	if (*p == '\0' || *p == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return true;
}

/* key (valid UTF-8) or key_hex (anything else) for the bytes of s. */
static int set_bytes(json_t *o, const char *key, const char *key_hex, const char *s)
{
	size_t n = strlen(s);
	json_t *v = json_stringn(s, n);
	char *hex;
	int rc;

	if (v)
		return json_object_set_new(o, key, v);
	hex = malloc(2 * n + 1);
	if (!hex)
		return -1;
	bk_hex((const uint8_t *)s, n, hex);
	rc = json_object_set_new(o, key_hex, json_string(hex));
	free(hex);
	return rc;
}

static int set_chunks(json_t *o, const struct bk_entry *e)
{
	json_t *a = json_array();
	char hex[BK_ID_HEX];

	if (!a || json_object_set_new(o, "chunks", a) < 0)
		return -1;
	for (size_t i = 0; i < e->nchunks; i++) {
		bk_hex(e->chunks + i * BK_ID_LEN, BK_ID_LEN, hex);
		if (json_array_append_new(a, json_string(hex)) < 0)
			return -1;
	}
	return 0;
}

char *bk_entry_json(const struct bk_entry *e)
{
	json_t *o = json_object();
	char *text = NULL;
	int bad = !o;

	bad = bad || set_bytes(o, "path", "path_hex", e->path) < 0;
	bad = bad || json_object_set_new(o, "type", json_string(type_names[e->type])) < 0;
	bad = bad || json_object_set_new(o, "mode", json_integer(e->mode)) < 0;
	bad = bad || json_object_set_new(o, "uid", json_integer(e->uid)) < 0;
	bad = bad || json_object_set_new(o, "gid", json_integer(e->gid)) < 0;
	bad = bad || json_object_set_new(o, "mtime_ns", json_integer(e->mtime_ns)) < 0;
	if (e->type == BK_FILE) {
		bad = bad || json_object_set_new(o, "size", json_integer((json_int_t)e->size)) < 0;
		bad = bad || json_object_set_new(o, "inode", json_integer((json_int_t)e->inode)) < 0;
		bad = bad || set_chunks(o, e) < 0;
	}
	if (e->type == BK_SYMLINK)
		bad = bad || set_bytes(o, "target", "target_hex", e->target) < 0;
	if (!bad)
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

/* A string field, or its _hex twin decoded; NULL when neither is there. */
static char *get_bytes(json_t *o, const char *key, const char *key_hex)
{
	json_t *v = json_object_get(o, key), *h = json_object_get(o, key_hex);
	const char *s;
	size_t n;
	char *out;

	if (json_is_string(v)) {
		if (memchr(json_string_value(v), '\0', json_string_length(v)))
			return NULL;
		return strdup(json_string_value(v));
	}
	if (!json_is_string(h))
		return NULL;
	s = json_string_value(h);
	n = strlen(s) / 2;
	out = malloc(n + 1);
	if (!out || bk_unhex(s, strlen(s), (uint8_t *)out, n) < 0 || memchr(out, '\0', n)) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

static int parse_chunks(json_t *a, struct bk_entry *e)
{
	size_t n = json_array_size(a);

	if (!json_is_array(a))
		return -1;
	e->chunks = malloc(n ? n * BK_ID_LEN : 1);
	if (!e->chunks)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(a, i);

		if (!json_is_string(v) || bk_unhex(json_string_value(v), json_string_length(v),
						   e->chunks + i * BK_ID_LEN, BK_ID_LEN) < 0)
			return -1;
	}
	e->nchunks = n;
	return 0;
}

static int parse_type(const char *s)
{
	for (int i = 0; i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}

/* The fields every entry has. */
static int parse_common(json_t *o, struct bk_entry *e)
{
	json_int_t mode = -1, uid = -1, gid = -1, mtime = 0;
	const char *type = NULL;
	int t;

	if (json_unpack(o, "{s:s, s:I, s:I, s:I, s:I}", "type", &type, "mode", &mode, "uid", &uid,
			"gid", &gid, "mtime_ns", &mtime) < 0 || (t = parse_type(type)) < 0 ||
	    mode < 0 || mode > 07777 || uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return -1;
	e->type = (enum bk_etype)t;
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->mtime_ns = mtime;
	e->path = get_bytes(o, "path", "path_hex");
	return e->path && bk_path_safe(e->path) ? 0 : -1;
}

int bk_entry_parse(const char *line, size_t len, struct bk_entry *e, char *err, size_t errlen)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	json_int_t size = -1, inode = 0;
	int bad;

	memset(e, 0, sizeof(*e));
	bad = !json_is_object(o) || parse_common(o, e) < 0;
	if (!bad && e->type == BK_FILE) {
		bad = json_unpack(o, "{s:I, s:I}", "size", &size, "inode", &inode) < 0 || size < 0 ||
		      parse_chunks(json_object_get(o, "chunks"), e) < 0;
		e->size = (uint64_t)size;
		e->inode = (uint64_t)inode;
	}
	if (!bad && e->type == BK_SYMLINK) {
		e->target = get_bytes(o, "target", "target_hex");
		bad = !e->target || e->target[0] == '\0';
	}
	json_decref(o);
	if (bad) {
		err_set(err, errlen, "tree entry %.80s: malformed", e->path ? e->path : line);
		bk_entry_clear(e);
		return -1;
	}
	return 0;
}

/* ---- reading a stored tree ---- */

void bk_tree_reader_init(struct bk_tree_reader *t, struct bk_repo *r, const uint8_t *ids,
			 size_t nids)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	t->ids = ids;
	t->nids = nids;
}

void bk_tree_reader_free(struct bk_tree_reader *t)
{
	bk_buf_free(&t->text);
	bk_buf_free(&t->chunk);
}

/* Append the next chunk to the text; 0 at the end of the tree. */
static int load_more(struct bk_tree_reader *t, char *err, size_t errlen)
{
	if (t->next == t->nids)
		return 0;
	/* Drop what was consumed so the text holds about one line. */
	if (t->pos > 0) {
		memmove(t->text.p, t->text.p + t->pos, t->text.len - t->pos);
		t->text.len -= t->pos;
		t->pos = 0;
	}
	if (bk_chunk_read(t->r, t->ids + t->next * BK_ID_LEN, &t->chunk, err, errlen) < 0)
		return -1;
	t->next++;
	if (t->text.len + t->chunk.len > LINE_MAX_BYTES ||
	    bk_buf_append(&t->text, t->chunk.p, t->chunk.len) < 0) {
		err_set(err, errlen, "tree: line too long or out of memory");
		return -1;
	}
	return 1;
}

int bk_tree_next(struct bk_tree_reader *t, struct bk_entry *e, char *err, size_t errlen)
{
	for (;;) {
		uint8_t *start = t->text.p + t->pos;
		uint8_t *nl = t->text.len > t->pos ? memchr(start, '\n', t->text.len - t->pos) : NULL;
		int rc;

		if (nl) {
			t->pos = (size_t)(nl - t->text.p) + 1;
			return bk_entry_parse((const char *)start, (size_t)(nl - start), e, err,
					      errlen) < 0 ? -1 : 1;
		}
		rc = load_more(t, err, errlen);
		if (rc <= 0) {
			if (rc == 0 && t->pos != t->text.len) {
				err_set(err, errlen, "tree: last line has no newline");
				return -1;
			}
			return rc;
		}
	}
}

/* ---- path map ---- */

struct bk_pathmap {
	struct bk_entry *slots; /* path NULL: empty */
	size_t cap, n;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

struct bk_pathmap *bk_pathmap_new(void)
{
	return calloc(1, sizeof(struct bk_pathmap));
}

void bk_pathmap_free(struct bk_pathmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		bk_entry_clear(&m->slots[i]);
	free(m->slots);
	free(m);
}

static struct bk_entry *slot_for(struct bk_entry *slots, size_t cap, const char *path)
{
	size_t i = (size_t)fnv1a(path) & (cap - 1);

	while (slots[i].path && strcmp(slots[i].path, path) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

int bk_pathmap_put(struct bk_pathmap *m, struct bk_entry *e)
{
	struct bk_entry *s;

	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct bk_entry *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -1;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].path)
				*slot_for(ns, ncap, m->slots[i].path) = m->slots[i];
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	s = slot_for(m->slots, m->cap, e->path);
	if (s->path)
		bk_entry_clear(s);
	else
		m->n++;
	*s = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

const struct bk_entry *bk_pathmap_get(const struct bk_pathmap *m, const char *path)
{
	const struct bk_entry *s;

	if (m->cap == 0)
		return NULL;
	s = slot_for(m->slots, m->cap, path);
	return s->path ? s : NULL;
}
