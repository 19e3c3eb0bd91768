/*
 * monitor/journal_read.c — replay the journal, checking every line
 * (see journal.h): its format, its checksum, its fields' types, and that
 * its number is the next one.  Damage is handed to the caller in order,
 * with its line number; nothing is skipped silently.
 */
#include "monitor/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "monitor/journal_line.h"

/* Lines out of a file descriptor, each at most JLINE_MAX bytes. */
struct reader {
	int fd;
	char *buf;
	size_t len, off; /* buf[off..len) is unread */
	bool eof;
};

enum got { GOT_LINE, GOT_LONG, GOT_TORN, GOT_END, GOT_ERROR };

static int fill(struct reader *r)
{
	ssize_t n;

	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	do
		n = read(r->fd, r->buf + r->len, 2 * JLINE_MAX - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	r->eof = n == 0;
	r->len += (size_t)n;
	return 0;
}

/* The next line in [*line, *line + *len) without its '\n'. */
static enum got next_line(struct reader *r, const char **line, size_t *len)
{
	bool skipping = false;

	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);

		if (nl) {
			*line = r->buf + r->off;
			*len = (size_t)(nl - *line);
			r->off += *len + 1;
			return skipping ? GOT_LONG : GOT_LINE;
		}
		if (r->len - r->off > JLINE_MAX) {
			skipping = true; /* drop it, and whatever else comes before its '\n' */
			r->off = r->len;
		}
		if (r->eof) {
			*line = r->buf + r->off;
			*len = r->len - r->off;
			r->off = r->len;
			if (skipping)
				return GOT_LONG;
			return *len ? GOT_TORN : GOT_END;
		}
		if (fill(r) < 0)
			return GOT_ERROR;
	}
}

struct replay_state {
	journal_record_fn cb;
	void *arg;
	struct journal_replay *st;
	size_t lineno;
	uint64_t next;    /* the number the next record must have */
	bool summed_seen; /* a format 2 record came: every later one must be format 2 */
	bool stop;
};

static void damage(struct replay_state *s, const char *why)
{
	char text[256];
	struct journal_line l = { .damage = text };

	snprintf(text, sizeof(text), "line %zu: %s", s->lineno, why);
	if (s->st->damaged++ == 0)
		snprintf(s->st->first_damage, sizeof(s->st->first_damage), "%s", text);
	s->stop = s->stop || s->cb(s->arg, &l) != 0;
}

static bool is_marker(const json_t *rec)
{
	const char *event = json_string_value(json_object_get(rec, "event"));

	return event && strcmp(event, "journal_rotated") == 0;
}

/* Where the numbering of a rotated file starts, from its first line. */
static void take_marker(struct replay_state *s, const struct jline *jl)
{
	json_int_t base = json_integer_value(json_object_get(jl->rec, "seq_base"));

	if (jl->summed && (uint64_t)base != jl->seq)
		damage(s, "the rotation marker's seq and seq_base differ");
	s->next = (uint64_t)(base > 0 ? base : 0) + 1;
}

static void take_record(struct replay_state *s, struct jline *jl)
{
	struct journal_line l = { .rec = jl->rec };
	char why[96];

	if (is_marker(jl->rec)) {
		if (s->lineno == 1)
			take_marker(s, jl);
		else
			damage(s, "a rotation marker in the middle of the journal");
		s->summed_seen = s->summed_seen || jl->summed;
		return;
	}
	if (jl->summed) {
		if (jl->seq != s->next) {
			snprintf(why, sizeof(why), "record %llu where %llu was expected (%s)",
				 (unsigned long long)jl->seq, (unsigned long long)s->next,
				 jl->seq > s->next ? "records are missing" : "out of order");
			damage(s, why);
		}
		s->next = jl->seq + 1;
		s->summed_seen = true;
	} else if (s->summed_seen) {
		damage(s, "a record without a checksum after records with one");
		return;
	} else {
		/* Format 1: numbered by counting, as the older vigil did. */
		jl->seq = s->next++;
		s->st->v1_records++;
	}
	l.seq = jl->seq;
	s->st->records++;
	s->stop = s->stop || s->cb(s->arg, &l) != 0;
}

static int replay_fd(int fd, struct replay_state *s, char *err, size_t errlen, const char *path)
{
	struct reader r = { .fd = fd, .buf = malloc(2 * JLINE_MAX) };
	const char *line;
	size_t len;
	enum got got;
	int rc = 0;

	if (!r.buf) {
		err_set(err, errlen, "read %s: out of memory", path);
		return -1;
	}
	while (!s->stop && (got = next_line(&r, &line, &len)) != GOT_END) {
		struct jline jl;
		char why[160];

		s->lineno++;
		if (got == GOT_ERROR) {
			err_set(err, errlen, "read %s: %s", path, strerror(errno));
			rc = -1;
			break;
		}
		if (got == GOT_TORN) {
			s->st->torn_bytes = len;
			break;
		}
		if (got == GOT_LONG) {
			damage(s, "longer than any record vigil writes");
			s->next++;
		} else if (len == 0) {
			continue; /* an empty line holds no record (a missing one shows in the numbers) */
		} else if (jline_decode(line, len, &jl, why, sizeof(why)) < 0) {
			damage(s, why);
			s->next++; /* it took a number, presumably */
		} else {
			take_record(s, &jl);
			json_decref(jl.rec);
		}
	}
	free(r.buf);
	s->st->last_seq = s->next > 0 ? s->next - 1 : 0;
	return rc;
}

int journal_replay(const char *path, journal_record_fn cb, void *arg,
		   struct journal_replay *stats, char *err, size_t errlen)
{
	struct replay_state s = { .cb = cb, .arg = arg, .st = stats, .next = 1 };
	bool missing;
	int fd, rc;

	memset(stats, 0, sizeof(*stats));
	fd = fs_open_regular(path, O_RDONLY, 0, &missing, err, errlen);
	if (fd < 0)
		return missing ? 0 : -1;
	rc = replay_fd(fd, &s, err, errlen, path);
	close(fd);
	return rc;
}
