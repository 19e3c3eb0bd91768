/* common/clock.h — monotonic time for every timer and latency. */
#ifndef VIGIL_COMMON_CLOCK_H
#define VIGIL_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Milliseconds on CLOCK_MONOTONIC (never jumps with the wall clock). */
uint64_t clock_mono_ms(void);
/* Milliseconds on CLOCK_REALTIME (wall clock: only for spotting jumps). */
uint64_t clock_real_ms(void);
/* Microseconds on CLOCK_MONOTONIC. */
uint64_t clock_mono_us(void);
/* Wall-clock time as ISO 8601 UTC with milliseconds: 2026-11-25T04:33:30.123Z */
void clock_iso8601(char *buf, size_t len);
/* Milliseconds into a struct timeval for libevent timers. */
struct timeval clock_tv_ms(uint64_t ms);

#endif
