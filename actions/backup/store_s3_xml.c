/*
 * actions/backup/store_s3_xml.c — just enough XML to read S3's answers
 * (ListObjectsV2 results and error documents), without an XML library.
 *
 * S3 answers are small, flat, machine-written documents, so this reader
 * walks the markup once and reports the text of every leaf element with
 * its path from the root; callers match whole paths
 * ("ListBucketResult/Contents/Key"), so a <Key> elsewhere, or <KeyCount>,
 * is never taken for a listed key.  It handles what a conforming server
 * may send: an XML declaration, comments, attributes (quoted values may
 * hold '>'), empty elements (<Key/>), CDATA sections, the five named
 * entities and numeric character references.  It refuses what it cannot
 * read with confidence: a DOCTYPE (so no entity definitions at all),
 * mismatched or unclosed tags, unknown entities, text outside the root,
 * nesting deeper than MAX_DEPTH, and a leaf's text over MAX_TEXT.
 * A refused listing fails the operation instead of skipping objects.
 */
#include "actions/backup/store_s3_int.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define MAX_DEPTH 16
#define MAX_NAME 128
#define MAX_TEXT (64u << 10)

struct xp {
	const char *p, *end;
	char path[MAX_DEPTH * (MAX_NAME + 1) + 1];
	size_t mark[MAX_DEPTH]; /* path length before each open element's name */
	bool has_child[MAX_DEPTH];
	int depth;
	bool seen_root;
	struct bk_buf text;
	s3_xml_fn fn;
	void *arg;
	char *err;
	size_t errlen;
};

static int fail(struct xp *x, const char *why)
{
	err_set(x->err, x->errlen, "malformed XML: %s", why);
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == ':' || c == '.' || c == '-' || c >= 0x80;
}

/* Skip past the next occurrence of the terminator; -1 when it never comes. */
static int skip_past(struct xp *x, const char *term)
{
	size_t tl = strlen(term);

	for (const char *q = x->p; q + tl <= x->end; q++) {
		if (memcmp(q, term, tl) == 0) {
			x->p = q + tl;
			return 0;
		}
	}
	return fail(x, "unterminated markup");
}

static int add_text(struct xp *x, const void *p, size_t n)
{
	if (x->text.len + n > MAX_TEXT)
		return fail(x, "element text too long");
	if (bk_buf_append(&x->text, p, n) < 0)
		return fail(x, "out of memory");
	return 0;
}

/* Code point cp as UTF-8. */
static int add_code_point(struct xp *x, unsigned long cp)
{
	uint8_t u[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return fail(x, "invalid character reference");
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | (cp >> 18));
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return add_text(x, u, n);
}

/* One entity at x->p ('&'), resolved into the text. */
static int entity(struct xp *x)
{
	static const struct { const char *name; char c; } named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	};
	const char *semi = memchr(x->p, ';', (size_t)(x->end - x->p) < 12 ? (size_t)(x->end - x->p) : 12);
	const char *s = x->p + 1;
	size_t n;

	if (!semi)
		return fail(x, "unterminated entity");
	n = (size_t)(semi - s);
	x->p = semi + 1;
	if (n >= 2 && s[0] == '#') {
		bool hex = s[1] == 'x';
		unsigned long cp = 0;

		if (hex && n == 2)
			return fail(x, "invalid character reference");
		for (const char *d = s + (hex ? 2 : 1); d < semi; d++) {
			int v = *d >= '0' && *d <= '9' ? *d - '0'
				: hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
				: hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10 : -1;

			if (v < 0)
				return fail(x, "invalid character reference");
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
		}
		return add_code_point(x, cp);
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0)
			return add_text(x, &named[i].c, 1);
	return fail(x, "unknown entity");
}

/* Character data up to the next '<'. */
static int char_data(struct xp *x)
{
	while (x->p < x->end && *x->p != '<') {
		const char *q = x->p;

		if (x->depth == 0) {
			if (!is_space(*x->p))
				return fail(x, "text outside the root element");
			x->p++;
			continue;
		}
		if (*q == '&') {
			if (entity(x) < 0)
				return -1;
			continue;
		}
		while (q < x->end && *q != '<' && *q != '&')
			q++;
		if (add_text(x, x->p, (size_t)(q - x->p)) < 0)
			return -1;
		x->p = q;
	}
	return 0;
}

/* A name at x->p into name (NUL-terminated). */
static int read_name(struct xp *x, char name[MAX_NAME + 1])
{
	size_t n = 0;

	while (x->p < x->end && is_name_char((unsigned char)*x->p)) {
		if (n == MAX_NAME)
			return fail(x, "element name too long");
		name[n++] = *x->p++;
	}
	name[n] = '\0';
	return n ? 0 : fail(x, "missing element name");
}

/* Report the element being closed when it is a leaf, then pop it. */
static int close_element(struct xp *x)
{
	int rc = 0;

	x->depth--;
	if (!x->has_child[x->depth]) {
		if (add_text(x, "", 1) < 0)
			return -1;
		rc = x->fn(x->arg, x->path, (const char *)x->text.p, x->text.len - 1);
	}
	x->path[x->mark[x->depth]] = '\0';
	x->text.len = 0;
	return rc;
}

/* "<name attr='v' ...>" or "<name .../>", x->p just past '<'. */
static int start_tag(struct xp *x)
{
	char name[MAX_NAME + 1], quote = 0;
	size_t pl = strlen(x->path);

	if (read_name(x, name) < 0)
		return -1;
	if (x->depth == MAX_DEPTH)
		return fail(x, "nested too deeply");
	if (x->depth == 0 && x->seen_root)
		return fail(x, "a second root element");
	if (x->depth > 0)
		x->has_child[x->depth - 1] = true;
	x->seen_root = true;
	x->mark[x->depth] = pl;
	x->has_child[x->depth] = false;
	snprintf(x->path + pl, sizeof(x->path) - pl, "%s%s", pl ? "/" : "", name);
	x->depth++;
	x->text.len = 0;
	for (; x->p < x->end; x->p++) {
		if (quote) {
			quote = *x->p == quote ? 0 : quote;
		} else if (*x->p == '"' || *x->p == '\'') {
			quote = *x->p;
		} else if (*x->p == '>') {
			x->p++;
			return 0;
		} else if (*x->p == '/' && x->p + 1 < x->end && x->p[1] == '>') {
			x->p += 2;
			return close_element(x);
		}
	}
	return fail(x, "unterminated tag");
}

/* "</name>", x->p just past "</". */
static int end_tag(struct xp *x)
{
	char name[MAX_NAME + 1];
	const char *open;

	if (read_name(x, name) < 0)
		return -1;
	while (x->p < x->end && is_space(*x->p))
		x->p++;
	if (x->p == x->end || *x->p != '>')
		return fail(x, "unterminated end tag");
	x->p++;
	if (x->depth == 0)
		return fail(x, "end tag without a start tag");
	open = x->path + x->mark[x->depth - 1] + (x->depth > 1 ? 1 : 0);
	if (strcmp(open, name) != 0)
		return fail(x, "mismatched end tag");
	return close_element(x);
}

static int markup(struct xp *x)
{
	size_t left = (size_t)(x->end - x->p);

	if (left >= 2 && x->p[1] == '?') {
		x->p += 2;
		return skip_past(x, "?>");
	}
	if (left >= 4 && memcmp(x->p, "<!--", 4) == 0) {
		x->p += 4;
		return skip_past(x, "-->");
	}
	if (left >= 9 && memcmp(x->p, "<![CDATA[", 9) == 0) {
		const char *start = x->p + 9;

		if (x->depth == 0)
			return fail(x, "text outside the root element");
		x->p = start;
		if (skip_past(x, "]]>") < 0)
			return -1;
		return add_text(x, start, (size_t)(x->p - 3 - start));
	}
	if (left >= 2 && x->p[1] == '!')
		return fail(x, "declarations (DOCTYPE) are not accepted");
	if (left >= 2 && x->p[1] == '/') {
		x->p += 2;
		return end_tag(x);
	}
	x->p++;
	return start_tag(x);
}

int s3_xml_parse(const char *doc, size_t len, s3_xml_fn fn, void *arg, char *err, size_t errlen)
{
	struct xp x = { .p = doc, .end = doc + len, .fn = fn, .arg = arg, .err = err,
			.errlen = errlen };
	int rc = 0;

	/* A UTF-8 byte order mark may precede the declaration. */
	if (len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0)
		x.p += 3;
	while (rc == 0 && x.p < x.end)
		rc = *x.p == '<' ? markup(&x) : char_data(&x);
	if (rc == 0 && (x.depth > 0 || !x.seen_root))
		rc = fail(&x, x.seen_root ? "truncated document" : "no root element");
	bk_buf_free(&x.text);
	return rc;
}
