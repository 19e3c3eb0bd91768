/*
 * common/error.h — the "char *err, size_t errlen" convention: every
 * function that can fail writes "what failed: why" into a caller's buffer.
 */
#ifndef VIGIL_COMMON_ERROR_H
#define VIGIL_COMMON_ERROR_H

#include <stddef.h>

/* printf into err; a NULL or empty buffer is allowed and ignored. */
void err_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
