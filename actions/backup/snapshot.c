/*
 * actions/backup/snapshot.c — snapshot manifests (snapshot.h) and the
 * public listing built on them.
 */
#include "actions/backup/snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"

#define SNAPSHOT_VERSION 1
#define SNAPSHOT_MAX (64u << 20)

void bk_snapshot_clear(struct bk_snapshot *s)
{
	free(s->host);
	free(s->job);
	free(s->source);
	free(s->tree);
	memset(s, 0, sizeof(*s));
}

static json_t *tree_json(const struct bk_snapshot *s)
{
	json_t *a = json_array();
	char hex[BK_ID_HEX];

	for (size_t i = 0; a && i < s->ntree; i++) {
		bk_hex(s->tree + i * BK_ID_LEN, BK_ID_LEN, hex);
		if (json_array_append_new(a, json_string(hex)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *manifest_json(const struct bk_snapshot *s)
{
	char when[32];
	time_t secs = (time_t)(s->time_ns / 1000000000);
	struct tm tm;
	json_t *tree = tree_json(s), *src = json_string(s->source);

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!tree || !src) {
		json_decref(tree);
		json_decref(src);
		return NULL;
	}
	return json_pack("{s:i, s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:I,"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "vigil_snapshot", SNAPSHOT_VERSION, "time_ns", (json_int_t)s->time_ns,
			 "time", when, "host", s->host, "job", s->job, "source", src, "parent",
			 s->parent[0] ? json_string(s->parent) : json_null(), "kind",
			 s->full ? "full" : "incremental", "tree", tree, "tree_size",
			 (json_int_t)s->tree_size, "summary", "files", (json_int_t)s->files, "dirs",
			 (json_int_t)s->dirs, "symlinks", (json_int_t)s->symlinks, "bytes",
			 (json_int_t)s->bytes, "bytes_read", (json_int_t)s->bytes_read,
			 "chunks_new", (json_int_t)s->chunks_new, "bytes_new",
			 (json_int_t)s->bytes_new);
}

int bk_snapshot_write(struct bk_repo *r, const struct bk_snapshot *s, char id[BK_ID_HEX],
		      size_t *stored, char *err, size_t errlen)
{
	json_t *j = manifest_json(s);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, why[512] = "";
	int rc = -1;

	json_decref(j);
	if (!text)
		snprintf(why, sizeof(why), "cannot build the manifest (is the source path UTF-8?)");
	else
		rc = bk_object_put(r->store, r->codec, "snapshots", text, strlen(text), id, stored,
				   why, sizeof(why));
	if (rc < 0)
		err_set(err, errlen, "write snapshot: %s", why);
	free(text);
	return rc;
}

static int tree_ids(json_t *a, struct bk_snapshot *s)
{
	size_t n = json_array_size(a);

	if (!json_is_array(a) || !(s->tree = malloc(n ? n * BK_ID_LEN : 1)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(a, i);

		if (!json_is_string(v) || bk_unhex(json_string_value(v), json_string_length(v),
						   s->tree + i * BK_ID_LEN, BK_ID_LEN) < 0)
			return -1;
	}
	s->ntree = n;
	return 0;
}

static int manifest_parse(json_t *j, struct bk_snapshot *s)
{
	json_int_t ver = 0, t = 0, tsize = 0, files = 0, dirs = 0, links = 0, bytes = 0, rd = 0,
		   cn = 0, bn = 0;
	const char *host, *job, *src, *kind;
	json_t *parent, *tree;

	if (json_unpack(j, "{s:I, s:I, s:s, s:s, s:s, s:o, s:s, s:o, s:I,"
			   " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			"vigil_snapshot", &ver, "time_ns", &t, "host", &host, "job", &job, "source",
			&src, "parent", &parent, "kind", &kind, "tree", &tree, "tree_size", &tsize,
			"summary", "files", &files, "dirs", &dirs, "symlinks", &links, "bytes", &bytes,
			"bytes_read", &rd, "chunks_new", &cn, "bytes_new", &bn) < 0 ||
	    ver != SNAPSHOT_VERSION)
		return -1;
	if (json_is_string(parent) && bk_is_id_hex(json_string_value(parent)))
		snprintf(s->parent, sizeof(s->parent), "%s", json_string_value(parent));
	else if (!json_is_null(parent))
		return -1;
	s->time_ns = t;
	s->full = strcmp(kind, "full") == 0;
	s->tree_size = (uint64_t)tsize;
	s->files = (uint64_t)files;
	s->dirs = (uint64_t)dirs;
	s->symlinks = (uint64_t)links;
	s->bytes = (uint64_t)bytes;
	s->bytes_read = (uint64_t)rd;
	s->chunks_new = (uint64_t)cn;
	s->bytes_new = (uint64_t)bn;
	s->host = strdup(host);
	s->job = strdup(job);
	s->source = strdup(src);
	if (!s->host || !s->job || !s->source)
		return -1;
	return tree_ids(tree, s);
}

int bk_snapshot_load(struct bk_repo *r, const char *id, struct bk_snapshot *s, char *err,
		     size_t errlen)
{
	struct bk_buf text = { 0 };
	char name[96], why[512] = "";
	json_t *j = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(name, sizeof(name), "snapshots/%s", id);
	rc = bk_object_get(r->store, r->codec, name, SNAPSHOT_MAX, &text, why, sizeof(why));
	if (rc == 0) {
		j = json_loadb((const char *)text.p, text.len, 0, NULL);
		if (!j || manifest_parse(j, s) < 0) {
			snprintf(why, sizeof(why), "%s: malformed manifest", name);
			bk_snapshot_clear(s);
			rc = -1;
		}
	}
	if (rc < 0)
		err_set(err, errlen, "snapshot %s: %s", id, why);
	snprintf(s->id, sizeof(s->id), "%s", rc == 0 ? id : "");
	json_decref(j);
	bk_buf_free(&text);
	return rc;
}

struct all_ctx {
	struct bk_repo *r;
	struct bk_snapshot *v;
	size_t n, cap;
	char *err;
	size_t errlen;
};

static int load_into(void *arg, const char *name)
{
	struct all_ctx *a = arg;
	const char *base = strrchr(name, '/');

	if (!base || !bk_is_id_hex(base + 1))
		return 0;
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		struct bk_snapshot *nv = realloc(a->v, ncap * sizeof(*nv));

		if (!nv) {
			err_set(a->err, a->errlen, "list snapshots: out of memory");
			return -1;
		}
		a->v = nv;
		a->cap = ncap;
	}
	if (bk_snapshot_load(a->r, base + 1, &a->v[a->n], a->err, a->errlen) != 0)
		return -1;
	a->n++;
	return 0;
}

static int by_time(const void *x, const void *y)
{
	const struct bk_snapshot *a = x, *b = y;

	if (a->time_ns != b->time_ns)
		return a->time_ns < b->time_ns ? -1 : 1;
	return strcmp(a->id, b->id);
}

int bk_snapshot_all(struct bk_repo *r, struct bk_snapshot **all, size_t *n, char *err,
		    size_t errlen)
{
	struct all_ctx a = { .r = r, .err = err, .errlen = errlen };

	*all = NULL;
	*n = 0;
	if (r->store->ops->list(r->store, "snapshots", load_into, &a, err, errlen) != 0) {
		bk_snapshot_all_free(a.v, a.n);
		return -1;
	}
	if (a.n > 1)
		qsort(a.v, a.n, sizeof(*a.v), by_time);
	*all = a.v;
	*n = a.n;
	return 0;
}

void bk_snapshot_all_free(struct bk_snapshot *all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bk_snapshot_clear(&all[i]);
	free(all);
}

/* The snapshot spec names among all; 1 none, -1 ambiguous. */
static int pick(const struct bk_snapshot *all, size_t n, const char *spec, const char *job,
		const char *source, char id[BK_ID_HEX], char *err, size_t errlen)
{
	size_t len = spec ? strlen(spec) : 0, found = 0;
	bool latest = !spec || strcmp(spec, "latest") == 0;

	if (!latest && len < 4) {
		err_set(err, errlen, "snapshot %s: give at least 4 digits of the id", spec);
		return -1;
	}
	for (size_t i = n; i-- > 0;) {
		if (latest && (!job || strcmp(all[i].job, job) == 0) &&
		    (!source || strcmp(all[i].source, source) == 0)) {
			snprintf(id, BK_ID_HEX, "%s", all[i].id);
			return 0;
		}
		if (!latest && strncmp(all[i].id, spec, len) == 0) {
			snprintf(id, BK_ID_HEX, "%s", all[i].id);
			found++;
		}
	}
	if (found > 1) {
		err_set(err, errlen, "snapshot %s: more than one snapshot starts with it", spec);
		return -1;
	}
	return found ? 0 : 1;
}

int bk_snapshot_resolve(struct bk_repo *r, const char *spec, const char *job,
			const char *source, char id[BK_ID_HEX], char *err, size_t errlen)
{
	struct bk_snapshot *all;
	size_t n;
	int rc;

	if (bk_snapshot_all(r, &all, &n, err, errlen) < 0)
		return -1;
	rc = pick(all, n, spec, job, source, id, err, errlen);
	bk_snapshot_all_free(all, n);
	return rc;
}

int bk_snapshots_list(struct bk_repo *r, struct bk_snapshot_info **list, size_t *n, char *err,
		      size_t errlen)
{
	struct bk_snapshot *all;
	size_t count;

	*list = NULL;
	*n = 0;
	if (bk_snapshot_all(r, &all, &count, err, errlen) < 0)
		return -1;
	*list = calloc(count ? count : 1, sizeof(**list));
	if (!*list) {
		bk_snapshot_all_free(all, count);
		err_set(err, errlen, "list snapshots: out of memory");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct bk_snapshot_info *o = &(*list)[i];

		memcpy(o->id, all[i].id, BK_ID_HEX);
		memcpy(o->parent, all[i].parent, BK_ID_HEX);
		o->time_ns = all[i].time_ns;
		o->host = all[i].host;
		o->job = all[i].job;
		o->source = all[i].source;
		all[i].host = all[i].job = all[i].source = NULL;
		o->full = all[i].full;
		o->files = all[i].files;
		o->bytes = all[i].bytes;
	}
	bk_snapshot_all_free(all, count);
	*n = count;
	return 0;
}

void bk_snapshots_free(struct bk_snapshot_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].host);
		free(list[i].job);
		free(list[i].source);
	}
	free(list);
}
