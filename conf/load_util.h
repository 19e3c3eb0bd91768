/*
 * conf/load_util.h — typed getters for the config loader (conf/load.c).
 *
 * Every getter reports its own problem as "FILE:LINE: message" and counts
 * it, then returns -1 so the caller can carry on with the next key: the
 * loader reports every error in one pass instead of stopping at the first.
 * Getters return 1 when the key was set, 0 when the default was used.
 *
 * Only the loader's .c files include libconfig; this header names its
 * setting type by tag so that it does not have to.
 */
#ifndef VIGIL_CONF_LOAD_UTIL_H
#define VIGIL_CONF_LOAD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct config_setting_t;

struct lctx {
	const char *file;
	const char *dir;  /* where @include files are looked up; NULL = cwd */
	struct conf_errors *errs;
	size_t n_errors; /* counted here too: conf_errors_add may drop a message on OOM */
};

/* A group being read, and what to call it in messages ("probe", "node"). */
struct lgrp {
	struct lctx *lc;
	const struct config_setting_t *s;
	const char *what;
};

void lu_err(struct lctx *lc, const struct config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The name to print for FILE, a file libconfig read: an @include'd file is
 * recorded as written in the directive, so it is joined to lc->dir here.
 */
const char *lu_file_name(const struct lctx *lc, const char *file, char *buf, size_t len);
/* Line of S (at least 1, so every message carries one). */
int lu_line(const struct config_setting_t *s);
/* The member KEY of g, or NULL. */
const struct config_setting_t *lu_member(const struct lgrp *g, const char *key);
/* "a, b, c" from a NULL-terminated list, for "accepted: ..." hints. */
void lu_join(char *buf, size_t len, const char *const *names);
bool lu_in(const char *s, const char *const *names);

/* Report every member of g whose name is not in ALLOWED (NULL-terminated). */
void lu_check_keys(const struct lgrp *g, const char *const *allowed);

int lu_string(const struct lgrp *g, const char *key, bool required, const char *def,
	      char **out);
/* A string that must start with '/'. */
int lu_path(const struct lgrp *g, const char *key, bool required, const char *def,
	    char **out);
/* A string made of [A-Za-z0-9_.-], as used for cluster, node and upstream names. */
int lu_ident(const struct lgrp *g, const char *key, bool required, char **out);
int lu_int(const struct lgrp *g, const char *key, int def, int min, int max, int *out);
/* A 64-bit integer of at least min; *out untouched when unset. */
int lu_int64(const struct lgrp *g, const char *key, int64_t min, int64_t *out);
int lu_bool(const struct lgrp *g, const char *key, bool def, bool *out);
/* DEF NULL: when absent, *out is left alone and 0 returned. */
int lu_duration(const struct lgrp *g, const char *key, const char *def, uint64_t *out);
/* One of NAMES (NULL-terminated); *out is the index.  DEF -1 = required. */
int lu_enum(const struct lgrp *g, const char *key, const char *const *names, int def,
	    int *out);
/* A non-empty array (or list) of strings, NULL-terminated copy in *out. */
int lu_argv(const struct lgrp *g, const char *key, bool required, char ***out);
/* Every element of ARGV must be a valid template over NAMES. */
int lu_check_argv_tmpl(const struct lgrp *g, const char *key, char *const *argv,
		       const char *const *names, size_t n_names);
/* S must be a valid template over NAMES; reported at KEY's line. */
int lu_check_tmpl(const struct lgrp *g, const char *key, const char *s,
		  const char *const *names, size_t n_names);

/*
 * The list KEY of g: *n elements, each required to be a group.  Absent:
 * 0 with *list NULL (an error if required).  Fewer than MIN elements is an
 * error that says what one element looks like.
 */
int lu_list(const struct lgrp *g, const char *key, bool required, size_t min,
	    const struct config_setting_t **list, size_t *n);
/* Element I of LIST as a group called WHAT; -1 (reported) if not a group. */
int lu_elem(struct lctx *lc, const struct config_setting_t *list, size_t i,
	    const char *what, struct lgrp *out);
/* The optional group KEY of g; 0 with out->s NULL when absent. */
int lu_subgroup(const struct lgrp *g, const char *key, const char *what, struct lgrp *out);

/* The member KEY of g if present, else g itself: where to point a message. */
const struct config_setting_t *lu_where(const struct lgrp *g, const char *key);
/* calloc that reports "out of memory" at g. */
void *lu_calloc(const struct lgrp *g, size_t n, size_t size);
/* Report KEY (already parsed to V) when below MIN ms; MIN 1 means "> 0". */
void lu_duration_min(const struct lgrp *g, const char *key, uint64_t v, uint64_t min);
/* URL must be http:// or https:// plus a host; SECRET: never echo it. */
int lu_http_url(const struct lgrp *g, const char *key, const char *url, bool secret);
/* A unix file mode "0600" (string, octal) or integer 0..0777 into *mode. */
void lu_mode(const struct lgrp *g, int *mode);

#endif
