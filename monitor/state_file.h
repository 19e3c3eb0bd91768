/*
 * monitor/state_file.h — the roles vigil has put in place, kept across
 * restarts: STATE_DIR/NAME.state.json = {"primary":"b","epoch":3}, written
 * atomically after each promotion.  Without it a restart would render the
 * config's original primary again and undo a failover.  (The journal of the
 * quorum issue supersedes this file.)
 */
#ifndef VIGIL_MONITOR_STATE_FILE_H
#define VIGIL_MONITOR_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

struct mon_saved_state {
	char primary[128];
	uint64_t epoch;
};

/* 0 loaded, 1 no file yet, -1 unreadable/invalid (err set). */
int state_file_load(const char *state_dir, const char *cluster, struct mon_saved_state *out,
		    char *err, size_t errlen);
int state_file_save(const char *state_dir, const char *cluster, const struct mon_saved_state *st,
		    char *err, size_t errlen);

#endif
