/* monitor/journal.c — append-only JSON-lines journal (see journal.h). */
#include "monitor/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"

#define JOURNAL_FILE "journal.jsonl"

struct journal {
	int fd;
	char *path;
	char *dir;
	bool need_newline; /* the file ends in a torn line: start ours on a fresh one */
	uint64_t size;     /* bytes in the current file */
	uint64_t seq;      /* records ever appended (vigilctl events' numbering) */
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

static bool ends_without_newline(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return false;
	return pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

struct journal *journal_open(const char *state_dir, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));

	struct stat st;

	if (!j || asprintf(&j->path, "%s/%s", state_dir, JOURNAL_FILE) < 0 ||
	    !(j->dir = strdup(state_dir))) {
		if (j)
			free(j->path);
		free(j);
		err_set(err, errlen, "open journal: out of memory");
		return NULL;
	}
	if (fs_mkdir_p(state_dir, 0700, err, errlen) < 0) {
		journal_close(j);
		return NULL;
	}
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		err_set(err, errlen, "open %s: %s", j->path, strerror(errno));
		j->fd = -1;
		journal_close(j);
		return NULL;
	}
	j->need_newline = ends_without_newline(j->fd);
	j->size = fstat(j->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return j;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j->dir);
	free(j);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int journal_append(struct journal *j, const json_t *record, bool durable,
		   char *err, size_t errlen)
{
	char *text = json_dumps(record, JSON_COMPACT), *line;
	int rc = -1;

	if (!text || asprintf(&line, "%s%s\n", j->need_newline ? "\n" : "", text) < 0) {
		free(text);
		err_set(err, errlen, "append to %s: out of memory", j->path);
		return -1;
	}
	free(text);
	/* One write of the whole line, then durable before the action it announces. */
	if (write_all(j->fd, line, strlen(line)) < 0 || (durable && fdatasync(j->fd) < 0))
		err_set(err, errlen, "append to %s: %s", j->path, strerror(errno));
	else {
		rc = 0;
		j->need_newline = false;
		j->size += strlen(line);
		j->seq++;
	}
	free(line);
	return rc;
}

int journal_replay(const char *path, journal_record_fn cb, void *arg,
		   struct journal_replay *stats, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	json_t *rec;

	memset(stats, 0, sizeof(*stats));
	if (!f) {
		if (errno == ENOENT)
			return 0;
		err_set(err, errlen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		bool complete = line[len - 1] == '\n';

		rec = json_loadb(line, (size_t)len, JSON_DISABLE_EOF_CHECK, NULL);
		if (!json_is_object(rec)) {
			json_decref(rec);
			if (!complete)
				stats->torn_tail = true;
			else if (len > 1)
				stats->bad_lines++;
			continue;
		}
		stats->records++;
		if (cb(arg, rec) != 0) {
			json_decref(rec);
			break;
		}
		json_decref(rec);
	}
	free(line);
	fclose(f);
	return 0;
}

/* The records as JSON lines, in one buffer. */
static char *lines_of(json_t *const *records, size_t n, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	bool ok = m != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		char *text = json_dumps(records[i], JSON_COMPACT);

		ok = text && fprintf(m, "%s\n", text) > 0;
		free(text);
	}
	if (m && fclose(m) != 0)
		ok = false;
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

int journal_rotate(struct journal *j, json_t *const *head, size_t n, char *err, size_t errlen)
{
	char *old = NULL, *buf;
	size_t len = 0;
	int fd, rc = -1;

	if (!(buf = lines_of(head, n, &len)) || asprintf(&old, "%s.1", j->path) < 0) {
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
			j->need_newline = false;
			rc = 0;
		}
	}
	free(buf);
	free(old);
	return rc;
}

bool journal_seq_fold(uint64_t *seq, const json_t *record)
{
	const char *event = json_string_value(json_object_get(record, "event"));
	json_int_t base;

	if (event && strcmp(event, "journal_rotated") == 0) {
		base = json_integer_value(json_object_get(record, "seq_base"));
		*seq = base > 0 ? (uint64_t)base : 0;
		return false;
	}
	(*seq)++;
	return true;
}
