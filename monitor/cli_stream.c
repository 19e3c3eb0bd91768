/* monitor/cli_stream.c — backups of a command's output, restores into a command (see cli_stream.h). */
#include "monitor/cli_stream.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/spawn.h"

struct producer {
	pid_t pid;
	const char *name;
	bool reaped;
};

/* Asked at the end of the stream: did the command that wrote it succeed? */
static int producer_finish(void *arg, char *err, size_t errlen)
{
	struct producer *p = arg;
	char why[256];

	p->reaped = true;
	if (spawn_wait(p->pid, p->name, why, sizeof(why)) == 0)
		return 0;
	err_set(err, errlen, "%s; its output may be cut short, so no snapshot was written", why);
	return -1;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

static void print_summary(const struct bk_backup_stats *st, const char *id, const char *what)
{
	printf("snapshot %.16s of %s: %" PRIu64 " bytes read, %" PRIu64 " new chunks, %" PRIu64
	       " bytes stored\n", id, what, st->bytes_read, st->chunks_new, st->bytes_stored);
}

int cli_stream_backup(struct bk_repo *r, const struct cli_stream *s, char *err, size_t errlen)
{
	struct producer p = { .pid = -1 };
	struct bk_stream_opts o = { .fd = STDIN_FILENO, .name = s->name, .job = s->job };
	struct bk_backup_stats st = { 0 };
	char id[BK_ID_HEX], why[256];
	int rc;

	if (s->progress) {
		o.progress = cli_progress_report;
		o.progress_arg = s->progress;
	}
	/* A terminal is no stream to back up: reading it would wait for someone to type. */
	if (!s->command && isatty(STDIN_FILENO)) {
		err_set(err, errlen, "--stdin: standard input is a terminal; pipe the data in");
		return 1;
	}
	if (s->command) {
		p.name = s->command[0];
		if ((p.pid = spawn_piped(s->command, SPAWN_READ_STDOUT, &o.fd, err, errlen)) < 0)
			return 1;
		if (!o.name)
			o.name = base_name(s->command[0]);
		o.finish = producer_finish;
		o.arg = &p;
	}
	rc = bk_backup_stream(r, &o, &st, id, err, errlen);
	if (s->command) {
		close(o.fd); /* a producer still writing gets EPIPE and stops */
		if (!p.reaped) {
			kill(p.pid, SIGTERM);
			spawn_wait(p.pid, p.name, why, sizeof(why));
		}
	}
	if (rc < 0)
		return 1;
	print_summary(&st, id, s->command ? s->command[0] : "standard input");
	return 0;
}

int cli_stream_restore(struct bk_repo *r, const struct cli_stream *s, char *err, size_t errlen)
{
	struct bk_restore_stream_opts o = { .snapshot = s->snapshot, .job = s->job,
					    .file = s->file, .fd = STDOUT_FILENO };
	char why[256];
	uint64_t bytes = 0;
	pid_t pid = -1;
	int rc;

	if (s->progress) {
		o.progress = cli_progress_report;
		o.progress_arg = s->progress;
	}
	/* A reader that stops early must show up as a write error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (s->command && (pid = spawn_piped(s->command, SPAWN_WRITE_STDIN, &o.fd, err, errlen)) < 0)
		return 1;
	rc = bk_restore_stream(r, &o, &bytes, err, errlen);
	if (!s->command) {
		if (rc == 0)
			fprintf(stderr, "restored %" PRIu64 " bytes to standard output\n", bytes);
		return rc < 0 ? 1 : 0;
	}
	/* Killed before its input closes: it must never see a partial stream end cleanly. */
	if (rc < 0)
		kill(pid, SIGKILL);
	close(o.fd);
	if (spawn_wait(pid, s->command[0], why, sizeof(why)) < 0 && rc == 0) {
		err_set(err, errlen, "restore into %s: %s", s->command[0], why);
		rc = -1;
	} else if (rc < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen > n ? errlen - n : 0, "; %s was killed", s->command[0]);
	}
	if (rc == 0)
		fprintf(stderr, "restored %" PRIu64 " bytes into %s\n", bytes, s->command[0]);
	return rc < 0 ? 1 : 0;
}
