/*
 * monitor/cli_backup_maint.c — `vigil forget|prune|upgrade`: retention,
 * the removal of unreferenced data, and raising a repository's format
 * version, on the command line.
 *
 *   vigil forget -r REPO [--key FILE] [--job NAME] [--keep-last N] [--keep-hourly N]
 *                [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run]
 *                [--prune] [--repack-threshold PCT]
 *   vigil prune  -r REPO [--key FILE] [--dry-run] [--repack-threshold PCT]
 *   vigil upgrade -r REPO [--key FILE] [--segment-size BYTES]
 *
 * forget without any --keep-* option is a usage error rather than a
 * no-op, so a typo cannot look like a retention run that did its job.
 * Exit status: 0 done, 1 failed, 2 usage.
 */
#include "monitor/cli_backup_maint.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/backup/backup.h"

struct maint {
	const char *verb, *repo, *key, *job;
	struct bk_keep_policy keep;
	bool dry_run, prune;
	unsigned threshold, segment_size;
	const char *group_job, *group_source; /* the group being printed */
};

static int usage(FILE *out, const char *verb, const char *why)
{
	fprintf(out,
		"usage: vigil forget -r REPO [--key FILE] [--job NAME] [--keep-last N]\n"
		"                    [--keep-hourly N] [--keep-daily N] [--keep-weekly N]\n"
		"                    [--keep-monthly N] [--dry-run] [--prune] [--repack-threshold PCT]\n"
		"       vigil prune  -r REPO [--key FILE] [--dry-run] [--repack-threshold PCT]\n"
		"       vigil upgrade -r REPO [--key FILE] [--segment-size BYTES]\n");
	if (verb)
		fprintf(stderr, "vigil %s: %s\n", verb, why ? why : "see the usage above");
	return out == stdout ? 0 : 2;
}

static int parse_count(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The counter an option sets, or NULL. */
static unsigned *keep_field(struct maint *m, int o)
{
	switch (o) {
	case 'L':
		return &m->keep.keep_last;
	case 'H':
		return &m->keep.keep_hourly;
	case 'D':
		return &m->keep.keep_daily;
	case 'W':
		return &m->keep.keep_weekly;
	case 'M':
		return &m->keep.keep_monthly;
	default:
		return NULL;
	}
}

static int parse(int argc, char **argv, struct maint *m)
{
	enum { O_KEY = 256, O_JOB, O_DRY, O_PRUNE, O_TH, O_SEG };
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' }, { "key", required_argument, NULL, O_KEY },
		{ "job", required_argument, NULL, O_JOB }, { "dry-run", no_argument, NULL, O_DRY },
		{ "prune", no_argument, NULL, O_PRUNE },
		{ "repack-threshold", required_argument, NULL, O_TH },
		{ "segment-size", required_argument, NULL, O_SEG },
		{ "keep-last", required_argument, NULL, 'L' },
		{ "keep-hourly", required_argument, NULL, 'H' },
		{ "keep-daily", required_argument, NULL, 'D' },
		{ "keep-weekly", required_argument, NULL, 'W' },
		{ "keep-monthly", required_argument, NULL, 'M' }, { NULL, 0, NULL, 0 },
	};
	bool forget = strcmp(m->verb, "forget") == 0, upgrade = strcmp(m->verb, "upgrade") == 0;
	unsigned *field;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (o == 'r')
			m->repo = optarg;
		else if (o == O_KEY)
			m->key = optarg;
		else if (o == O_JOB && forget)
			m->job = optarg;
		else if (o == O_DRY && !upgrade)
			m->dry_run = true;
		else if (o == O_PRUNE && forget)
			m->prune = true;
		else if (o == O_TH && !upgrade && parse_count(optarg, 100, &m->threshold) == 0)
			continue;
		else if (o == O_SEG && upgrade && parse_count(optarg, 1u << 30, &m->segment_size) == 0)
			continue;
		else if (forget && (field = keep_field(m, o)) && parse_count(optarg, 1000000, field) == 0)
			continue;
		else
			return -1;
	}
	return optind == argc && m->repo ? 0 : -1;
}

static const char *reasons(unsigned why, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { BK_KEEP_LAST, "last" },     { BK_KEEP_HOURLY, "hourly" },
		      { BK_KEEP_DAILY, "daily" },   { BK_KEEP_WEEKLY, "weekly" },
		      { BK_KEEP_MONTHLY, "monthly" }, { BK_KEEP_ALL, "no policy" } };
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((why & names[i].bit) && at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
					       names[i].name);
	return buf;
}

static void print_decision(void *arg, const struct bk_snapshot_info *s, unsigned why)
{
	struct maint *m = arg;
	char when[32], because[96];
	time_t t = (time_t)(s->time_ns / 1000000000);
	struct tm tm;

	if (!m->group_job || strcmp(m->group_job, s->job) != 0 ||
	    strcmp(m->group_source, s->source) != 0)
		printf("job %s, source %s:\n", s->job, s->source);
	/* The list outlives every call, so pointing into it is safe. */
	m->group_job = s->job;
	m->group_source = s->source;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	printf("  %-6s %.16s  %s  %s\n", why ? "keep" : (m->dry_run ? "forget" : "forgot"), s->id,
	       when, why ? reasons(why, because, sizeof(because)) : "");
}

static int do_prune(struct bk_repo *r, const struct maint *m, char *err, size_t errlen)
{
	struct bk_prune_opts o;
	struct bk_prune_stats st;

	bk_prune_opts_default(&o);
	o.dry_run = m->dry_run;
	if (m->threshold != UINT32_MAX)
		o.repack_threshold = m->threshold;
	if (bk_prune(r, &o, &st, err, errlen) < 0)
		return 1;
	if (st.packs_unused + st.packs_repacked == 0) {
		printf("prune: %" PRIu64 " snapshots use %" PRIu64 " chunks; all %" PRIu64
		       " packs (%" PRIu64 " bytes) are kept: nothing to delete\n", st.snapshots,
		       st.chunks_used, st.packs, st.bytes_before);
		return 0;
	}
	printf("prune%s: %" PRIu64 " snapshots use %" PRIu64 " chunks; of %" PRIu64
	       " packs (%" PRIu64 " bytes) %" PRIu64 " kept, %" PRIu64 " unused %s, %" PRIu64
	       " repacked%s\n", m->dry_run ? " (dry run)" : "", st.snapshots, st.chunks_used,
	       st.packs, st.bytes_before, st.packs_kept, st.packs_unused,
	       m->dry_run ? "to delete" : "deleted", st.packs_repacked,
	       m->dry_run ? " to be" : "");
	if (m->dry_run)
		printf("would free %" PRIu64 " bytes of packs, before what repacking writes\n",
		       st.bytes_freed);
	else
		printf("freed %" PRIu64 " bytes, wrote %" PRIu64 " (%" PRIu64 " chunks into %" PRIu64
		       " new packs, %" PRIu64 " index files replacing %" PRIu64 ")\n", st.bytes_freed,
		       st.bytes_written, st.chunks_repacked, st.packs_written, st.index_written,
		       st.index_removed);
	return 0;
}

static int do_forget(struct bk_repo *r, struct maint *m, char *err, size_t errlen)
{
	struct bk_forget_stats st;

	if (bk_forget(r, m->job, &m->keep, m->dry_run, print_decision, m, &st, err, errlen) < 0)
		return 1;
	printf("%" PRIu64 " snapshots kept, %" PRIu64 " %s\n", st.kept, st.removed,
	       m->dry_run ? "would be forgotten (dry run)" : "forgotten");
	if (!m->prune)
		return 0;
	return do_prune(r, m, err, errlen);
}

static int do_upgrade(struct bk_repo *r, const struct maint *m, char *err, size_t errlen)
{
	int rc = bk_repo_upgrade(r, m->segment_size, err, errlen);

	if (rc < 0)
		return 1;
	if (rc == 1)
		printf("%s is already format version 2: nothing to do\n", m->repo);
	else
		printf("upgraded %s to format version 2: new chunks go into segments of %u bytes; "
		       "what it holds stays readable, but a vigil older than format version 2 "
		       "can no longer open it (nor a mirror, once vigil sync has copied the new "
		       "config)\n", m->repo, m->segment_size);
	return 0;
}

bool cli_backup_maint_verb(const char *verb)
{
	return verb && (strcmp(verb, "forget") == 0 || strcmp(verb, "prune") == 0 ||
			strcmp(verb, "upgrade") == 0);
}

int cli_backup_maint_main(int argc, char **argv)
{
	struct maint m = { .verb = argv[0], .threshold = UINT32_MAX,
			   .segment_size = BK_DEFAULT_SEGMENT_SIZE };
	struct bk_repo *r;
	char err[1024] = "";
	int rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout, NULL, NULL);
	if (parse(argc, argv, &m) < 0)
		return usage(stderr, m.verb, NULL);
	if (strcmp(m.verb, "forget") == 0 && bk_keep_policy_empty(&m.keep))
		return usage(stderr, m.verb, "give at least one --keep-* option (without one, "
				 "forget would keep everything)");
	if (!(r = bk_repo_open(m.repo, m.key, err, sizeof(err)))) {
		fprintf(stderr, "vigil %s: %s\n", m.verb, err);
		return 1;
	}
	if (strcmp(m.verb, "forget") == 0)
		rc = do_forget(r, &m, err, sizeof(err));
	else if (strcmp(m.verb, "upgrade") == 0)
		rc = do_upgrade(r, &m, err, sizeof(err));
	else
		rc = do_prune(r, &m, err, sizeof(err));
	bk_repo_close(r);
	if (rc == 1 && err[0])
		fprintf(stderr, "vigil %s: %s\n", m.verb, err);
	return rc;
}
