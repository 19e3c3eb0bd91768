/*
 * monitor/journal_line.h — one journal line: a JSON object with its
 * sequence number first and a checksum last (journal format 2),
 *
 *   {"seq":12,"ts":"2026-12-07T20:55:24.123Z","cluster":"web","epoch":1,
 *    "event":"promoted","old_primary":"a","new_primary":"b","sum":"9c1f0e7a5b3d2c41"}
 *
 * "sum" is the first 8 bytes of SHA-256, in hex, of the line's text from
 * the opening brace up to the comma before "sum", followed by a closing
 * brace: the bytes as written, so no re-encoding can hide a change.  A
 * flipped bit anywhere in a record (a cluster renamed, an epoch changed)
 * no longer matches its sum.
 *
 * Journals written before format 2 have neither field; their records are
 * read once (format 1) and the journal is rewritten in format 2.
 */
#ifndef VIGIL_MONITOR_JOURNAL_LINE_H
#define VIGIL_MONITOR_JOURNAL_LINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest line vigil writes or reads; a longer one is damage. */
#define JLINE_MAX (64 * 1024)

/* The record as one line ending in '\n', numbered seq: malloc'd, or NULL (out of memory). */
char *jline_encode(const json_t *record, uint64_t seq);

struct jline {
	json_t *rec;    /* the record (without "sum"); the caller decrefs it */
	bool summed;    /* format 2: it carried a checksum, which matched */
	uint64_t seq;   /* its "seq" (format 2) */
};

/*
 * Read one line (len bytes, without its '\n').  0 with *out filled, or -1
 * with why: not JSON, a duplicate key, a checksum that does not match, a
 * field of the wrong type ("epoch" must be a non-negative integer...).
 */
int jline_decode(const char *line, size_t len, struct jline *out, char *why, size_t whylen);

#endif
