/*
 * actions/render_mark.h — the first line of every file vigil renders for a
 * balancer, saying which roles it routes:
 *
 *   # Managed by vigil: do not edit. Cluster web, primary b, epoch 3.
 *
 * It is what vigil last made the balancer serve, written after the journal
 * records that decided it, so at start-up it is evidence to hold the
 * journal against (monitor/recover.h).  Files rendered before the epoch
 * was added say only "Cluster web, primary b."; they are read too.
 */
#ifndef VIGIL_ACTIONS_RENDER_MARK_H
#define VIGIL_ACTIONS_RENDER_MARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RENDER_MARK_NAME 128

struct render_mark {
	char cluster[RENDER_MARK_NAME];
	char primary[RENDER_MARK_NAME];
	bool has_epoch;   /* false: a file from before the epoch was written */
	uint64_t epoch;
};

void render_mark_write(FILE *f, const char *cluster, const char *primary, uint64_t epoch);
/* Parse a first line (without its '\n'); 0, or -1 when it is not vigil's mark. */
int render_mark_parse(const char *line, size_t len, struct render_mark *m);
/*
 * The mark of the file at path: 1 with *m, 0 when there is no such file or
 * it does not start with a mark (not written by vigil), -1 with err when it
 * cannot be read or is not a regular file.  Never blocks (a FIFO is refused).
 */
int render_mark_read(const char *path, struct render_mark *m, char *err, size_t errlen);

#endif
