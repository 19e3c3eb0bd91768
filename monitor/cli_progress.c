/* monitor/cli_progress.c — a progress bar, or plain lines (see cli_progress.h). */
#include "monitor/cli_progress.h"

#include <string.h>
#include <unistd.h>

#include "common/clock.h"

#define BAR_EVERY_MS 1000    /* redraws of the bar */
#define PLAIN_EVERY_MS 10000 /* plain lines */

#define BAR_WIDTH 24

void cli_human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void cli_progress_init(struct cli_progress *p, const char *verb)
{
	memset(p, 0, sizeof(*p));
	p->out = stderr;
	p->verb = verb;
	p->tty = isatty(STDERR_FILENO) == 1;
	p->start_ms = p->last_ms = clock_mono_ms();
	/* A bar shows at the first step; plain lines wait their first 10 s. */
	if (p->tty)
		p->last_ms -= p->last_ms < BAR_EVERY_MS ? p->last_ms : BAR_EVERY_MS;
}

/* "[#########---------------]  37 %" when the total is known, else nothing. */
static void bar(const struct bk_progress *bp, char *buf, size_t len)
{
	unsigned pct, fill;
	char cells[BAR_WIDTH + 1];

	buf[0] = '\0';
	if (!bp->bytes_total)
		return;
	pct = bp->bytes >= bp->bytes_total ? 100u
					   : (unsigned)(bp->bytes * 100 / bp->bytes_total);
	fill = pct * BAR_WIDTH / 100;
	memset(cells, '#', fill);
	memset(cells + fill, '-', BAR_WIDTH - fill);
	cells[BAR_WIDTH] = '\0';
	snprintf(buf, len, "[%s] %3u %% ", cells, pct);
}

static void line(const struct cli_progress *p, const struct bk_progress *bp, char *buf,
		 size_t len)
{
	uint64_t ms = clock_mono_ms() - p->start_ms;
	char done[32], total[32] = "", fresh[32] = "", rate[32], b[64], files[40] = "";

	cli_human_bytes(bp->bytes, done, sizeof(done));
	if (bp->bytes_total) {
		cli_human_bytes(bp->bytes_total, total + 3, sizeof(total) - 3);
		memcpy(total, " / ", 3);
	}
	if (bp->bytes_new) {
		cli_human_bytes(bp->bytes_new, fresh + 2, sizeof(fresh) - 2);
		memcpy(fresh, ", ", 2);
		strncat(fresh, " new", sizeof(fresh) - strlen(fresh) - 1);
	}
	cli_human_bytes(ms ? bp->bytes * 1000 / ms : 0, rate, sizeof(rate));
	bar(bp, b, sizeof(b));
	/* Verify counts packs' bytes, not files: no file count to show then. */
	if (bp->files || !bp->bytes_total)
		snprintf(files, sizeof(files), " %llu files,", (unsigned long long)bp->files);
	snprintf(buf, len, "%s%s%s %s%s%s, %s/s, %llu s", b, p->verb, files, done, total, fresh,
		 rate, (unsigned long long)(ms / 1000));
}

void cli_progress_report(void *arg, const struct bk_progress *bp)
{
	struct cli_progress *p = arg;
	uint64_t now = clock_mono_ms();
	char text[256];

	/* The library reports every step: show one a second (a line every 10 s off a terminal). */
	if (!bp->done && now - p->last_ms < (p->tty ? BAR_EVERY_MS : PLAIN_EVERY_MS))
		return;
	p->last_ms = now;
	if (p->tty) {
		line(p, bp, text, sizeof(text));
		/* Clear to the end of the line: the last text may have been longer. */
		fprintf(p->out, "\r%s\033[K%s", text, bp->done ? "\n" : "");
		p->drawn = !bp->done;
		fflush(p->out);
		return;
	}
	if (bp->done)
		return; /* the verb prints its own summary at the end */
	line(p, bp, text, sizeof(text));
	fprintf(p->out, "%s\n", text);
	fflush(p->out);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->drawn)
		fputc('\n', p->out);
	p->drawn = false;
}
