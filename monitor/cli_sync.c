/*
 * monitor/cli_sync.c — `vigil sync -r REPO [--key FILE] --to TARGET
 * [--dry-run] [--json]`.
 *
 * Mirrors REPO onto TARGET (a directory, or s3://BUCKET/PREFIX?...) with
 * bk_sync.  --dry-run only counts what has not reached the target yet.
 * --json prints one object, on failure too, so that the daemon can show
 * what is still pending offsite even when the sync broke off:
 *
 *   {"ok":true,"dry_run":false,"snapshots_uploaded":1,"index_uploaded":1,
 *    "packs_uploaded":3,"bytes_uploaded":123,"removed":0,"damaged":0,
 *    "snapshots_pending":0,"objects_pending":0,"bytes_pending":0}
 *
 * The pending counts are null when the sync failed before it could
 * compare the two sides, and a failure adds "error".  Exit status: 0
 * done, 1 failed (the error also on stderr), 2 usage.
 */
#include "monitor/cli_sync.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/backup/backup.h"
#include "actions/backup/sync.h"

struct sync_cli {
	const char *repo, *key, *to;
	bool dry_run, json;
};

static int usage(FILE *out)
{
	fprintf(out, "usage: vigil sync -r REPO [--key FILE] --to TARGET [--dry-run] [--json]\n"
		"       TARGET: a directory, or s3://BUCKET/PREFIX?endpoint=URL&region=R&"
		"credentials=FILE\n");
	return out == stdout ? 0 : 2;
}

static int parse(int argc, char **argv, struct sync_cli *c)
{
	enum { O_KEY = 256, O_TO, O_DRY, O_JSON };
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' }, { "key", required_argument, NULL, O_KEY },
		{ "to", required_argument, NULL, O_TO }, { "dry-run", no_argument, NULL, O_DRY },
		{ "json", no_argument, NULL, O_JSON }, { NULL, 0, NULL, 0 },
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (o == 'r')
			c->repo = optarg;
		else if (o == O_KEY)
			c->key = optarg;
		else if (o == O_TO)
			c->to = optarg;
		else if (o == O_DRY)
			c->dry_run = true;
		else if (o == O_JSON)
			c->json = true;
		else
			return -1;
	}
	return c->repo && c->to && optind == argc ? 0 : -1;
}

static json_t *pending(const struct bk_sync_stats *st, uint64_t v)
{
	return st->pending_known ? json_integer((json_int_t)v) : json_null();
}

/* One line of JSON; 0, or -1 when it could not be built. */
static int print_json(const struct sync_cli *c, const struct bk_sync_stats *st, bool ok,
		      const char *err)
{
	json_t *j = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "ok", ok,
			      "dry_run", c->dry_run, "snapshots_uploaded",
			      (json_int_t)st->snapshots_uploaded, "index_uploaded",
			      (json_int_t)st->index_uploaded, "packs_uploaded",
			      (json_int_t)st->packs_uploaded, "bytes_uploaded",
			      (json_int_t)st->bytes_uploaded, "removed", (json_int_t)st->removed,
			      "damaged", (json_int_t)st->damaged, "snapshots_pending",
			      pending(st, st->snapshots_pending), "objects_pending",
			      pending(st, st->objects_pending), "bytes_pending",
			      pending(st, st->bytes_pending));
	char *text;

	if (j && !ok && json_object_set_new(j, "error", json_string(err)) < 0) {
		json_decref(j);
		j = NULL;
	}
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return -1;
	printf("%s\n", text);
	free(text);
	return 0;
}

static void print_text(const struct sync_cli *c, const struct bk_sync_stats *st)
{
	char left[160] = "unknown (the sync stopped before comparing)";

	if (st->pending_known)
		snprintf(left, sizeof(left), "%" PRIu64 " snapshots, %" PRIu64 " objects, %" PRIu64
			 " bytes", st->snapshots_pending, st->objects_pending, st->bytes_pending);
	if (c->dry_run)
		printf("sync %s to %s (dry run): not there yet: %s; %" PRIu64
		       " objects to remove\n", c->repo, c->to, left, st->removed);
	else
		printf("sync %s to %s: uploaded %" PRIu64 " snapshots, %" PRIu64 " index files, %"
		       PRIu64 " packs (%" PRIu64 " bytes), removed %" PRIu64 " objects; pending: %s\n",
		       c->repo, c->to, st->snapshots_uploaded, st->index_uploaded,
		       st->packs_uploaded, st->bytes_uploaded, st->removed, left);
}

int cli_sync_main(int argc, char **argv)
{
	struct sync_cli c = { 0 };
	struct bk_sync_stats st = { 0 };
	struct bk_repo *r;
	char err[1024] = "";
	int rc = -1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
	if (parse(argc, argv, &c) < 0)
		return usage(stderr);
	r = bk_repo_open(c.repo, c.key, err, sizeof(err));
	if (r) {
		struct bk_sync_opts o = { .target = c.to, .dry_run = c.dry_run };

		rc = bk_sync(r, &o, &st, err, sizeof(err));
		bk_repo_close(r);
	}
	if (c.json && print_json(&c, &st, rc == 0, err) < 0) {
		fprintf(stderr, "vigil sync: cannot print the result: out of memory\n");
		rc = -1;
	} else if (!c.json && (rc == 0 || st.pending_known)) {
		print_text(&c, &st);
	}
	if (rc < 0 && err[0])
		fprintf(stderr, "vigil sync: %s\n", err);
	return rc == 0 ? 0 : 1;
}
