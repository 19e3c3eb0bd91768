/*
 * common/log.h — one line per event: timestamp, level, component, message,
 * then key=value fields; or the same as one JSON object per line.
 *
 *   vlog(VLOG_INFO, "probe", "node down", "cluster", "web", "node", "a", NULL);
 *
 * Fields are pairs of strings ended by NULL.  Never pass a secret (alert
 * URLs, tokens) as a field: logs are not a safe place for them.
 */
#ifndef VIGIL_COMMON_LOG_H
#define VIGIL_COMMON_LOG_H

#include <stdarg.h>

enum vlog_level { VLOG_DEBUG, VLOG_INFO, VLOG_NOTICE, VLOG_WARNING, VLOG_ERR };
enum vlog_format { VLOG_TEXT, VLOG_JSON };

void vlog_setup(enum vlog_format fmt, enum vlog_level min_level);
enum vlog_format vlog_get_format(void);
/* Parse "debug|info|notice|warning|error"; -1 when unknown. */
int vlog_level_parse(const char *s);
const char *vlog_level_name(enum vlog_level lvl);

void vlog(enum vlog_level lvl, const char *component, const char *msg, ...);
void vlogv(enum vlog_level lvl, const char *component, const char *msg, va_list fields);
/* Same, with parallel arrays of n keys and values. */
void vlog_fields(enum vlog_level lvl, const char *component, const char *msg,
		 const char *const *keys, const char *const *values, int n);

#endif
