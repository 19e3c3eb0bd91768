/*
 * common/template.h — "{name}" placeholders in probe URLs, exec argv and
 * hook argv.  No shell is ever involved: each argv element is expanded on
 * its own and passed to execve as one argument.
 *
 * "{{" and "}}" stand for literal braces.  An unknown placeholder is an
 * error, so conf/ can reject a typo at load time.
 */
#ifndef VIGIL_COMMON_TEMPLATE_H
#define VIGIL_COMMON_TEMPLATE_H

#include <stddef.h>

struct tmpl_var {
	const char *name;
	const char *value;
};

/*
 * Expand S.  Returns a malloc'd string, or NULL with err set (unknown
 * placeholder, unbalanced brace, out of memory).
 */
char *tmpl_expand(const char *s, const struct tmpl_var *vars, size_t n_vars,
		  char *err, size_t errlen);
/* Check S against a list of allowed names without expanding: 0 or -1 with err. */
int tmpl_check(const char *s, const char *const *names, size_t n_names,
	       char *err, size_t errlen);
/* Expand every element of a NULL-terminated argv; free with tmpl_argv_free(). */
char **tmpl_expand_argv(char *const *argv, const struct tmpl_var *vars, size_t n_vars,
			char *err, size_t errlen);
void tmpl_argv_free(char **argv);

#endif
