/*
 * monitor/cli_stream.h — the stream forms of `vigil backup` and `vigil
 * restore`: a command's standard output (or our stdin) backed up as a
 * snapshot, and a snapshot's file written to a command's standard input
 * (or our stdout).
 *
 *   vigil backup  -r REPO ... [--stdin-name NAME] --command -- pg_dump -Fc app
 *   vigil backup  -r REPO ... [--stdin-name NAME] --stdin < dump
 *   vigil restore -r REPO ... [--file PATH] --command -- pg_restore -d app
 *   vigil restore -r REPO ... [--file PATH] --stdout > dump
 */
#ifndef VIGIL_MONITOR_CLI_STREAM_H
#define VIGIL_MONITOR_CLI_STREAM_H

#include <stddef.h>

#include "actions/backup/backup.h"
#include "monitor/cli_progress.h"

struct cli_stream {
	const char *job, *name;  /* name: the file in the snapshot (backup) */
	const char *snapshot, *file; /* restore */
	char **command;          /* NULL: stdin (backup) or stdout (restore) */
	struct cli_progress *progress; /* NULL: none */
};

/* 0, or 1 with err (the snapshot is not written when the command fails). */
int cli_stream_backup(struct bk_repo *r, const struct cli_stream *s, char *err, size_t errlen);
/* 0, or 1 with err (a command fed a partial stream is killed, never sees a clean end). */
int cli_stream_restore(struct bk_repo *r, const struct cli_stream *s, char *err, size_t errlen);

#endif
