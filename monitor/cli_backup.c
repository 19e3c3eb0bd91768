/*
 * monitor/cli_backup.c — `vigil init|keygen|backup|snapshots|restore|verify`:
 * the backup library (actions/backup/) on the command line, standalone,
 * without a daemon or a config file.  `forget` and `prune` are in
 * cli_backup_maint.c.
 *
 *   vigil keygen FILE
 *   vigil init      -r REPO [--key FILE] [--chunk-avg BYTES] [--pack-size BYTES]
 *                   [--segment-size BYTES]
 *   vigil backup    -r REPO [--key FILE] [--job NAME] [--full] SOURCE
 *   vigil backup    -r REPO [--key FILE] [--job NAME] [--stdin-name NAME] --command -- ARGV...
 *   vigil backup    -r REPO [--key FILE] [--job NAME] [--stdin-name NAME] --stdin
 *   vigil snapshots -r REPO [--key FILE] [--json]
 *   vigil restore   -r REPO [--key FILE] [--snapshot ID|latest] [--job NAME] [--delete] TARGET
 *   vigil restore   -r REPO ... [--file PATH] --command -- ARGV... | --stdout
 *   vigil verify    -r REPO [--key FILE] [--read-data]
 *   vigil forget|prune|upgrade ...  (cli_backup_maint.c)
 *   vigil drill ... (cli_drill.c), vigil sync ... (cli_sync.c)
 *
 * backup, restore and verify --read-data show progress on standard error
 * (--no-progress: none).
 *
 * Exit status: 0 done, 1 failed (or verify found problems), 2 usage.
 */
#include "monitor/cli_backup.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/backup/backup.h"
#include "monitor/cli_drill.h"
#include "monitor/cli_progress.h"
#include "monitor/cli_stream.h"
#include "monitor/cli_backup_maint.h"
#include "monitor/cli_sync.h"

struct bk_cli {
	const char *verb, *repo, *key, *job, *snapshot;
	bool full, json, read_data;
	bool std_in, std_out, command, no_progress; /* the stream forms */
	bool delete_extra; /* restore --delete */
	const char *stdin_name, *file;
	uint32_t chunk_avg, pack_size, segment_size;
	const char *arg; /* SOURCE, TARGET or FILE */
	char **argv;     /* with --command: the command */
};

static int usage(FILE *out, const char *verb)
{
	fprintf(out, "usage: vigil keygen FILE\n"
		"       vigil init      -r REPO [--key FILE] [--chunk-avg BYTES] [--pack-size BYTES]\n"
		"                       [--segment-size BYTES]\n"
		"       vigil backup    -r REPO [--key FILE] [--job NAME] [--full] SOURCE\n"
		"       vigil backup    -r REPO [--key FILE] [--job NAME] [--stdin-name NAME]\n"
		"                       (--command -- ARGV... | --stdin)\n"
		"       vigil snapshots -r REPO [--key FILE] [--json]\n"
		"       vigil restore   -r REPO [--key FILE] [--snapshot ID|latest] [--job NAME]\n"
		"                       [--delete] TARGET\n"
		"       vigil restore   -r REPO [--key FILE] [--snapshot ID|latest] [--job NAME]\n"
		"                       [--file PATH] (--command -- ARGV... | --stdout)\n"
		"       (backup, restore, verify: --no-progress for no progress on standard error)\n"
		"       vigil verify    -r REPO [--key FILE] [--read-data]\n"
		"       vigil forget    -r REPO [--key FILE] [--job NAME] [--keep-last N] ...\n"
		"       vigil prune     -r REPO [--key FILE] [--dry-run]\n"
		"       vigil upgrade   -r REPO [--key FILE] [--segment-size BYTES]\n"
		"       (vigil forget --help for the rest)\n"
		"       vigil drill     -r REPO [--key FILE] [--job NAME] [--scratch DIR] [--rto DURATION] [--json]\n"
		"       vigil sync      -r REPO [--key FILE] --to TARGET [--dry-run] [--json]\n");
	if (verb)
		fprintf(stderr, "vigil %s: see the usage above\n", verb);
	return out == stdout ? 0 : 2;
}

static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end || v == 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Whether the positional arguments fit the verb and its form. */
static bool args_ok(const struct bk_cli *c, int nargs)
{
	bool stream = c->std_in || c->std_out || c->command;
	bool is_backup = strcmp(c->verb, "backup") == 0, is_restore = strcmp(c->verb, "restore") == 0;

	if ((c->std_in || c->stdin_name) && !is_backup)
		return false;
	if ((c->std_out || c->file) && !is_restore)
		return false;
	if (c->command && !is_backup && !is_restore)
		return false;
	if (c->delete_extra && (!is_restore || stream))
		return false;
	if (c->std_in + c->std_out + c->command > 1 || (c->full && stream) ||
	    (c->file && !stream) || (c->stdin_name && !stream))
		return false;
	if (c->command)
		return nargs >= 1;
	if (stream || strcmp(c->verb, "snapshots") == 0 || strcmp(c->verb, "verify") == 0 ||
	    strcmp(c->verb, "init") == 0)
		return nargs == 0;
	return nargs == 1;
}

/* The stream options; 0, or -1 for an unknown option. */
static int parse_stream_opt(int o, struct bk_cli *c);

static int parse(int argc, char **argv, struct bk_cli *c)
{
	enum { O_KEY = 256, O_JOB, O_FULL, O_JSON, O_SNAP, O_READ, O_AVG, O_PACK, O_SEG, O_STREAM };
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' }, { "key", required_argument, NULL, O_KEY },
		{ "job", required_argument, NULL, O_JOB }, { "full", no_argument, NULL, O_FULL },
		{ "json", no_argument, NULL, O_JSON }, { "snapshot", required_argument, NULL, O_SNAP },
		{ "read-data", no_argument, NULL, O_READ },
		{ "chunk-avg", required_argument, NULL, O_AVG },
		{ "pack-size", required_argument, NULL, O_PACK },
		{ "segment-size", required_argument, NULL, O_SEG },
		{ "stdin", no_argument, NULL, O_STREAM + 0 },
		{ "stdout", no_argument, NULL, O_STREAM + 1 },
		{ "command", no_argument, NULL, O_STREAM + 2 },
		{ "no-progress", no_argument, NULL, O_STREAM + 3 },
		{ "stdin-name", required_argument, NULL, O_STREAM + 4 },
		{ "file", required_argument, NULL, O_STREAM + 5 },
		{ "delete", no_argument, NULL, O_STREAM + 6 }, { NULL, 0, NULL, 0 },
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		switch (o) {
		case 'r':
			c->repo = optarg;
			break;
		case O_KEY:
			c->key = optarg;
			break;
		case O_JOB:
			c->job = optarg;
			break;
		case O_SNAP:
			c->snapshot = optarg;
			break;
		case O_FULL:
		case O_JSON:
		case O_READ:
			*(o == O_FULL ? &c->full : o == O_JSON ? &c->json : &c->read_data) = true;
			break;
		case O_AVG:
		case O_PACK:
		case O_SEG:
			if (parse_size(optarg, o == O_AVG    ? &c->chunk_avg
					       : o == O_PACK ? &c->pack_size
							     : &c->segment_size) < 0)
				return -1;
			break;
		default:
			if (parse_stream_opt(o - O_STREAM, c) < 0)
				return -1;
		}
	}
	if (!args_ok(c, argc - optind))
		return -1;
	c->arg = optind < argc ? argv[optind] : NULL;
	c->argv = c->command ? argv + optind : NULL;
	return strcmp(c->verb, "keygen") == 0 || c->repo ? 0 : -1;
}

static int parse_stream_opt(int o, struct bk_cli *c)
{
	switch (o) {
	case 0:
		c->std_in = true;
		return 0;
	case 1:
		c->std_out = true;
		return 0;
	case 2:
		c->command = true;
		return 0;
	case 3:
		c->no_progress = true;
		return 0;
	case 4:
		c->stdin_name = optarg;
		return 0;
	case 5:
		c->file = optarg;
		return 0;
	case 6:
		c->delete_extra = true;
		return 0;
	}
	return -1;
}

static void print_problem(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "vigil: %s\n", msg);
}

static int do_init(const struct bk_cli *c, char *err, size_t errlen)
{
	struct bk_repo_params p;

	bk_repo_params_default(&p);
	p.key_file = c->key;
	if (c->chunk_avg) {
		p.chunk_avg = c->chunk_avg;
		p.chunk_min = c->chunk_avg / 4;
		p.chunk_max = c->chunk_avg * 4;
	}
	if (c->pack_size)
		p.pack_size = c->pack_size;
	if (c->segment_size)
		p.segment_size = c->segment_size;
	if (bk_repo_init(c->repo, &p, err, errlen) < 0)
		return 1;
	printf("initialised %s repository %s\n", c->key ? "an encrypted" : "an unencrypted",
	       c->repo);
	return 0;
}

static int do_backup(struct bk_repo *r, const struct bk_cli *c, struct cli_progress *pg,
		     char *err, size_t errlen)
{
	struct bk_backup_opts o = { .source = c->arg, .job = c->job, .full = c->full };
	struct bk_backup_stats st = { 0 };
	char id[BK_ID_HEX];

	if (pg) {
		o.progress = cli_progress_report;
		o.progress_arg = pg;
	}
	if (bk_backup_dir(r, &o, &st, id, err, errlen) < 0)
		return 1;
	printf("snapshot %.16s of %s: %" PRIu64 " files (%" PRIu64 " read, %" PRIu64
	       " unchanged), %" PRIu64 " bytes read of %" PRIu64 ", %" PRIu64 " new chunks, %"
	       PRIu64 " bytes stored\n", id, c->arg, st.files, st.files_read, st.files_unchanged,
	       st.bytes_read, st.bytes_total, st.chunks_new, st.bytes_stored);
	return 0;
}

static void print_snapshot(const struct bk_snapshot_info *s, bool json)
{
	char when[32];
	time_t t = (time_t)(s->time_ns / 1000000000);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	if (json)
		printf("{\"id\":\"%s\",\"parent\":\"%s\",\"time\":\"%s\",\"job\":\"%s\","
		       "\"full\":%s,\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n", s->id,
		       s->parent, when, s->job ? s->job : "", s->full ? "true" : "false", s->files,
		       s->bytes);
	else
		printf("%.16s  %s  %-12s %-5s %8" PRIu64 " files %14" PRIu64 " bytes  %s\n", s->id,
		       when, s->job ? s->job : "", s->full ? "full" : "incr", s->files, s->bytes,
		       s->source ? s->source : "");
}

static int do_snapshots(struct bk_repo *r, const struct bk_cli *c, char *err, size_t errlen)
{
	struct bk_snapshot_info *list = NULL;
	size_t n = 0;

	if (bk_snapshots_list(r, &list, &n, err, errlen) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		print_snapshot(&list[i], c->json);
	bk_snapshots_free(list, n);
	return 0;
}

static int do_restore(struct bk_repo *r, const struct bk_cli *c, struct cli_progress *pg,
		      char *err, size_t errlen)
{
	struct bk_restore_opts o = { .snapshot = c->snapshot, .job = c->job, .target = c->arg,
				     .delete_extra = c->delete_extra, .problem = print_problem };
	struct bk_restore_stats st = { 0 };

	if (pg) {
		o.progress = cli_progress_report;
		o.progress_arg = pg;
	}
	if (bk_restore(r, &o, &st, err, errlen) < 0)
		return 1;
	printf("restored %" PRIu64 " files, %" PRIu64 " directories, %" PRIu64 " symlinks, %"
	       PRIu64 " bytes into %s\n", st.files, st.dirs, st.symlinks, st.bytes, c->arg);
	if (c->delete_extra)
		printf("removed %" PRIu64 " entries the snapshot does not hold\n", st.removed);
	return 0;
}

static int do_verify(struct bk_repo *r, const struct bk_cli *c, char *err, size_t errlen)
{
	struct bk_verify_opts o = { .read_data = c->read_data, .problem = print_problem };
	struct bk_verify_stats st = { 0 };
	struct cli_progress pg;
	int rc;

	cli_progress_init(&pg, "verify");
	if (!c->no_progress) {
		o.progress = cli_progress_report;
		o.progress_arg = &pg;
	}
	rc = bk_verify(r, &o, &st, err, errlen);
	cli_progress_end(&pg);

	if (rc < 0)
		return 1;
	printf("%s: format version %u, %" PRIu64 " snapshots, %" PRIu64 " packs, %" PRIu64
	       " chunks%s; %" PRIu64 " problems\n", rc == 0 ? "ok" : "DAMAGED", bk_repo_format(r),
	       st.snapshots, st.packs, st.chunks, c->read_data ? " (every chunk read)" : "",
	       st.problems);
	return rc == 0 ? 0 : 1;
}

/* backup or restore, of a tree or a stream, with progress unless told not to. */
static int run_transfer(struct bk_repo *r, const struct bk_cli *c, char *err, size_t errlen)
{
	struct cli_progress pg;
	struct cli_stream s = { .job = c->job, .name = c->stdin_name, .snapshot = c->snapshot,
				.file = c->file, .command = c->argv };
	bool backup = strcmp(c->verb, "backup") == 0;
	int rc;

	cli_progress_init(&pg, c->verb);
	s.progress = c->no_progress ? NULL : &pg;
	if (c->std_in || c->std_out || c->command)
		rc = backup ? cli_stream_backup(r, &s, err, errlen)
			    : cli_stream_restore(r, &s, err, errlen);
	else
		rc = backup ? do_backup(r, c, s.progress, err, errlen)
			    : do_restore(r, c, s.progress, err, errlen);
	cli_progress_end(&pg);
	return rc;
}

static int run(const struct bk_cli *c, char *err, size_t errlen)
{
	struct bk_repo *r;
	int rc;

	if (strcmp(c->verb, "keygen") == 0) {
		if (bk_key_generate(c->arg, err, errlen) < 0)
			return 1;
		printf("wrote a new key to %s (keep a copy elsewhere: without it the "
		       "repository cannot be read)\n", c->arg);
		return 0;
	}
	if (strcmp(c->verb, "init") == 0)
		return do_init(c, err, errlen);
	if (!(r = bk_repo_open(c->repo, c->key, err, errlen)))
		return 1;
	if (strcmp(c->verb, "backup") == 0 || strcmp(c->verb, "restore") == 0)
		rc = run_transfer(r, c, err, errlen);
	else if (strcmp(c->verb, "snapshots") == 0)
		rc = do_snapshots(r, c, err, errlen);
	else
		rc = do_verify(r, c, err, errlen);
	bk_repo_close(r);
	return rc;
}

/* backup, restore and the rest that share this file's option parser. */
static int transfer_main(int argc, char **argv)
{
	struct bk_cli c = { .verb = argv[0] };
	char err[1024] = "";
	int rc;

	/* Up to "--" only: what follows is a command's own argv (pg_dump -h HOST). */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout, NULL);
	if (parse(argc, argv, &c) < 0)
		return usage(stderr, c.verb);
	rc = run(&c, err, sizeof(err));
	if (rc == 1 && err[0])
		fprintf(stderr, "vigil %s: %s\n", c.verb, err);
	return rc;
}

/* Every `vigil VERB` and what runs it: the dispatch and `vigil --help` read this table. */
static const struct cli_verb {
	const char *name;
	int (*main)(int argc, char **argv);
} verbs[] = {
	{ "keygen", transfer_main },          { "init", transfer_main },
	{ "backup", transfer_main },          { "snapshots", transfer_main },
	{ "restore", transfer_main },         { "verify", transfer_main },
	{ "forget", cli_backup_maint_main },  { "prune", cli_backup_maint_main },
	{ "upgrade", cli_backup_maint_main }, { "drill", cli_drill_main },
	{ "sync", cli_sync_main },
};

static const struct cli_verb *find_verb(const char *name)
{
	for (size_t i = 0; name && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(name, verbs[i].name) == 0)
			return &verbs[i];
	return NULL;
}

bool cli_backup_verb(const char *verb)
{
	return find_verb(verb) != NULL;
}

void cli_backup_print_verbs(FILE *out)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "%s%s", i ? "|" : "", verbs[i].name);
}

int cli_backup_main(int argc, char **argv)
{
	return find_verb(argv[0])->main(argc, argv);
}
