/*
 * common/cron.c — parsing cron expressions and finding the next run.
 *
 * The search walks a civil (calendar) date-time rather than seconds: a
 * month, day or hour that cannot match is skipped whole, so even a spec
 * that never matches costs a few thousand steps over the 8-year horizon.
 * Only the final wall-clock answer is turned into a time_t, and that one
 * conversion is where daylight saving time is dealt with (see cron.h).
 */
#include "common/cron.h"

#include "common/error.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define N_FIELDS 5
/* Years searched: the longest gap between two 29 Februaries is 8. */
#define HORIZON_YEARS 8
/* Larger numbers are out of range for every field; stop reading there. */
#define NUMBER_CAP 100000

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

struct field_def {
	const char *name;
	int lo, hi;		/* values the field accepts */
	int star_hi;		/* what '*' covers (day-of-week: 0-6, not 0-7) */
	const char *const *names;	/* names[i] means lo + i; NULL: numbers only */
};

static const struct field_def fields[N_FIELDS] = {
	{ "minute", 0, 59, 59, NULL },
	{ "hour", 0, 23, 23, NULL },
	{ "day-of-month", 1, 31, 31, NULL },
	{ "month", 1, 12, 12, month_names },
	{ "day-of-week", 0, 7, 6, dow_names },
};

/* The element being parsed, for error messages. */
struct elem {
	int idx;		/* field index, 0-based */
	const char *s;
	size_t len;
};

static void elem_err(char *err, size_t errlen, const struct elem *e,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "cron field N (name) 'text': detail" — the one error shape for fields. */
static void elem_err(char *err, size_t errlen, const struct elem *e,
		     const char *fmt, ...)
{
	char detail[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	err_set(err, errlen, "cron field %d (%s) '%.*s': %s", e->idx + 1,
		fields[e->idx].name, (int)e->len, e->s, detail);
}

/* A name such as "Mar" or "fri" at *P; its value, or -1. */
static int read_name(const char **p, const char *end, const struct field_def *f)
{
	const char *q = *p;

	while (q < end && isalpha((unsigned char)*q))
		q++;
	for (int i = 0; f->names[i] != NULL; i++) {
		if ((size_t)(q - *p) == strlen(f->names[i]) &&
		    strncasecmp(*p, f->names[i], (size_t)(q - *p)) == 0) {
			*p = q;
			return f->lo + i;
		}
	}
	return -1;
}

/* Decimal digits at *P into *V (capped, so a huge number cannot wrap). */
static int read_number(const char **p, const char *end, int *v)
{
	const char *q = *p;
	int n = 0;

	while (q < end && isdigit((unsigned char)*q)) {
		if (n < NUMBER_CAP)
			n = n * 10 + (*q - '0');
		q++;
	}
	if (q == *p)
		return -1;
	*p = q;
	*v = n;
	return 0;
}

/* One value of a field — a number or, where allowed, a name — in range. */
static int read_value(const char **p, const char *end, const struct elem *e,
		      int *v, char *err, size_t errlen)
{
	const struct field_def *f = &fields[e->idx];
	const char *start = *p;

	if (f->names != NULL && *p < end && isalpha((unsigned char)**p)) {
		*v = read_name(p, end, f);
		if (*v >= 0)
			return 0;
		size_t last = 0;

		while (f->names[last + 1] != NULL)
			last++;
		elem_err(err, errlen, e, "unknown name (expected %s..%s)",
			 f->names[0], f->names[last]);
		return -1;
	}
	if (read_number(p, end, v) < 0) {
		elem_err(err, errlen, e, "expected a number%s at position %zu",
			 f->names != NULL ? " or name" : "", (size_t)(start - e->s) + 1);
		return -1;
	}
	if (*v < f->lo || *v > f->hi) {
		/* Name the value only when the element is more than the value. */
		if ((size_t)(*p - start) == e->len)
			elem_err(err, errlen, e, "out of range %d-%d", f->lo, f->hi);
		else
			elem_err(err, errlen, e, "%.*s is out of range %d-%d",
				 (int)(*p - start), start, f->lo, f->hi);
		return -1;
	}
	return 0;
}

/* "*", "N", "A-B", "*\/S" or "A-B/S": set its values in *BITS. */
static int parse_elem(const struct elem *e, uint64_t *bits, char *err, size_t errlen)
{
	const struct field_def *f = &fields[e->idx];
	const char *p = e->s, *end = e->s + e->len;
	int lo, hi, step = 1;
	bool ranged = true;

	if (*p == '*') {
		p++;
		lo = f->lo;
		hi = f->star_hi;
	} else {
		if (read_value(&p, end, e, &lo, err, errlen) < 0)
			return -1;
		hi = lo;
		ranged = p < end && *p == '-';
		if (ranged) {
			p++;
			if (read_value(&p, end, e, &hi, err, errlen) < 0)
				return -1;
			if (hi < lo) {
				elem_err(err, errlen, e, "reversed range (%d > %d)", lo, hi);
				return -1;
			}
		}
	}
	if (p < end && *p == '/') {
		if (!ranged) {
			elem_err(err, errlen, e, "a step needs '*' or a range before it "
				 "(write %.*s-%d/...)", (int)(p - e->s), e->s, f->hi);
			return -1;
		}
		p++;
		if (read_number(&p, end, &step) < 0) {
			elem_err(err, errlen, e, "expected a step number after '/'");
			return -1;
		}
		/* A step past the top can only give the first value: a typo. */
		if (step < 1 || step > f->hi) {
			elem_err(err, errlen, e, "step %d is out of range 1-%d", step, f->hi);
			return -1;
		}
	}
	if (p != end) {
		elem_err(err, errlen, e, "unexpected '%.*s'", (int)(end - p), p);
		return -1;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << (f->hi == 7 && v == 7 ? 0 : v);
	return 0;
}

/* A comma list of elements: field IDX, text S of LEN bytes. */
static int parse_field(int idx, const char *s, size_t len, uint64_t *bits,
		       char *err, size_t errlen)
{
	size_t pos = 0;

	*bits = 0;
	for (;;) {
		const char *comma = memchr(s + pos, ',', len - pos);
		size_t elen = comma != NULL ? (size_t)(comma - (s + pos)) : len - pos;
		struct elem e = { idx, s + pos, elen };

		if (elen == 0) {
			struct elem whole = { idx, s, len };

			elem_err(err, errlen, &whole, "empty list element");
			return -1;
		}
		if (parse_elem(&e, bits, err, errlen) < 0)
			return -1;
		if (comma == NULL)
			return 0;
		pos += elen + 1;
	}
}

struct alias {
	const char *name;
	const char *expansion;
};

static const struct alias aliases[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* The expansion of alias S (LEN bytes), or NULL with err set. */
static const char *find_alias(const char *s, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (len == strlen(aliases[i].name) &&
		    strncasecmp(s, aliases[i].name, len) == 0)
			return aliases[i].expansion;
	}
	err_set(err, errlen, "cron alias '%.*s': unknown (expected @hourly, @daily, "
		"@midnight, @weekly, @monthly, @yearly or @annually)", (int)len, s);
	return NULL;
}

/* Split EXPR at whitespace into at most N_FIELDS slices; the word count. */
static int split_words(const char *expr, const char **word, size_t *len)
{
	const char *p = expr;
	int n = 0;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return n;
		const char *start = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (n < N_FIELDS) {
			word[n] = start;
			len[n] = (size_t)(p - start);
		}
		n++;
	}
}

int cron_parse(const char *expr, struct cron_spec *out, char *err, size_t errlen)
{
	const char *word[N_FIELDS];
	size_t len[N_FIELDS];
	uint64_t bits[N_FIELDS];
	int n;

	if (expr == NULL || out == NULL) {
		err_set(err, errlen, "cron expression missing");
		return -1;
	}
	n = split_words(expr, word, len);
	if (n == 0) {
		err_set(err, errlen, "cron expression is empty");
		return -1;
	}
	if (word[0][0] == '@') {
		if (n != 1) {
			err_set(err, errlen, "cron expression '%s': unexpected text after "
				"'%.*s'", expr, (int)len[0], word[0]);
			return -1;
		}
		const char *expansion = find_alias(word[0], len[0], err, errlen);

		return expansion != NULL ? cron_parse(expansion, out, err, errlen) : -1;
	}
	if (n != N_FIELDS) {
		err_set(err, errlen, "cron expression '%s': %d field%s, expected 5 (minute "
			"hour day-of-month month day-of-week)", expr, n, n == 1 ? "" : "s");
		return -1;
	}
	for (int i = 0; i < N_FIELDS; i++) {
		if (parse_field(i, word[i], len[i], &bits[i], err, errlen) < 0)
			return -1;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	out->dow = (uint8_t)bits[4];
	out->dom_star = word[2][0] == '*';
	out->dow_star = word[4][0] == '*';
	return 0;
}

/* ---- finding the next run ---- */

/* A wall-clock minute.  long long year: tm_year + 1900 can exceed INT_MAX. */
struct civil {
	long long year;
	int mon;		/* 1-12 */
	int mday;		/* 1-31 */
	int hour;
	int min;
};

static bool is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * Days from 1970-01-01 to Y-M-D in the proleptic Gregorian calendar.
 * Counting in 400-year eras starting in March puts the leap day last, so
 * each era is the same length and the day of the year is a closed form.
 */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;			/* 0-399 */
	long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int weekday(const struct civil *w)
{
	long long days = days_from_civil(w->year, w->mon, w->mday);

	/* 1970-01-01 was a Thursday (4). */
	return (int)(((days % 7) + 7 + 4) % 7);
}

/* Seconds since the epoch had W (plus SEC) been UTC: orders wall times. */
static long long civil_key(const struct civil *w, int sec)
{
	return days_from_civil(w->year, w->mon, w->mday) * 86400LL +
	       w->hour * 3600LL + w->min * 60LL + sec;
}

static void next_month(struct civil *w)
{
	w->min = 0;
	w->hour = 0;
	w->mday = 1;
	if (++w->mon > 12) {
		w->mon = 1;
		w->year++;
	}
}

static void next_day(struct civil *w)
{
	w->min = 0;
	w->hour = 0;
	if (++w->mday > days_in_month(w->year, w->mon))
		next_month(w);
}

static void next_hour(struct civil *w)
{
	w->min = 0;
	if (++w->hour > 23)
		next_day(w);
}

static void next_minute(struct civil *w)
{
	if (++w->min > 59)
		next_hour(w);
}

static bool day_matches(const struct cron_spec *c, const struct civil *w)
{
	bool dom = (c->dom >> w->mday) & 1;
	bool dow = (c->dow >> weekday(w)) & 1;

	/* Vixie cron: a restricted day-of-month OR a restricted day-of-week. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * Advance *W to the first matching minute at or after it, skipping whole
 * months, days and hours that cannot match.  -1 past MAX_YEAR.
 */
static int civil_search(const struct cron_spec *c, struct civil *w, long long max_year)
{
	while (w->year <= max_year) {
		if (!((c->month >> w->mon) & 1))
			next_month(w);
		else if (!day_matches(c, w))
			next_day(w);
		else if (!((c->hour >> w->hour) & 1))
			next_hour(w);
		else if (!((c->minute >> w->min) & 1))
			next_minute(w);
		else
			return 0;
	}
	return -1;
}

/* The wall clock at T, in UTC or local time; SEC gets the seconds. */
static int wall_at(time_t t, bool utc, struct civil *w, int *sec)
{
	struct tm tm;

	if ((utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL)
		return -1;
	w->year = tm.tm_year + 1900LL;
	w->mon = tm.tm_mon + 1;
	w->mday = tm.tm_mday;
	w->hour = tm.tm_hour;
	w->min = tm.tm_min;
	*sec = tm.tm_sec;
	return 0;
}

/* Whether the local wall clock at T is exactly W:00. */
static bool local_is(time_t t, const struct civil *w)
{
	struct civil got;
	int sec;

	if (wall_at(t, false, &got, &sec) < 0)
		return false;
	return sec == 0 && civil_key(&got, 0) == civil_key(w, 0);
}

/*
 * W is not a local time (a spring-forward gap): the first instant after
 * AFTER whose wall clock is past W, i.e. the end of the gap.  HI is some
 * instant believed to be past the gap; the wall clock rises through the
 * gap, so bisection between AFTER and HI finds the jump.
 */
static int gap_end(const struct civil *w, time_t after, time_t hi, time_t *out)
{
	long long want = civil_key(w, 0);
	time_t lo = after;
	struct civil got;
	int sec;

	for (int tries = 0;; tries++) {
		if (hi <= lo || wall_at(hi, false, &got, &sec) < 0 || tries > 48)
			return -1;
		if (civil_key(&got, sec) >= want)
			break;
		hi += 3600;	/* a poor guess from mktime: walk forward */
	}
	while (hi - lo > 1) {
		time_t mid = lo + (hi - lo) / 2;

		if (wall_at(mid, false, &got, &sec) < 0)
			return -1;
		if (civil_key(&got, sec) >= want)
			hi = mid;
		else
			lo = mid;
	}
	*out = hi;
	return 0;
}

/*
 * Local wall time W as an instant after AFTER.  mktime is asked with each
 * DST flag because for a repeated time it may pick either occurrence;
 * only answers that map back to W count, and the earliest wins.
 */
static int local_instant(const struct civil *w, time_t after, time_t *out)
{
	static const int isdst[] = { 1, 0, -1 };
	bool found = false;
	time_t best = 0, hi = after;

	if (w->year - 1900 > INT_MAX || w->year - 1900 < INT_MIN)
		return -1;
	for (size_t i = 0; i < sizeof(isdst) / sizeof(isdst[0]); i++) {
		struct tm tm = {
			.tm_year = (int)(w->year - 1900), .tm_mon = w->mon - 1,
			.tm_mday = w->mday, .tm_hour = w->hour, .tm_min = w->min,
			.tm_isdst = isdst[i],
		};
		time_t t = mktime(&tm);

		/* -1 is also an error; a real -1 would not be on a minute. */
		if (t == (time_t)-1)
			continue;
		if (t > hi)
			hi = t;
		if (t > after && local_is(t, w) && (!found || t < best)) {
			best = t;
			found = true;
		}
	}
	if (found) {
		*out = best;
		return 0;
	}
	return gap_end(w, after, hi, out);
}

int cron_next(const struct cron_spec *c, time_t after, bool utc, time_t *next)
{
	struct civil w;
	int sec;

	if (c == NULL || next == NULL)
		return -1;
	/* An empty set (a hand-built spec) would only burn the whole horizon. */
	if ((c->minute & ((UINT64_C(1) << 60) - 1)) == 0 ||
	    (c->hour & ((UINT32_C(1) << 24) - 1)) == 0 ||
	    (c->dom & 0xfffffffeU) == 0 || (c->month & 0x1ffeU) == 0 ||
	    (c->dow & 0x7fU) == 0)
		return -1;
	/*
	 * Start one wall-clock minute after AFTER's, not at AFTER + 60 s: in
	 * local time the latter may already be past a spring-forward gap,
	 * and the times in the gap would never be considered.
	 */
	/* localtime_r, unlike mktime, need not notice a changed TZ. */
	if (!utc)
		tzset();
	if (wall_at(after, utc, &w, &sec) < 0)
		return -1;
	next_minute(&w);
	if (civil_search(c, &w, w.year + HORIZON_YEARS) < 0)
		return -1;
	if (utc) {
		long long t = civil_key(&w, 0);

		if ((long long)(time_t)t != t)
			return -1;
		*next = (time_t)t;
		return 0;
	}
	return local_instant(&w, after, next);
}
