/*
 * common/template.c — "{name}" placeholder expansion.
 *
 * One scanner walks the template and hands literal runs and placeholder
 * names to callbacks, so that checking (at config load) and expanding (at
 * probe or hook start) can never disagree about what a template means.
 */
#include "common/template.h"

#include "common/argv.h"
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*lit_fn)(void *ctx, const char *s, size_t len);
typedef int (*var_fn)(void *ctx, const char *name, size_t len, char *err, size_t errlen);

/*
 * Walk S.  Doubled braces are literals; a single "{" opens a placeholder
 * that must close before any other brace; a single "}" is an error, since
 * it almost always means a typo such as "{node}}" or "node}".
 */
static int tmpl_scan(const char *s, lit_fn lit, var_fn var, void *ctx,
		     char *err, size_t errlen)
{
	const char *p = s;

	while (*p != '\0') {
		size_t run = strcspn(p, "{}");

		if (run > 0 && lit(ctx, p, run) < 0)
			goto oom;
		p += run;
		if (*p == '\0')
			break;
		if (p[0] == p[1]) {
			if (lit(ctx, p, 1) < 0)
				goto oom;
			p += 2;
			continue;
		}
		if (*p == '}') {
			err_set(err, errlen, "unbalanced '}' at position %zu in \"%s\" "
				"(write '}}' for a literal brace)", (size_t)(p - s), s);
			return -1;
		}
		size_t len = strcspn(p + 1, "{}");
		if (p[1 + len] != '}') {
			err_set(err, errlen, "unclosed placeholder '{%.*s' at position %zu "
				"in \"%s\" (write '{{' for a literal brace)", (int)len, p + 1,
				(size_t)(p - s), s);
			return -1;
		}
		if (len == 0) {
			err_set(err, errlen, "empty placeholder '{}' in \"%s\"", s);
			return -1;
		}
		if (var(ctx, p + 1, len, err, errlen) < 0)
			return -1;
		p += len + 2;
	}
	return 0;
oom:
	err_set(err, errlen, "expanding \"%s\": out of memory", s);
	return -1;
}

/* "a, b, c" into buf, for error messages that say what is accepted. */
static void join_names(char *buf, size_t len, const char *const *names, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void unknown_err(const char *name, size_t len, const char *const *names,
			size_t n, char *err, size_t errlen)
{
	char allowed[256];

	if (n == 0) {
		err_set(err, errlen, "unknown placeholder '{%.*s}' (no placeholders are "
			"allowed here)", (int)len, name);
		return;
	}
	join_names(allowed, sizeof(allowed), names, n);
	err_set(err, errlen, "unknown placeholder '{%.*s}' (allowed: %s)",
		(int)len, name, allowed);
}

/* ---- check ---- */

struct check_ctx {
	const char *const *names;
	size_t n;
};

static int check_lit(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	(void)s;
	(void)len;
	return 0;
}

static int check_var(void *vctx, const char *name, size_t len, char *err, size_t errlen)
{
	struct check_ctx *c = vctx;

	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->names[i]) == len && memcmp(c->names[i], name, len) == 0)
			return 0;
	unknown_err(name, len, c->names, c->n, err, errlen);
	return -1;
}

int tmpl_check(const char *s, const char *const *names, size_t n_names,
	       char *err, size_t errlen)
{
	struct check_ctx c = { names, n_names };

	if (s == NULL) {
		err_set(err, errlen, "no template given");
		return -1;
	}
	return tmpl_scan(s, check_lit, check_var, &c, err, errlen);
}

/* ---- expand ---- */

struct expand_ctx {
	const struct tmpl_var *vars;
	size_t n_vars;
	char *buf;
	size_t len;
	size_t cap;
};

static int expand_lit(void *vctx, const char *s, size_t len)
{
	struct expand_ctx *c = vctx;

	if (c->len + len + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 64;
		while (cap < c->len + len + 1)
			cap *= 2;
		char *nb = realloc(c->buf, cap);
		if (nb == NULL)
			return -1;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, s, len);
	c->len += len;
	c->buf[c->len] = '\0';
	return 0;
}

static int expand_var(void *vctx, const char *name, size_t len, char *err, size_t errlen)
{
	struct expand_ctx *c = vctx;
	const char *names[32];
	size_t n = 0;

	for (size_t i = 0; i < c->n_vars; i++) {
		const char *vn = c->vars[i].name;
		if (strlen(vn) == len && memcmp(vn, name, len) == 0) {
			const char *v = c->vars[i].value ? c->vars[i].value : "";
			if (expand_lit(c, v, strlen(v)) < 0) {
				err_set(err, errlen, "expanding '{%s}': out of memory", vn);
				return -1;
			}
			return 0;
		}
		if (n < sizeof(names) / sizeof(names[0]))
			names[n++] = vn;
	}
	unknown_err(name, len, names, n, err, errlen);
	return -1;
}

char *tmpl_expand(const char *s, const struct tmpl_var *vars, size_t n_vars,
		  char *err, size_t errlen)
{
	struct expand_ctx c = { vars, n_vars, NULL, 0, 0 };

	if (s == NULL) {
		err_set(err, errlen, "no template given");
		return NULL;
	}
	/* Start with an empty string so that "" expands to "", not NULL. */
	if (expand_lit(&c, "", 0) < 0 ||
	    tmpl_scan(s, expand_lit, expand_var, &c, err, errlen) < 0) {
		if (c.buf == NULL)
			err_set(err, errlen, "expanding \"%s\": out of memory", s);
		free(c.buf);
		return NULL;
	}
	return c.buf;
}

char **tmpl_expand_argv(char *const *argv, const struct tmpl_var *vars, size_t n_vars,
			char *err, size_t errlen)
{
	size_t n = 0;
	char **out;

	if (argv == NULL) {
		err_set(err, errlen, "no command given");
		return NULL;
	}
	while (argv[n] != NULL)
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (out == NULL) {
		err_set(err, errlen, "expanding command: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char one[256];

		out[i] = tmpl_expand(argv[i], vars, n_vars, one, sizeof(one));
		if (out[i] == NULL) {
			err_set(err, errlen, "argument %zu: %s", i, one);
			tmpl_argv_free(out);
			return NULL;
		}
	}
	return out;
}

void tmpl_argv_free(char **argv)
{
	argv_free(argv);
}
