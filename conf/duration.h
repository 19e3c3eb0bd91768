/*
 * conf/duration.h — "200ms", "1.5s", "1m", "1h" into milliseconds.
 *
 * A unit is always required: a bare "5" could mean seconds to one operator
 * and milliseconds to another, and that mistake would be silent.
 */
#ifndef VIGIL_CONF_DURATION_H
#define VIGIL_CONF_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse S (units ms, s, m, h; a decimal point is allowed if the result is
 * a whole number of milliseconds).  0 and *out_ms set, or -1 with a
 * message in err that says what is accepted.
 */
int conf_parse_duration(const char *s, uint64_t *out_ms, char *err, size_t errlen);

/*
 * The longest duration accepted: a year.  Anything longer is a typo, and
 * a bound keeps every sum and "+ 1" on durations far from overflowing
 * (18446744073709551615ms once made a jitter's modulus 0: SIGFPE).
 */
#define CONF_DURATION_MAX_MS (8760ULL * 3600 * 1000)

#endif
