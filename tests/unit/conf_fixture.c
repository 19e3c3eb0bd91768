/* tests/unit/conf_fixture.c — loading config text in the conf tests (see conf_fixture.h). */
#include "tests/unit/conf_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char cf_path[128];

int cf_load_text(const char *text, struct config **out, struct conf_errors *errs)
{
	char dir[64] = "/tmp/vigil-test-conf-XXXXXX";
	FILE *f;
	int rc, wrote;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cf_path, sizeof(cf_path), "%s/t.conf", dir);
	f = fopen(cf_path, "w");
	wrote = f != NULL && fputs(text, f) >= 0;
	wrote = (f != NULL && fclose(f) == 0) && wrote;
	rc = conf_load(cf_path, out, errs);
	unlink(cf_path);
	rmdir(dir);
	ck_assert_msg(wrote, "cannot write %s", cf_path);
	return rc;
}

struct config *cf_load_ok(const char *text)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;

	if (cf_load_text(text, &cfg, &errs) != 0)
		ck_abort_msg("load failed: %s", errs.n ? errs.msgs[0] : "(no message)");
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

void cf_load_fail(const char *text, struct conf_errors *errs)
{
	static struct config sentinel;
	struct config *cfg = &sentinel;

	ck_assert_int_eq(cf_load_text(text, &cfg, errs), -1);
	ck_assert_ptr_eq(cfg, &sentinel);
	ck_assert_uint_gt(errs->n, 0);
}

bool cf_has_error(const struct conf_errors *errs, int line, const char *part)
{
	char prefix[192];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", cf_path, line);
	for (size_t i = 0; i < errs->n; i++)
		if (strncmp(errs->msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs->msgs[i] + strlen(prefix), part) != NULL)
			return true;
	return false;
}
