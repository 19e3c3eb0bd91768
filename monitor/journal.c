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
	bool need_newline; /* the file ends in a torn line: start ours on a fresh one */
};

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

	if (!j || asprintf(&j->path, "%s/%s", state_dir, JOURNAL_FILE) < 0) {
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
	return j;
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
