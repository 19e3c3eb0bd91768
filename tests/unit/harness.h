/*
 * tests/unit/harness.h — the one main() every unit test program shares
 * (harness.c).  A test program defines unit_suite(), and may define
 * unit_setup() (before any test: start a server, set the environment;
 * non-zero aborts) and unit_cleanup() (after all of them).  libcurl is
 * initialised for every program.
 */
#ifndef VIGIL_TESTS_UNIT_HARNESS_H
#define VIGIL_TESTS_UNIT_HARNESS_H

#include <check.h>

Suite *unit_suite(void);
int unit_setup(void) __attribute__((weak));
void unit_cleanup(void) __attribute__((weak));

#endif
