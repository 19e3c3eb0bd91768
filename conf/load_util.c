/*
 * conf/load_util.c — typed getters over libconfig settings for the loader.
 *
 * Each getter checks presence, type and value of one key and turns any
 * problem into an operator-readable "FILE:LINE: message": which key, what
 * was wrong, what is accepted.  libconfig's own conversions are not used
 * because they silently coerce (an int where a string was meant).
 */
#include "conf/load_util.h"

#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/template.h"
#include "conf/duration.h"

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
	case CONFIG_TYPE_LIST: return "a list ( ... )";
	default: return "nothing";
	}
}

int lu_line(const config_setting_t *s)
{
	int line = s ? (int)config_setting_source_line(s) : 0;

	return line > 0 ? line : 1;
}

const char *lu_file_name(const struct lctx *lc, const char *file, char *buf, size_t len)
{
	if (file == NULL)
		return lc->file;
	if (strcmp(file, lc->file) == 0 || file[0] == '/' || lc->dir == NULL)
		return file;
	snprintf(buf, len, "%s/%s", lc->dir, file);
	return buf;
}

void lu_err(struct lctx *lc, const config_setting_t *s, const char *fmt, ...)
{
	char text[768], name[PATH_MAX];
	const char *file = lu_file_name(lc, s ? config_setting_source_file(s) : NULL,
					name, sizeof(name));
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	conf_errors_add(lc->errs, file, lu_line(s), "%s", text);
	lc->n_errors++;
}

const config_setting_t *lu_member(const struct lgrp *g, const char *key)
{
	return config_setting_get_member(g->s, key);
}

void lu_join(char *buf, size_t len, const char *const *names)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

bool lu_in(const char *s, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

void lu_check_keys(const struct lgrp *g, const char *const *allowed)
{
	int n = config_setting_length(g->s);
	char list[512];

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g->s, (unsigned)i);
		const char *name = config_setting_name(m);

		if (name == NULL || lu_in(name, allowed))
			continue;
		lu_join(list, sizeof(list), allowed);
		lu_err(g->lc, m, "unknown key '%s' in %s (accepted keys: %s)",
		       name, g->what, list);
	}
}

/* Missing required key: reported at the group's own line. */
static int missing(const struct lgrp *g, const char *key)
{
	lu_err(g->lc, g->s, "missing required key '%s' in %s", key, g->what);
	return -1;
}

static int oom(const struct lgrp *g, const char *key)
{
	lu_err(g->lc, g->s, "reading '%s': out of memory", key);
	return -1;
}

/* The string value of KEY: 1 found, 0 absent, -1 wrong type (reported). */
static int get_str(const struct lgrp *g, const char *key, const char **val,
		   const config_setting_t **where)
{
	const config_setting_t *s = lu_member(g, key);

	*where = s ? s : g->s;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		lu_err(g->lc, s, "'%s' must be a string, got %s", key, type_name(s));
		return -1;
	}
	*val = config_setting_get_string(s);
	return 1;
}

int lu_string(const struct lgrp *g, const char *key, bool required, const char *def,
	      char **out)
{
	const config_setting_t *where;
	const char *v = def;
	int rc = get_str(g, key, &v, &where);

	if (rc < 0)
		return -1;
	if (rc == 0 && required)
		return missing(g, key);
	*out = NULL;
	if (v != NULL && (*out = strdup(v)) == NULL)
		return oom(g, key);
	return rc;
}

int lu_path(const struct lgrp *g, const char *key, bool required, const char *def,
	    char **out)
{
	int rc = lu_string(g, key, required, def, out);

	if (rc == 1 && (*out)[0] != '/') {
		lu_err(g->lc, lu_member(g, key), "'%s' must be an absolute path "
		       "(starting with '/'), got \"%s\"", key, *out);
		return -1;
	}
	return rc;
}

int lu_ident(const struct lgrp *g, const char *key, bool required, char **out)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789_.-";
	int rc = lu_string(g, key, required, NULL, out);

	if (rc == 1 && ((*out)[0] == '\0' || strspn(*out, ok) != strlen(*out))) {
		lu_err(g->lc, lu_member(g, key), "'%s' must be a non-empty name made of "
		       "letters, digits, '_', '.' and '-', got \"%s\"", key, *out);
		return -1;
	}
	/* Names become path components ({node} in a restore target): never . or .. */
	if (rc == 1 && (strcmp(*out, ".") == 0 || strcmp(*out, "..") == 0)) {
		lu_err(g->lc, lu_member(g, key), "'%s' must not be \"%s\" (names become path "
		       "components)", key, *out);
		return -1;
	}
	if (rc == 1 && strlen(*out) > CONF_NAME_MAX) {
		lu_err(g->lc, lu_member(g, key), "'%s' is longer than %d characters", key,
		       CONF_NAME_MAX);
		return -1;
	}
	return rc;
}

int lu_int64(const struct lgrp *g, const char *key, int64_t min, int64_t *out)
{
	const config_setting_t *s = lu_member(g, key);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		lu_err(g->lc, s, "'%s' must be an integer, got %s", key, type_name(s));
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min) {
		lu_err(g->lc, s, "'%s' must be at least %lld, got %lld", key, (long long)min, v);
		return -1;
	}
	*out = (int64_t)v;
	return 1;
}

int lu_int(const struct lgrp *g, const char *key, int def, int min, int max, int *out)
{
	const config_setting_t *s = lu_member(g, key);
	long long v;

	*out = def;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		lu_err(g->lc, s, "'%s' must be an integer, got %s", key, type_name(s));
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		if (max == INT_MAX)
			lu_err(g->lc, s, "'%s' must be at least %d, got %lld", key, min, v);
		else
			lu_err(g->lc, s, "'%s' must be between %d and %d, got %lld",
			       key, min, max, v);
		return -1;
	}
	*out = (int)v;
	return 1;
}

int lu_bool(const struct lgrp *g, const char *key, bool def, bool *out)
{
	const config_setting_t *s = lu_member(g, key);

	*out = def;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		lu_err(g->lc, s, "'%s' must be true or false, got %s", key, type_name(s));
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 1;
}

int lu_duration(const struct lgrp *g, const char *key, const char *def, uint64_t *out)
{
	const config_setting_t *s = lu_member(g, key);
	const char *v = def;
	char err[256];

	if (s != NULL && config_setting_type(s) != CONFIG_TYPE_STRING) {
		lu_err(g->lc, s, "'%s' must be a duration string such as \"500ms\" or "
		       "\"5s\", got %s", key, type_name(s));
		return -1;
	}
	if (s != NULL)
		v = config_setting_get_string(s);
	if (v == NULL)
		return 0;
	if (conf_parse_duration(v, out, err, sizeof(err)) < 0) {
		lu_err(g->lc, s ? s : g->s, "'%s' is not a valid duration: %s", key, err);
		return -1;
	}
	return s != NULL;
}

int lu_enum(const struct lgrp *g, const char *key, const char *const *names, int def,
	    int *out)
{
	const config_setting_t *where;
	const char *v = NULL;
	char list[256];
	int rc = get_str(g, key, &v, &where);

	*out = def;
	if (rc < 0)
		return -1;
	if (rc == 0)
		return def < 0 ? missing(g, key) : 0;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 1;
		}
	}
	lu_join(list, sizeof(list), names);
	lu_err(g->lc, where, "'%s' must be one of: %s; got \"%s\"", key, list, v);
	return -1;
}

static int argv_type_err(const struct lgrp *g, const config_setting_t *s, const char *key)
{
	lu_err(g->lc, s, "'%s' must be a non-empty array of strings, e.g. "
	       "[\"/usr/bin/prog\", \"arg\"], got %s", key, type_name(s));
	return -1;
}

int lu_argv(const struct lgrp *g, const char *key, bool required, char ***out)
{
	const config_setting_t *s = lu_member(g, key);
	unsigned n;

	*out = NULL;
	if (s == NULL)
		return required ? missing(g, key) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return argv_type_err(g, s, key);
	if (config_setting_length(s) <= 0) {
		lu_err(g->lc, s, "'%s' is empty: give the program and its arguments, e.g. "
		       "[\"/usr/bin/prog\", \"arg\"]", key);
		return -1;
	}
	n = (unsigned)config_setting_length(s);
	for (unsigned i = 0; i < n; i++)
		if (config_setting_type(config_setting_get_elem(s, i)) != CONFIG_TYPE_STRING)
			return argv_type_err(g, s, key);
	if ((*out = calloc((size_t)n + 1, sizeof(**out))) == NULL)
		return oom(g, key);
	for (unsigned i = 0; i < n; i++) {
		const char *v = config_setting_get_string(config_setting_get_elem(s, i));
		if (((*out)[i] = strdup(v)) == NULL)
			return oom(g, key); /* the caller's config_free takes the partial argv */
	}
	return 1;
}

int lu_check_tmpl(const struct lgrp *g, const char *key, const char *s,
		  const char *const *names, size_t n_names)
{
	const config_setting_t *where = lu_member(g, key);
	char err[512];

	if (tmpl_check(s, names, n_names, err, sizeof(err)) == 0)
		return 0;
	lu_err(g->lc, where ? where : g->s, "'%s': %s", key, err);
	return -1;
}

int lu_check_argv_tmpl(const struct lgrp *g, const char *key, char *const *argv,
		       const char *const *names, size_t n_names)
{
	int rc = 0;

	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		if (lu_check_tmpl(g, key, argv[i], names, n_names) < 0)
			rc = -1;
	return rc;
}

int lu_list(const struct lgrp *g, const char *key, bool required, size_t min,
	    const config_setting_t **list, size_t *n)
{
	const config_setting_t *s = lu_member(g, key);

	*list = NULL;
	*n = 0;
	if (s == NULL)
		return required ? missing(g, key) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		lu_err(g->lc, s, "'%s' must be a list of groups: %s = ( { ... }, { ... } ), "
		       "got %s", key, key, type_name(s));
		return -1;
	}
	if ((size_t)config_setting_length(s) < min) {
		lu_err(g->lc, s, "'%s' in %s needs at least %zu entr%s, has %d", key, g->what,
		       min, min == 1 ? "y" : "ies", config_setting_length(s));
		return -1;
	}
	*list = s;
	*n = (size_t)config_setting_length(s);
	return 1;
}

int lu_elem(struct lctx *lc, const config_setting_t *list, size_t i,
	    const char *what, struct lgrp *out)
{
	const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);

	out->lc = lc;
	out->s = e;
	out->what = what;
	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		lu_err(lc, e, "%s #%zu in '%s' must be a group { ... }, got %s", what, i + 1,
		       config_setting_name(list), type_name(e));
		return -1;
	}
	return 0;
}

int lu_subgroup(const struct lgrp *g, const char *key, const char *what, struct lgrp *out)
{
	const config_setting_t *s = lu_member(g, key);

	out->lc = g->lc;
	out->s = NULL;
	out->what = what;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		lu_err(g->lc, s, "'%s' must be a group { ... }, got %s", key, type_name(s));
		return -1;
	}
	out->s = s;
	return 1;
}

/* ---- value checks shared by several groups ---- */

const config_setting_t *lu_where(const struct lgrp *g, const char *key)
{
	const config_setting_t *s = lu_member(g, key);

	return s ? s : g->s;
}

void *lu_calloc(const struct lgrp *g, size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		lu_err(g->lc, g->s, "out of memory");
	return p;
}

/* Only checked when the operator set KEY: defaults always pass. */
void lu_duration_min(const struct lgrp *g, const char *key, uint64_t v, uint64_t min)
{
	if (v >= min)
		return;
	if (min == 1)
		lu_err(g->lc, lu_where(g, key), "'%s' must be greater than 0", key);
	else
		lu_err(g->lc, lu_where(g, key), "'%s' must be at least %llums, got %llums", key,
		       (unsigned long long)min, (unsigned long long)v);
}

/*
 * The scheme is checked on the raw template so that "{x}://..." cannot
 * turn into some other protocol at run time.  SECRET: do not echo the
 * value (alert URLs often carry tokens).
 */
int lu_http_url(const struct lgrp *g, const char *key, const char *url, bool secret)
{
	size_t skip = strncasecmp(url, "http://", 7) == 0 ? 7 :
		      strncasecmp(url, "https://", 8) == 0 ? 8 : 0;

	if (skip > 0 && url[skip] != '\0')
		return 0;
	if (secret)
		lu_err(g->lc, lu_where(g, key), "'%s' must start with http:// or https:// "
		       "and name a host (value not shown: it may hold a secret)", key);
	else
		lu_err(g->lc, lu_where(g, key), "'%s' must start with http:// or https:// "
		       "and name a host, got \"%s\"", key, url);
	return -1;
}

/*
 * libconfig 1.5 has no octal literals: `mode = 0600;` reads as decimal
 * 600.  Such values are out of range and the message points to the string
 * form, which is what the example config uses.
 */
void lu_mode(const struct lgrp *g, int *mode)
{
	const config_setting_t *s = lu_member(g, "mode");
	int type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
	const char *v;

	if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		long long iv = config_setting_get_int64(s);
		if (iv >= 0 && iv <= 0777) {
			*mode = (int)iv;
			return;
		}
		lu_err(g->lc, s, "'mode' %lld is out of range 0..0777 (there are no octal "
		       "integers in this syntax: write the mode as a string, e.g. \"0600\")", iv);
	} else if (type == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(s);
		if (v[0] != '\0' && strlen(v) <= 4 && strspn(v, "01234567") == strlen(v) &&
		    strtol(v, NULL, 8) <= 0777) {
			*mode = (int)strtol(v, NULL, 8);
			return;
		}
		lu_err(g->lc, s, "'mode' must be an octal permission string such as \"0600\" "
		       "or \"0660\", got \"%s\"", v);
	} else if (s != NULL) {
		lu_err(g->lc, s, "'mode' must be an octal permission string such as \"0600\", "
		       "got %s", type_name(s));
	}
}
