/*
 * conf/duration.c — duration strings into milliseconds.
 *
 * Integer arithmetic only, with explicit overflow checks: a float would
 * turn "0.3s" into 299 ms, and an overflow would wrap to a tiny timeout.
 */
#include "conf/duration.h"
#include "common/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DUR_HINT "expected a number and a unit (ms, s, m or h), e.g. \"500ms\", \"5s\", \"1.5m\""
#define DUR_MAX_FRAC 9

static const struct {
	const char *name;
	uint64_t ms;
} units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 },
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits at *p into *val; false on overflow. */
static bool read_digits(const char **p, uint64_t *val, size_t *ndigits)
{
	*val = 0;
	*ndigits = 0;
	while (is_digit(**p)) {
		if (__builtin_mul_overflow(*val, 10, val) ||
		    __builtin_add_overflow(*val, (uint64_t)(**p - '0'), val))
			return false;
		(*p)++;
		(*ndigits)++;
	}
	return true;
}

/* Fraction digits after the '.', trailing zeros dropped; -1 if too precise. */
static int read_fraction(const char **p, uint64_t *frac, uint64_t *scale)
{
	const char *start = *p, *end;

	while (is_digit(**p))
		(*p)++;
	end = *p;
	while (end > start && end[-1] == '0')
		end--;
	*frac = 0;
	*scale = 1;
	if (end - start > DUR_MAX_FRAC)
		return -1;
	for (const char *q = start; q < end; q++) {
		*frac = *frac * 10 + (uint64_t)(*q - '0');
		*scale *= 10;
	}
	return 0;
}

static int find_unit(const char *u, uint64_t *ms)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].name) == 0) {
			*ms = units[i].ms;
			return 0;
		}
	}
	return -1;
}

int conf_parse_duration(const char *s, uint64_t *out_ms, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t whole, frac = 0, scale = 1, unit, ms;
	size_t nd;

	if (s == NULL || *s == '\0') {
		err_set(err, errlen, "empty duration: " DUR_HINT);
		return -1;
	}
	if (*s == '-') {
		err_set(err, errlen, "negative duration \"%s\" is not allowed", s);
		return -1;
	}
	if (!is_digit(*s)) {
		err_set(err, errlen, "\"%s\" is not a duration: " DUR_HINT, s);
		return -1;
	}
	if (!read_digits(&p, &whole, &nd))
		goto too_big;
	if (*p == '.') {
		p++;
		if (!is_digit(*p)) {
			err_set(err, errlen, "\"%s\" is not a duration: digits must follow "
				"the decimal point", s);
			return -1;
		}
		if (read_fraction(&p, &frac, &scale) < 0) {
			err_set(err, errlen, "\"%s\" has too many decimal places "
				"(durations have millisecond precision)", s);
			return -1;
		}
	}
	if (*p == '\0') {
		err_set(err, errlen, "missing unit in \"%s\": " DUR_HINT, s);
		return -1;
	}
	if (find_unit(p, &unit) < 0) {
		err_set(err, errlen, "unknown unit \"%s\" in \"%s\": " DUR_HINT, p, s);
		return -1;
	}
	/* frac < 10^9 and unit <= 3.6e6, so frac * unit cannot overflow. */
	if ((frac * unit) % scale != 0) {
		err_set(err, errlen, "\"%s\" is not a whole number of milliseconds", s);
		return -1;
	}
	if (__builtin_mul_overflow(whole, unit, &ms) ||
	    __builtin_add_overflow(ms, frac * unit / scale, &ms) || ms > CONF_DURATION_MAX_MS)
		goto too_big;
	*out_ms = ms;
	return 0;
too_big:
	err_set(err, errlen, "duration \"%s\" is too large (at most 8760h, a year)", s);
	return -1;
}
