/* tests/unit/unit_util.h — helpers the unit test programs share. */
#ifndef VIGIL_TESTS_UNIT_UTIL_H
#define VIGIL_TESTS_UNIT_UTIL_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

/*
 * Run base until *count reaches want or ms pass; true if it did.  With
 * count NULL, just run the loop for ms.
 */
bool unit_run_until(struct event_base *base, const int *count, int want, uint64_t ms);
/* rm -rf DIR (test temp dirs only). */
void unit_rm_tree(const char *dir);

#endif
