/* monitor/journal_line.c — one journal line's format (see journal_line.h). */
#include "monitor/journal_line.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_KEY ",\"sum\":\""
#define SUM_HEX 16

/* The checksum of text[0..len) + "}", as SUM_HEX hex digits and a NUL. */
static int line_sum(const char *text, size_t len, char hex[SUM_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, text, len) == 1 && EVP_DigestUpdate(ctx, "}", 1) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= SUM_HEX / 2;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (int i = 0; i < SUM_HEX / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

char *jline_encode(const json_t *record, uint64_t seq)
{
	json_t *o = json_object();
	char *text = NULL, *line = NULL, hex[SUM_HEX + 1];
	size_t len;

	/* "seq" first, then the record's own fields in their order (any seq or sum of its own dropped). */
	if (!o || json_object_set_new(o, "seq", json_integer((json_int_t)seq)) < 0 ||
	    json_object_update(o, (json_t *)record) < 0 ||
	    json_object_set_new(o, "seq", json_integer((json_int_t)seq)) < 0)
		goto out;
	json_object_del(o, "sum");
	if (!(text = json_dumps(o, JSON_COMPACT)))
		goto out;
	len = strlen(text);
	/* text ends in '}': the sum covers what comes before it. */
	if (len < 2 || text[len - 1] != '}' || line_sum(text, len - 1, hex) < 0)
		goto out;
	if (asprintf(&line, "%.*s" SUM_KEY "%s\"}\n", (int)(len - 1), text, hex) < 0)
		line = NULL;
out:
	free(text);
	json_decref(o);
	return line;
}

/* Where the checksum starts, if the line ends like ,"sum":"<16 hex>"} . */
static const char *find_sum(const char *line, size_t len)
{
	size_t tail = strlen(SUM_KEY) + SUM_HEX + 2; /* key, digits, quote, brace */
	const char *at;

	if (len < tail + 1)
		return NULL;
	at = line + len - tail;
	if (memcmp(at, SUM_KEY, strlen(SUM_KEY)) != 0 || line[len - 2] != '"' ||
	    line[len - 1] != '}')
		return NULL;
	return at;
}

static bool check_sum(const char *line, const char *at)
{
	char hex[SUM_HEX + 1];

	return line_sum(line, (size_t)(at - line), hex) == 0 &&
	       memcmp(at + strlen(SUM_KEY), hex, SUM_HEX) == 0;
}

enum ftype { F_STR, F_NAME, F_UINT, F_BOOL, F_STRS, F_UINTS };

/* Every field vigil writes, and its type; other fields are left alone. */
static const struct field {
	const char *key;
	enum ftype type;
	bool required;
} fields[] = {
	{ "cluster", F_STR, true },  { "event", F_NAME, true },   { "ts", F_STR, false },
	{ "seq", F_UINT, false },    { "epoch", F_UINT, false },  { "node", F_NAME, false },
	{ "old_primary", F_NAME, false }, { "new_primary", F_NAME, false },
	{ "primary", F_NAME, false }, { "reason", F_STR, false }, { "detail", F_STR, false },
	{ "from", F_STR, false },    { "to", F_STR, false },      { "manual", F_BOOL, false },
	{ "switchover", F_BOOL, false }, { "paused", F_BOOL, false },
	{ "failed", F_BOOL, false }, { "out", F_STRS, false },    { "auto_wall_ms", F_UINTS, false },
	{ "last_wall_ms", F_UINT, false }, { "seq_base", F_UINT, false },
};

static bool is_uint(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool type_ok(const json_t *v, enum ftype t)
{
	size_t i;
	json_t *e;

	switch (t) {
	case F_STR:
		return json_is_string(v);
	case F_NAME:
		return json_is_string(v) && json_string_length(v) > 0;
	case F_UINT:
		return is_uint(v);
	case F_BOOL:
		return json_is_boolean(v);
	case F_STRS:
	case F_UINTS:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
			if (t == F_STRS ? !json_is_string(e) || json_string_length(e) == 0 : !is_uint(e))
				return false;
		return true;
	}
	return false;
}

static const char *type_text(enum ftype t)
{
	static const char *const text[] = {
		[F_STR] = "a string", [F_NAME] = "a non-empty string",
		[F_UINT] = "a non-negative integer", [F_BOOL] = "true or false",
		[F_STRS] = "a list of names", [F_UINTS] = "a list of non-negative integers",
	};

	return text[t];
}

static int check_fields(const json_t *rec, char *why, size_t whylen)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const json_t *v = json_object_get(rec, fields[i].key);

		if (!v && !fields[i].required)
			continue;
		if (!v || !type_ok(v, fields[i].type)) {
			snprintf(why, whylen, "field \"%s\" must be %s", fields[i].key,
				 type_text(fields[i].type));
			return -1;
		}
	}
	return 0;
}

int jline_decode(const char *line, size_t len, struct jline *out, char *why, size_t whylen)
{
	const char *at = find_sum(line, len);
	json_error_t jerr;
	json_t *rec;

	memset(out, 0, sizeof(*out));
	rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(rec)) {
		snprintf(why, whylen, "not a JSON object (%s)", rec ? "another JSON value" : jerr.text);
		json_decref(rec);
		return -1;
	}
	if (json_object_get(rec, "sum")) {
		if (!at || !json_is_string(json_object_get(rec, "sum")) || !check_sum(line, at)) {
			snprintf(why, whylen, "checksum mismatch: the record was changed or damaged");
			json_decref(rec);
			return -1;
		}
		if (!is_uint(json_object_get(rec, "seq"))) {
			snprintf(why, whylen, "field \"seq\" must be a non-negative integer");
			json_decref(rec);
			return -1;
		}
		out->summed = true;
		out->seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
		json_object_del(rec, "sum");
	}
	if (check_fields(rec, why, whylen) < 0) {
		json_decref(rec);
		return -1;
	}
	out->rec = rec;
	return 0;
}
