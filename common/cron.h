/*
 * common/cron.h — five-field cron expressions for scheduled backup jobs.
 *
 * Pure: no I/O and no global state beyond the C library's time zone, so
 * conf/ can reject a bad schedule at load time and monitor/ can ask for
 * the next run without either knowing the syntax.
 *
 * Syntax: "minute hour day-of-month month day-of-week", each field a
 * comma list of "*", "N", "A-B", "*\/S" or "A-B/S" (S >= 1).  Months may
 * be written jan..dec and weekdays sun..sat (any case); weekday 7 is
 * Sunday like 0.  The aliases @hourly, @daily, @midnight, @weekly,
 * @monthly, @yearly and @annually stand for their usual expansions.
 *
 * Vixie cron's day rule: when both day-of-month and day-of-week are
 * restricted (neither field starts with '*'), a day matches if EITHER
 * matches; otherwise both must.  So "0 0 1 * mon" runs on the 1st and on
 * every Monday, while "0 0 *\/2 * mon" runs on odd-numbered Mondays only.
 *
 * Local time and daylight saving time: the schedule is read as wall-clock
 * time, and each wall-clock minute fires at most once.
 *  - Spring forward: a matching time that the clock skips (02:30 in
 *    Europe/Berlin on the last Sunday of March) fires once at the first
 *    valid instant after the gap (03:00 CEST), so a daily backup is not
 *    lost.  Several skipped times ("*\/15 2 * * *") still fire only once
 *    there, together with any match at that very minute.
 *  - Fall back: a wall-clock time that occurs twice fires at its first
 *    occurrence only; when the clock repeats 02:00-02:59, chaining
 *    cron_next() from the last run does not revisit those minutes.  Asked
 *    from inside the repeat, the next occurrence strictly after is given.
 */
#ifndef VIGIL_COMMON_CRON_H
#define VIGIL_COMMON_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One bit per allowed value: bit N set means value N matches. */
struct cron_spec {
	uint64_t minute;	/* bits 0-59 */
	uint32_t hour;		/* bits 0-23 */
	uint32_t dom;		/* bits 1-31 */
	uint16_t month;		/* bits 1-12 */
	uint8_t dow;		/* bits 0-6, 0 = Sunday (7 is folded into 0) */
	bool dom_star;		/* the day-of-month field started with '*' */
	bool dow_star;		/* the day-of-week field started with '*' */
};

/*
 * Parse EXPR into *OUT.  Returns 0, or -1 with err naming the field and
 * the problem, e.g. "cron field 2 (hour) '25': out of range 0-23".
 * *OUT is only written on success.
 */
int cron_parse(const char *expr, struct cron_spec *out, char *err, size_t errlen);

/*
 * The first matching minute strictly after AFTER, read in UTC or in the
 * local time zone (TZ, see the DST rules above), into *NEXT.  Returns 0,
 * or -1 if nothing matches within 8 years (e.g. "0 0 30 2 *"; 8 years so
 * that "0 0 29 2 *" survives a non-leap century year such as 2100) or the
 * time cannot be represented.
 */
int cron_next(const struct cron_spec *c, time_t after, bool utc, time_t *next);

#endif
