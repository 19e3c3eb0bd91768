/* common/clock.c — monotonic and wall clocks. */
#include "common/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t clock_mono_us(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_mono_ms(void)
{
	return clock_mono_us() / 1000u;
}

void clock_iso8601(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

struct timeval clock_tv_ms(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000u);
	tv.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
	return tv;
}
