/* monitor/journal.c — the append-only journal's writer (see journal.h). */
#include "monitor/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "monitor/journal_line.h"

#define JOURNAL_FILE "journal.jsonl"

struct journal {
	int fd;
	char *path;
	uint64_t size;     /* bytes in the current file */
	uint64_t seq;      /* the last record's number */
	size_t torn;       /* bytes of a torn last line cut off at open */
};

uint64_t journal_seq(const struct journal *j)
{
	return j->seq;
}

void journal_set_seq(struct journal *j, uint64_t seq)
{
	j->seq = seq;
}

uint64_t journal_size(const struct journal *j)
{
	return j->size;
}

const char *journal_path(const struct journal *j)
{
	return j->path;
}

size_t journal_torn_bytes(const struct journal *j)
{
	return j->torn;
}

/*
 * A file that does not end in '\n' ends in a torn line (a crash mid-write;
 * the action it announced never started, since it comes after the
 * fdatasync).  Cut it off so the next record starts on a line of its own.
 * A "torn line" longer than any line vigil writes is not one: it is left
 * for the replay to report as damage.
 */
static int cut_torn_tail(struct journal *j, char *err, size_t errlen)
{
	char buf[4096];
	off_t end = (off_t)j->size, pos = end;

	while (pos > 0 && end - pos <= JLINE_MAX) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t got = pread(j->fd, buf, n, pos - (off_t)n);

		if (got != (ssize_t)n) {
			err_set(err, errlen, "read %s: %s", j->path, got < 0 ? strerror(errno) : "short read");
			return -1;
		}
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			if (pos - (off_t)n + (off_t)i == end)
				return 0; /* whole */
			pos = pos - (off_t)n + (off_t)i;
			goto cut;
		}
		pos -= (off_t)n;
	}
	if (end - pos > JLINE_MAX)
		return 0;
cut:
	if (ftruncate(j->fd, pos) < 0 || fdatasync(j->fd) < 0) {
		err_set(err, errlen, "cut the torn last line of %s: %s", j->path, strerror(errno));
		return -1;
	}
	j->torn = (size_t)(end - pos);
	j->size = (uint64_t)pos;
	return 0;
}

struct journal *journal_open(const char *state_dir, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct stat st;
	bool missing;

	if (!j || asprintf(&j->path, "%s/%s", state_dir, JOURNAL_FILE) < 0) {
		free(j);
		err_set(err, errlen, "open journal: out of memory");
		return NULL;
	}
	j->fd = -1;
	if (fs_mkdir_p(state_dir, 0700, err, errlen) < 0)
		goto fail;
	j->fd = fs_open_regular(j->path, O_RDWR | O_APPEND | O_CREAT, 0600, &missing, err, errlen);
	if (j->fd < 0)
		goto fail;
	if (fstat(j->fd, &st) < 0) {
		err_set(err, errlen, "open %s: %s", j->path, strerror(errno));
		goto fail;
	}
	j->size = (uint64_t)st.st_size;
	if (cut_torn_tail(j, err, errlen) < 0)
		goto fail;
	return j;
fail:
	journal_close(j);
	return NULL;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

int journal_append(struct journal *j, const json_t *record, bool durable,
		   char *err, size_t errlen)
{
	char *line = jline_encode(record, j->seq + 1);
	size_t len;
	int rc = -1;

	if (!line) {
		err_set(err, errlen, "append to %s: cannot encode the record", j->path);
		return -1;
	}
	len = strlen(line);
	/* One write of the whole line, then durable before the action it announces. */
	if (len > JLINE_MAX)
		err_set(err, errlen, "append to %s: record longer than %d bytes", j->path, JLINE_MAX);
	else if (fs_write_all(j->fd, line, len) < 0 || (durable && fdatasync(j->fd) < 0))
		err_set(err, errlen, "append to %s: %s", j->path, strerror(errno));
	else {
		rc = 0;
		j->size += len;
		j->seq++;
	}
	free(line);
	return rc;
}

/* The marker and the checkpoints as format 2 lines, numbered on from seq. */
static char *head_lines(json_t *const *checkpoints, size_t n, uint64_t seq, size_t *len)
{
	char ts[40], *buf = NULL, *line;
	FILE *m = open_memstream(&buf, len);
	json_t *marker;
	bool ok = m != NULL;

	clock_iso8601(ts, sizeof(ts));
	marker = json_pack("{s:s, s:s, s:s, s:I}", "ts", ts, "cluster", "", "event",
			   "journal_rotated", "seq_base", (json_int_t)seq);
	/* The marker carries the last number so far; it is not a record of its own. */
	line = marker ? jline_encode(marker, seq) : NULL;
	ok = ok && line && fputs(line, m) >= 0;
	free(line);
	json_decref(marker);
	for (size_t i = 0; ok && i < n; i++) {
		line = jline_encode(checkpoints[i], seq + 1 + i);
		ok = line && fputs(line, m) >= 0;
		free(line);
	}
	if (m && fclose(m) != 0)
		ok = false;
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

int journal_rotate(struct journal *j, json_t *const *checkpoints, size_t n, char *err,
		   size_t errlen)
{
	char *old = NULL, *buf;
	size_t len = 0;
	int fd, rc = -1;

	if (!(buf = head_lines(checkpoints, n, j->seq, &len)) ||
	    asprintf(&old, "%s.1", j->path) < 0) {
		free(buf);
		err_set(err, errlen, "rotate %s: out of memory", j->path);
		return -1;
	}
	/*
	 * Keep the old file as .1 (a hard link: the journal itself never goes
	 * missing), then replace the journal atomically by one that starts
	 * with the checkpoints.  A crash anywhere leaves a whole journal.
	 */
	if ((unlink(old) < 0 && errno != ENOENT) || link(j->path, old) < 0) {
		err_set(err, errlen, "rotate %s: keep it as %s: %s", j->path, old, strerror(errno));
	} else if (fs_write_atomic(j->path, buf, len, 0600, err, errlen) == 0) {
		fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			err_set(err, errlen, "reopen %s: %s", j->path, strerror(errno));
		} else {
			close(j->fd);
			j->fd = fd;
			j->size = len;
			j->seq += n;
			rc = 0;
		}
	}
	free(buf);
	free(old);
	return rc;
}
