/* monitor/restore_step.c — `vigil restore` as the RESTORING step (see restore_step.h). */
#include "monitor/restore_step.h"

#include <stdlib.h>
#include <string.h>

#include "common/template.h"

/* A literal inside a template: braces doubled, so a path with "{" stays itself. */
static char *literal(const char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += (*p == '{' || *p == '}') ? 2 : 1;
	if (!(out = malloc(n + 1)))
		return NULL;
	o = out;
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == '{' || *p == '}')
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int push(char **v, size_t *n, const char *s, bool is_literal)
{
	if (!(v[*n] = is_literal ? literal(s) : strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

char **restore_step_argv(const struct conf_restore *r, const char *self)
{
	size_t ncmd = 0, n = 0;
	char **v;
	int rc = 0;

	while (r->command && r->command[ncmd])
		ncmd++;
	if (!(v = calloc(16 + ncmd, sizeof(*v))))
		return NULL;
	rc |= push(v, &n, self, true);
	rc |= push(v, &n, "restore", true);
	rc |= push(v, &n, "-r", true);
	rc |= push(v, &n, r->repository, true);
	if (r->key_file) {
		rc |= push(v, &n, "--key", true);
		rc |= push(v, &n, r->key_file, true);
	}
	rc |= push(v, &n, "--job", true);
	rc |= push(v, &n, r->backup, true);
	rc |= push(v, &n, "--snapshot", true);
	rc |= push(v, &n, r->snapshot ? r->snapshot : "latest", true);
	rc |= push(v, &n, "--no-progress", true);
	if (r->target && r->delete_extra)
		rc |= push(v, &n, "--delete", true);
	if (r->target) {
		rc |= push(v, &n, r->target, false);
	} else {
		rc |= push(v, &n, "--command", true);
		rc |= push(v, &n, "--", true);
		for (size_t i = 0; i < ncmd; i++)
			rc |= push(v, &n, r->command[i], false);
	}
	if (rc != 0) {
		tmpl_argv_free(v);
		return NULL;
	}
	return v;
}
