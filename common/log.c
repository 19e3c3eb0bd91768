/*
 * common/log.c — the log line writer.  Text lines look like
 *   2026-11-25T04:33:30.123Z notice monitor: failover done cluster=web to=b
 * with values quoted when they hold spaces, quotes or '='; JSON lines are
 * one object with ts, level, component, msg and the fields.
 */
#include "common/log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

#define VLOG_MAX_FIELDS 32

static enum vlog_format log_format = VLOG_TEXT;
static enum vlog_level log_min = VLOG_INFO;

static const char *const level_names[] = {
	[VLOG_DEBUG] = "debug", [VLOG_INFO] = "info", [VLOG_NOTICE] = "notice",
	[VLOG_WARNING] = "warning", [VLOG_ERR] = "error",
};

void vlog_setup(enum vlog_format fmt, enum vlog_level min_level)
{
	log_format = fmt;
	log_min = min_level;
}

enum vlog_format vlog_get_format(void)
{
	return log_format;
}

int vlog_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *vlog_level_name(enum vlog_level lvl)
{
	if ((unsigned)lvl >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[lvl];
}

static int needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || *v == '\\' ||
		    (unsigned char)*v < 0x20)
			return 1;
	return 0;
}

static void put_text_value(FILE *out, const char *v)
{
	if (!needs_quotes(v)) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else if ((unsigned char)*v < 0x20)
			fprintf(out, "\\x%02x", (unsigned char)*v);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

static void write_text(FILE *out, const char *ts, enum vlog_level lvl, const char *component,
		       const char *msg, const char *const *keys, const char *const *values, int n)
{
	fprintf(out, "%s %s %s: %s", ts, vlog_level_name(lvl), component, msg);
	for (int i = 0; i < n; i++) {
		fprintf(out, " %s=", keys[i]);
		put_text_value(out, values[i] ? values[i] : "");
	}
	fputc('\n', out);
}

static void write_json(FILE *out, const char *ts, enum vlog_level lvl, const char *component,
		       const char *msg, const char *const *keys, const char *const *values, int n)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return;
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(vlog_level_name(lvl)));
	json_object_set_new(o, "component", json_string(component));
	json_object_set_new(o, "msg", json_string(msg));
	for (int i = 0; i < n; i++)
		json_object_set_new(o, keys[i], json_string(values[i] ? values[i] : ""));
	s = json_dumps(o, JSON_COMPACT);
	if (s) {
		fprintf(out, "%s\n", s);
		free(s);
	}
	json_decref(o);
}

void vlog_fields(enum vlog_level lvl, const char *component, const char *msg,
		 const char *const *keys, const char *const *values, int n)
{
	char ts[40];

	if (lvl < log_min)
		return;
	clock_iso8601(ts, sizeof(ts));
	if (log_format == VLOG_JSON)
		write_json(stderr, ts, lvl, component, msg, keys, values, n);
	else
		write_text(stderr, ts, lvl, component, msg, keys, values, n);
	fflush(stderr);
}

void vlogv(enum vlog_level lvl, const char *component, const char *msg, va_list ap)
{
	const char *keys[VLOG_MAX_FIELDS], *values[VLOG_MAX_FIELDS];
	int n = 0;
	const char *k;

	while (n < VLOG_MAX_FIELDS && (k = va_arg(ap, const char *)) != NULL) {
		keys[n] = k;
		values[n] = va_arg(ap, const char *);
		n++;
	}
	vlog_fields(lvl, component, msg, keys, values, n);
}

void vlog(enum vlog_level lvl, const char *component, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vlogv(lvl, component, msg, ap);
	va_end(ap);
}
