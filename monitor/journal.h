/*
 * monitor/journal.h — the append-only journal of cluster events:
 * STATE_DIR/journal.jsonl, one JSON object per line, each written and
 * fdatasync'ed before the action it announces starts, e.g.
 *
 *   {"ts":"2026-11-25T04:33:30.123Z","cluster":"web","epoch":4,
 *    "event":"failover_started","old_primary":"a","new_primary":"b",
 *    "reason":"primary down, standby up"}
 *
 * On start the daemon replays it to recover each cluster's roles and
 * epoch.  A torn last line (a crash mid-write) is tolerated and reported;
 * the next append starts on a fresh line.
 */
#ifndef VIGIL_MONITOR_JOURNAL_H
#define VIGIL_MONITOR_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

/* Open (create) STATE_DIR/journal.jsonl for appending. */
struct journal *journal_open(const char *state_dir, char *err, size_t errlen);
void journal_close(struct journal *j);
/*
 * Append one record as one line; with durable, fdatasync before returning.
 * Records that announce an action are durable; observations (node_up,
 * node_down) are not: fsyncing 10,000 of them at start-up would stall the
 * loop for seconds.  0 or -1 with err.
 */
int journal_append(struct journal *j, const json_t *record, bool durable,
		   char *err, size_t errlen);
const char *journal_path(const struct journal *j);
/* Bytes in the current file. */
uint64_t journal_size(const struct journal *j);
/*
 * Records ever appended, across rotations: the numbering `vigilctl events`
 * uses.  The daemon sets it from its replay at start-up (journal_seq_fold).
 */
uint64_t journal_seq(const struct journal *j);
void journal_set_seq(struct journal *j, uint64_t seq);
/*
 * Number a replayed record: a "journal_rotated" marker (the first line of
 * a rotated file) resets the count to its seq_base and returns false (not
 * an event to show); any other record is numbered ++*seq, returns true.
 */
bool journal_seq_fold(uint64_t *seq, const json_t *record);
/*
 * Rotation: the current file becomes journal.jsonl.1 (replacing an older
 * one) and journal.jsonl starts over with the n records of head (each
 * cluster's checkpoint, so that a replay of the new file alone recovers
 * everything).  journal.jsonl is whole at every instant.  0 or -1 with err
 * (then the journal goes on in the old file).
 */
int journal_rotate(struct journal *j, json_t *const *head, size_t n, char *err, size_t errlen);

struct journal_replay {
	size_t records;      /* lines parsed */
	size_t bad_lines;    /* unparseable lines in the middle (skipped, reported) */
	bool torn_tail;      /* the last line was incomplete */
};

/* Called for each record in order; return non-zero to stop. */
typedef int (*journal_record_fn)(void *arg, const json_t *record);

/*
 * Read PATH from the start.  A missing file is an empty journal.  Returns
 * 0, or -1 with err when the file cannot be read.
 */
int journal_replay(const char *path, journal_record_fn cb, void *arg,
		   struct journal_replay *stats, char *err, size_t errlen);

#endif
