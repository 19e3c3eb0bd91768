/*
 * common/argv.h — NULL-terminated string vectors (command argv from the
 * config): a deep copy and its free.
 */
#ifndef VIGIL_COMMON_ARGV_H
#define VIGIL_COMMON_ARGV_H

/* Copy argv into *out (NULL stays NULL).  0, or -1 when out of memory (*out NULL). */
int argv_dup(char *const *argv, char ***out);
/* Free a vector from argv_dup (or any malloc'd vector of malloc'd strings); NULL is fine. */
void argv_free(char **argv);

#endif
