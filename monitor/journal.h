/*
 * monitor/journal.h — the append-only journal of cluster events:
 * STATE_DIR/journal.jsonl, one JSON object per line (journal_line.h: each
 * with its sequence number and a checksum), each written and fdatasync'ed
 * before the action it announces starts.
 *
 * On start the daemon replays it to recover each cluster's roles and
 * epoch.  Nothing in it is skipped silently: a line that does not parse,
 * whose checksum does not match, whose fields have the wrong types, or
 * whose sequence number is not the next one (a record missing, or out of
 * order) is reported as damage with its line number, and the daemon then
 * acts on none of it (monitor/recover.h).  A torn last line (a crash
 * mid-write: the action it announced never started) is cut off at open
 * and reported.  A journal of an older vigil (format 1: no checksums) is
 * read, and rewritten in format 2 by the daemon's next rotation.
 *
 * Only a regular file is read or written, each line at most JLINE_MAX.
 */
#ifndef VIGIL_MONITOR_JOURNAL_H
#define VIGIL_MONITOR_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

/* Open (create) STATE_DIR/journal.jsonl for appending; cut a torn last line. */
struct journal *journal_open(const char *state_dir, char *err, size_t errlen);
void journal_close(struct journal *j);
/* The open cut a torn last line off (bytes), 0 when none. */
size_t journal_torn_bytes(const struct journal *j);
/*
 * Append one record as one line, numbered journal_seq() + 1; with
 * durable, fdatasync before returning.  Records that announce an action
 * are durable; observations (node_up, node_down) are not: fsyncing 10,000
 * of them at start-up would stall the loop for seconds.  0 or -1 with err.
 */
int journal_append(struct journal *j, const json_t *record, bool durable,
		   char *err, size_t errlen);
const char *journal_path(const struct journal *j);
/* Bytes in the current file. */
uint64_t journal_size(const struct journal *j);
/*
 * The last record's number, across rotations: what `vigilctl events`
 * shows.  The daemon sets it from its replay at start-up.
 */
uint64_t journal_seq(const struct journal *j);
void journal_set_seq(struct journal *j, uint64_t seq);
/*
 * Rotation: the current file becomes journal.jsonl.1 (replacing an older
 * one) and journal.jsonl starts over with a "journal_rotated" marker
 * (seq_base: the last number so far) and the n checkpoints (one per
 * cluster, so that a replay of the new file alone recovers everything),
 * all in format 2.  journal.jsonl is whole at every instant.  0 or -1 with
 * err (then the journal goes on in the old file).
 */
int journal_rotate(struct journal *j, json_t *const *checkpoints, size_t n, char *err,
		   size_t errlen);

/* One line of a replay, as the callback sees it. */
struct journal_line {
	const json_t *rec;  /* the record, or NULL: the line is damage */
	const char *damage; /* with rec NULL: "line 7: checksum mismatch: ..." */
	uint64_t seq;       /* the record's number (stored, or counted in format 1) */
};

struct journal_replay {
	size_t records;      /* records handed to the callback */
	size_t v1_records;   /* of which written in format 1 (no checksum) */
	size_t damaged;      /* damage handed to the callback */
	char first_damage[256];
	size_t torn_bytes;   /* a torn last line, ignored (journal_open normally cuts it) */
	uint64_t last_seq;   /* the last number used */
};

/* Called for each record and each damage in order; return non-zero to stop. */
typedef int (*journal_record_fn)(void *arg, const struct journal_line *line);

/*
 * Read PATH from the start.  A missing file is an empty journal.  Returns
 * 0, or -1 with err when the file cannot be read or is not a regular file.
 */
int journal_replay(const char *path, journal_record_fn cb, void *arg,
		   struct journal_replay *stats, char *err, size_t errlen);

#endif
