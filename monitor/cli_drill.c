/*
 * monitor/cli_drill.c — `vigil drill -r REPO [--key FILE] [--job NAME]
 * [--scratch DIR] [--rto DURATION] [--json]`.
 *
 * Restores the latest snapshot (of the job) into a fresh directory under
 * DIR (default $TMPDIR or /tmp), which verifies every chunk, measures how
 * long that took, and removes the directory.  With --rto the drill fails
 * (exit 1) when the restore took longer.  --json prints one object for the
 * daemon to record: {"snapshot","seconds","files","bytes","rto_ok"}.
 */
#include "monitor/cli_drill.h"

#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/backup/backup.h"
#include "common/clock.h"
#include "conf/duration.h"

struct drill {
	const char *repo, *key, *job, *scratch;
	uint64_t rto_ms;
	bool json;
};

static int usage(void)
{
	fprintf(stderr, "usage: vigil drill -r REPO [--key FILE] [--job NAME] [--scratch DIR] "
		"[--rto DURATION] [--json]\n");
	return 2;
}

static int parse(int argc, char **argv, struct drill *d)
{
	enum { O_KEY = 256, O_JOB, O_SCRATCH, O_RTO, O_JSON };
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' }, { "key", required_argument, NULL, O_KEY },
		{ "job", required_argument, NULL, O_JOB },
		{ "scratch", required_argument, NULL, O_SCRATCH },
		{ "rto", required_argument, NULL, O_RTO }, { "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	char err[128];
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (o == 'r')
			d->repo = optarg;
		else if (o == O_KEY)
			d->key = optarg;
		else if (o == O_JOB)
			d->job = optarg;
		else if (o == O_SCRATCH)
			d->scratch = optarg;
		else if (o == O_JSON)
			d->json = true;
		else if (o != O_RTO || conf_parse_duration(optarg, &d->rto_ms, err, sizeof(err)) < 0)
			return -1;
	}
	return d->repo && optind == argc ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Restore into DIR/vigil-drill-XXXXXX and time it; the directory is removed. */
static int restore_timed(struct bk_repo *r, const struct drill *d, struct bk_restore_stats *st,
			 double *seconds, char *err, size_t errlen)
{
	const char *base = d->scratch ? d->scratch : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct bk_restore_opts o = { .snapshot = "latest", .job = d->job };
	char dir[4096];
	uint64_t t0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/vigil-drill-XXXXXX", base);
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "scratch directory under %s: cannot create it", base);
		return -1;
	}
	o.target = dir;
	t0 = clock_mono_us();
	rc = bk_restore(r, &o, st, err, errlen);
	*seconds = (double)(clock_mono_us() - t0) / 1e6;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

int cli_drill_main(int argc, char **argv)
{
	struct drill d = { 0 };
	struct bk_restore_stats st = { 0 };
	struct bk_repo *r;
	char err[1024] = "";
	double seconds = 0;
	bool rto_ok;
	int rc;

	if (parse(argc, argv, &d) < 0)
		return usage();
	if (!(r = bk_repo_open(d.repo, d.key, err, sizeof(err)))) {
		fprintf(stderr, "vigil drill: %s\n", err);
		return 1;
	}
	rc = restore_timed(r, &d, &st, &seconds, err, sizeof(err));
	bk_repo_close(r);
	if (rc < 0) {
		fprintf(stderr, "vigil drill: the restore failed: %s\n", err);
		return 1;
	}
	rto_ok = !d.rto_ms || seconds * 1000.0 <= (double)d.rto_ms;
	if (d.json)
		printf("{\"seconds\":%.3f,\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"rto_ok\":%s}\n",
		       seconds, st.files, st.bytes, rto_ok ? "true" : "false");
	else
		printf("drill: restored the latest snapshot (%" PRIu64 " files, %" PRIu64 " bytes, "
		       "every chunk verified) in %.3f s%s\n", st.files, st.bytes, seconds,
		       !d.rto_ms ? "" : rto_ok ? ", within rto" : ", OVER rto");
	return rto_ok ? 0 : 1;
}
