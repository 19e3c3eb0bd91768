/*
 * tests/unit/conf_fixture.h — loading config text in the conf tests: each
 * fixture is written to a fresh temp dir and loaded, and errors are looked
 * up by "FILE:LINE:" the way conf/ reports them.
 */
#ifndef VIGIL_TESTS_CONF_FIXTURE_H
#define VIGIL_TESTS_CONF_FIXTURE_H

#include <stdbool.h>

#include "conf/config.h"

/* The file the last load read: the messages carry this name. */
extern char cf_path[128];

/* Write TEXT to a fresh temp dir, load it, remove it (before any assertion). */
int cf_load_text(const char *text, struct config **out, struct conf_errors *errs);
/* Must load cleanly. */
struct config *cf_load_ok(const char *text);
/* Must fail, leave the config untouched and report at least one message. */
void cf_load_fail(const char *text, struct conf_errors *errs);
/* A message at cf_path:LINE containing PART. */
bool cf_has_error(const struct conf_errors *errs, int line, const char *part);

#endif
