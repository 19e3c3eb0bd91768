/*
 * monitor/cli_progress.h — progress of `vigil backup` and `vigil restore`
 * on the command line: a bar redrawn in place when standard error is a
 * terminal, otherwise a plain line every 10 seconds (a log file gets a
 * few lines, not a bar's worth of carriage returns).
 */
#ifndef VIGIL_MONITOR_CLI_PROGRESS_H
#define VIGIL_MONITOR_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "actions/backup/backup.h"

struct cli_progress {
	FILE *out;
	const char *verb;  /* "backup", "restore" */
	bool tty;
	uint64_t start_ms, last_ms;
	bool drawn;        /* a bar is on the line: end it before other output */
};

/* Set up for verb on stderr; tty decided by isatty. */
void cli_progress_init(struct cli_progress *p, const char *verb);
/* A bk_progress_fn: arg is the struct cli_progress. */
void cli_progress_report(void *arg, const struct bk_progress *bp);
/* End a bar that is still drawn (before an error message). */
void cli_progress_end(struct cli_progress *p);
/* "1.5 GiB" and the like. */
void cli_human_bytes(uint64_t n, char *buf, size_t len);

#endif
