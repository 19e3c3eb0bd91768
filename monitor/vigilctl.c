/*
 * monitor/vigilctl.c — the CLI.  It talks to the daemon only through the
 * control API (libcurl over the unix socket), so everything it can do an
 * operator's own tooling can do too.
 *
 *   vigilctl [-s SOCKET] status [--json]
 *   vigilctl [-s SOCKET] failover CLUSTER [--to NODE] [--force] [--timeout SEC] [--no-wait] [--dry-run]
 *   vigilctl [-s SOCKET] switchover CLUSTER [--to NODE] [--force] [--timeout SEC] [--no-wait] [--dry-run]
 *   vigilctl [-s SOCKET] rejoin CLUSTER NODE [--reason TEXT]
 *   vigilctl [-s SOCKET] resolve CLUSTER --primary NODE [--reason TEXT]
 *   vigilctl [-s SOCKET] pause|resume CLUSTER [--reason TEXT]
 *   vigilctl [-s SOCKET] events [CLUSTER] [-n N] [--follow] [--json]
 *
 * Exit status: 0 ok, 1 the daemon refused or the action failed, 2 usage,
 * 3 the daemon could not be reached.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/status.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

struct reply {
	long code;
	char *body;
	size_t len;
};

static int usage(FILE *out, int rc);

static const char *or_default(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;
	char *grown = realloc(r->body, r->len + n + 1);

	if (!grown)
		return 0;
	r->body = grown;
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* One request; returns the parsed JSON body (new reference) or NULL after printing why. */
static json_t *call(const char *socket, const char *method, const char *path, const char *body,
		    long *code, int *exit_code)
{
	struct reply r = { 0 };
	char url[512];
	CURL *h = curl_easy_init();
	CURLcode rc;
	json_error_t jerr;
	json_t *doc = NULL;
	struct curl_slist *hdrs = NULL;

	*exit_code = 3;
	if (!h)
		return NULL;
	snprintf(url, sizeof(url), "http://vigil%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L);
	if (body) {
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "vigilctl: cannot reach vigil at %s: %s\n", socket,
			curl_easy_strerror(rc));
		free(r.body);
		return NULL;
	}
	*exit_code = 1;
	doc = r.body ? json_loads(r.body, 0, &jerr) : NULL;
	free(r.body);
	if (!doc)
		fprintf(stderr, "vigilctl: the daemon answered %ld with no valid JSON\n", *code);
	else if (*code >= 400)
		fprintf(stderr, "vigilctl: %s\n",
			or_default(json_string_value(json_object_get(doc, "error")), "request refused"));
	if (doc && *code >= 400) {
		json_decref(doc);
		return NULL;
	}
	*exit_code = 0;
	return doc;
}

/* POST req (reference stolen) as the JSON body; as call() otherwise. */
static json_t *post(const char *socket, const char *path, json_t *req, long *code,
		    int *exit_code)
{
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_t *doc;

	json_decref(req);
	*exit_code = 1;
	if (!body) {
		fprintf(stderr, "vigilctl: cannot encode the request\n");
		return NULL;
	}
	doc = call(socket, "POST", path, body, code, exit_code);
	free(body);
	return doc;
}

static int cmd_status(const char *socket, int json_out)
{
	long code = 0;
	int ec;
	char err[256];
	json_t *doc = call(socket, "GET", "/v1/status", NULL, &code, &ec);

	if (!doc)
		return ec;
	if (json_out) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (status_print_table(stdout, doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		ec = 1;
	}
	json_decref(doc);
	return ec;
}

/* Poll the cluster until the failover (verb) with this epoch is no longer running. */
static int wait_failover(const char *socket, const char *verb, const char *cluster,
			 json_int_t epoch, int timeout_s)
{
	char path[512];
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	time_t deadline = time(NULL) + timeout_s;
	long code;
	int ec;

	snprintf(path, sizeof(path), "/v1/clusters/%s", cluster);
	while (time(NULL) < deadline) {
		json_t *doc = call(socket, "GET", path, NULL, &code, &ec), *fo;
		const char *result;

		if (!doc)
			return ec;
		fo = json_object_get(doc, "last_failover");
		result = json_string_value(json_object_get(fo, "result"));
		if (json_integer_value(json_object_get(fo, "epoch")) == epoch && result &&
		    strcmp(result, "running") != 0) {
			ec = strcmp(result, "ok") == 0 ? 0 : 1;
			if (ec == 0)
				printf("%s of %s done: primary is now %s (epoch %lld)\n", verb, cluster,
				       json_string_value(json_object_get(fo, "to")), (long long)epoch);
			else
				fprintf(stderr, "vigilctl: %s of %s failed: %s\n", verb, cluster,
					or_default(json_string_value(json_object_get(fo, "error")), "unknown error"));
			json_decref(doc);
			return ec;
		}
		json_decref(doc);
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "vigilctl: %s of %s still running after %d s\n", verb, cluster, timeout_s);
	return 1;
}

static int failover_usage(const char *verb)
{
	fprintf(stderr, "usage: vigilctl %s CLUSTER [--to NODE] [--force] [--timeout SEC] "
		"[--no-wait] [--dry-run]\n", verb);
	return 2;
}

/* A dry run's plan: one line per step, hooks with the argv they would get. */
static void print_plan(const json_t *plan)
{
	const json_t *step, *arg;
	size_t i, j;

	printf("dry run: %s of %s %s -> %s would take epoch %lld and:\n",
	       or_default(json_string_value(json_object_get(plan, "kind")), "failover"),
	       or_default(json_string_value(json_object_get(plan, "cluster")), "?"),
	       or_default(json_string_value(json_object_get(plan, "from")), "?"),
	       or_default(json_string_value(json_object_get(plan, "to")), "?"),
	       (long long)json_integer_value(json_object_get(plan, "epoch")));
	json_array_foreach(json_object_get(plan, "steps"), i, step) {
		printf("  %zu. [%s] %s", i + 1,
		       or_default(json_string_value(json_object_get(step, "state")), "?"),
		       or_default(json_string_value(json_object_get(step, "step")), "?"));
		if (json_object_get(step, "balancer"))
			printf(" %s to %s", json_string_value(json_object_get(step, "balancer")),
			       or_default(json_string_value(json_object_get(step, "primary")), "?"));
		else if (json_object_get(step, "node"))
			printf(" on %s:", json_string_value(json_object_get(step, "node")));
		json_array_foreach(json_object_get(step, "argv"), j, arg)
			printf(" %s", json_string_value(arg));
		putchar('\n');
	}
}

static int cmd_failover(const char *socket, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' }, { "timeout", required_argument, NULL, 'T' },
		{ "no-wait", no_argument, NULL, 'n' }, { "dry-run", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	const char *to = NULL, *verb = argv[0];
	int timeout_s = 60, no_wait = 0, dry_run = 0, force = 0, c, ec;
	char path[512];
	long code;
	json_t *req, *doc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 't') {
			to = optarg;
		} else if (c == 'T') {
			timeout_s = atoi(optarg);
			if (timeout_s <= 0)
				return failover_usage(verb);
		} else if (c == 'n') {
			no_wait = 1;
		} else if (c == 'd') {
			dry_run = 1;
		} else if (c == 'f') {
			force = 1;
		} else {
			return failover_usage(verb);
		}
	}
	if (optind != argc - 1)
		return failover_usage(verb);
	snprintf(path, sizeof(path), "/v1/clusters/%s/%s", argv[optind], verb);
	req = json_pack("{s:s*, s:b, s:b}", "to", to, "dry_run", dry_run, "force", force);
	doc = post(socket, path, req, &code, &ec);
	if (!doc)
		return ec;
	if (dry_run) {
		print_plan(doc);
		json_decref(doc);
		return 0;
	}
	printf("%s of %s accepted: %s -> %s (epoch %lld)\n", verb, argv[optind],
	       json_string_value(json_object_get(doc, "from")),
	       json_string_value(json_object_get(doc, "to")),
	       (long long)json_integer_value(json_object_get(doc, "epoch")));
	ec = no_wait ? 0 : wait_failover(socket, verb, argv[optind],
					 json_integer_value(json_object_get(doc, "epoch")), timeout_s);
	json_decref(doc);
	return ec;
}

static int cmd_pause(const char *socket, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	const char *reason = NULL, *verb = argv[0];
	char path[512];
	long code;
	int c, ec;
	json_t *req, *doc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'r')
			return usage(stderr, 2);
		reason = optarg;
	}
	if (optind != argc - 1)
		return usage(stderr, 2);
	snprintf(path, sizeof(path), "/v1/clusters/%s/%s", argv[optind], verb);
	req = json_pack("{s:s*}", "reason", reason);
	doc = post(socket, path, req, &code, &ec);
	if (!doc)
		return ec;
	printf("%s: state %s\n", argv[optind], or_default(json_string_value(json_object_get(doc,
		"state")), "?"));
	json_decref(doc);
	return 0;
}

/* The offsite line of a job: what has not reached its mirror yet. */
static void print_offsite(const json_t *b)
{
	const json_t *o = json_object_get(b, "offsite");
	const json_t *snaps = json_object_get(o, "snapshots_pending");
	const json_t *age = json_object_get(o, "last_ok_age_s");
	char pending[96] = "pending unknown (no complete listing yet)", last[48] = "never";

	if (!json_is_object(o))
		return;
	if (json_is_integer(snaps))
		snprintf(pending, sizeof(pending), "%lld snapshots, %lld bytes pending",
			 (long long)json_integer_value(snaps),
			 (long long)json_integer_value(json_object_get(o, "bytes_pending")));
	if (json_is_integer(age))
		snprintf(last, sizeof(last), "%llds ago", (long long)json_integer_value(age));
	printf("  offsite: %s, %lld backups behind, last complete sync %s%s%s\n", pending,
	       (long long)json_integer_value(json_object_get(o, "backups_behind")), last,
	       json_is_true(json_object_get(o, "failed")) ? "; FAILED: " : "",
	       json_is_true(json_object_get(o, "failed"))
		       ? or_default(json_string_value(json_object_get(o, "last_result")), "") : "");
}

/* vigilctl backups [--json]: the daemon's backup jobs, one line each (and one for offsite). */
static int cmd_backups(const char *socket, int json_out)
{
	long code = 0;
	int ec;
	json_t *doc = call(socket, "GET", "/v1/backups", NULL, &code, &ec), *b;
	size_t i;

	if (!doc)
		return ec;
	if (json_out) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("%-16s %-8s %6s %12s %8s %s\n", "JOB", "STATE", "RUNS", "LAST OK AGE", "RPO",
		       "LAST RESULT");
		json_array_foreach(json_object_get(doc, "backups"), i, b) {
			json_t *age = json_object_get(b, "last_ok_age_s");
			char agebuf[24] = "never";

			if (json_is_integer(age))
				snprintf(agebuf, sizeof(agebuf), "%llds",
					 (long long)json_integer_value(age));
			printf("%-16s %-8s %6lld %12s %7llds%s %s\n",
			       or_default(json_string_value(json_object_get(b, "name")), "?"),
			       or_default(json_string_value(json_object_get(b, "state")), "?"),
			       (long long)json_integer_value(json_object_get(b, "runs")), agebuf,
			       (long long)json_integer_value(json_object_get(b, "rpo_s")),
			       json_is_true(json_object_get(b, "rpo_exceeded")) ? "!" : " ",
			       or_default(json_string_value(json_object_get(b, "last_result")), ""));
			print_offsite(b);
		}
	}
	json_decref(doc);
	return 0;
}

/* vigilctl backup now|drill JOB */
static int cmd_backup(const char *socket, int argc, char **argv)
{
	char path[512];
	long code;
	int ec;
	json_t *doc;
	bool drill = argc == 3 && strcmp(argv[1], "drill") == 0;

	if (argc != 3 || (strcmp(argv[1], "now") != 0 && !drill))
		return usage(stderr, 2);
	snprintf(path, sizeof(path), "/v1/backups/%s/%s", argv[2], drill ? "drill" : "run");
	doc = post(socket, path, json_object(), &code, &ec);
	if (!doc)
		return ec;
	printf("%s %s started\n", drill ? "drill of" : "backup", argv[2]);
	json_decref(doc);
	return 0;
}

static int cmd_rejoin(const char *socket, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	char path[512];
	long code;
	int c, ec;
	json_t *doc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'r')
			return usage(stderr, 2);
		reason = optarg;
	}
	if (optind != argc - 2)
		return usage(stderr, 2);
	snprintf(path, sizeof(path), "/v1/clusters/%s/rejoin", argv[optind]);
	doc = post(socket, path, json_pack("{s:s, s:s*}", "node", argv[optind + 1], "reason",
					   reason), &code, &ec);
	if (!doc)
		return ec;
	printf("%s: %s readmitted as a standby; state %s\n", argv[optind], argv[optind + 1],
	       or_default(json_string_value(json_object_get(doc, "state")), "?"));
	json_decref(doc);
	return 0;
}

/* A held cluster (damaged journal, or one at odds with the balancers): the operator names the primary. */
static int cmd_resolve(const char *socket, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "primary", required_argument, NULL, 'p' }, { "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL, *primary = NULL;
	char path[512];
	long code;
	int c, ec;
	json_t *doc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'p')
			primary = optarg;
		else if (c == 'r')
			reason = optarg;
		else
			return usage(stderr, 2);
	}
	if (optind != argc - 1 || !primary)
		return usage(stderr, 2);
	snprintf(path, sizeof(path), "/v1/clusters/%s/resolve", argv[optind]);
	doc = post(socket, path, json_pack("{s:s, s:s*}", "primary", primary, "reason", reason),
		   &code, &ec);
	if (!doc)
		return ec;
	printf("%s: resolved, primary %s, epoch %lld; state %s\n", argv[optind], primary,
	       (long long)json_integer_value(json_object_get(doc, "epoch")),
	       or_default(json_string_value(json_object_get(doc, "state")), "?"));
	json_decref(doc);
	return 0;
}

static void print_event(const json_t *e, int as_json)
{
	const char *node = json_string_value(json_object_get(e, "node"));
	const char *from = json_string_value(json_object_get(e, "old_primary"));
	const char *to = json_string_value(json_object_get(e, "new_primary"));
	const char *reason = json_string_value(json_object_get(e, "reason"));
	const char *s_from = json_string_value(json_object_get(e, "from"));
	const char *s_to = json_string_value(json_object_get(e, "to"));

	if (as_json) {
		json_dumpf(e, stdout, JSON_COMPACT);
		putchar('\n');
		return;
	}
	printf("%s %-10s epoch %-3lld %-20s", or_default(json_string_value(json_object_get(e, "ts")), "-"),
	       or_default(json_string_value(json_object_get(e, "cluster")), "?"),
	       (long long)json_integer_value(json_object_get(e, "epoch")),
	       or_default(json_string_value(json_object_get(e, "event")), "?"));
	if (s_from && s_to)
		printf(" %s => %s", s_from, s_to);
	if (node)
		printf(" node=%s", node);
	if (from || to)
		printf(" %s->%s", or_default(from, "?"), or_default(to, "?"));
	if (reason)
		printf(" (%s)", reason);
	putchar('\n');
}

static int cmd_events(const char *socket, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec pause = { 0, 500 * 1000 * 1000 };
	const char *cluster = NULL;
	long long after = 0, limit = 20;
	int follow = 0, as_json = 0, c, ec;
	char path[512];
	long code;

	while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (c == 'n' && (limit = atoll(optarg)) > 0 && limit <= 1000)
			continue;
		if (c == 'f') {
			follow = 1;
			continue;
		}
		if (c == 'j') {
			as_json = 1;
			continue;
		}
		return usage(stderr, 2);
	}
	if (optind < argc - 1)
		return usage(stderr, 2);
	if (optind == argc - 1)
		cluster = argv[optind];
	for (;;) {
		json_t *doc, *e;
		size_t i;

		snprintf(path, sizeof(path), "/v1/events?limit=%lld&after=%lld%s%s", after ? 1000 : limit,
			 after, cluster ? "&cluster=" : "", cluster ? cluster : "");
		doc = call(socket, "GET", path, NULL, &code, &ec);
		if (!doc)
			return ec;
		json_array_foreach(json_object_get(doc, "events"), i, e)
			print_event(e, as_json);
		fflush(stdout);
		after = json_integer_value(json_object_get(doc, "last"));
		json_decref(doc);
		if (!follow)
			return 0;
		nanosleep(&pause, NULL);
	}
}

static int usage(FILE *out, int rc)
{
	fprintf(out, "usage: vigilctl [-s SOCKET] status [--json]\n"
		     "       vigilctl [-s SOCKET] failover CLUSTER [--to NODE] [--force] [--timeout SEC] [--no-wait] [--dry-run]\n"
		     "       vigilctl [-s SOCKET] switchover CLUSTER [--to NODE] [--force] [--timeout SEC] [--no-wait] [--dry-run]\n"
		     "       vigilctl [-s SOCKET] rejoin CLUSTER NODE [--reason TEXT]\n"
		     "       vigilctl [-s SOCKET] resolve CLUSTER --primary NODE [--reason TEXT]\n"
		     "       vigilctl [-s SOCKET] backups [--json]\n"
		     "       vigilctl [-s SOCKET] backup now|drill JOB\n"
		     "       vigilctl [-s SOCKET] pause|resume CLUSTER [--reason TEXT]\n"
		     "       vigilctl [-s SOCKET] events [CLUSTER] [-n N] [--follow] [--json]\n"
		     "SOCKET defaults to $VIGIL_SOCKET, then " DEFAULT_SOCKET "\n");
	return rc;
}

/* `status` and `backups`: nothing but an optional --json. */
static int run_status(const char *socket, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;

	if (argc != 1 && !json)
		return usage(stderr, 2);
	return strcmp(argv[0], "status") == 0 ? cmd_status(socket, json) : cmd_backups(socket, json);
}

/* Every command and what runs it: the dispatch, read by the test that checks --help and vigilctl(8). */
static const struct command {
	const char *name;
	int (*run)(const char *socket, int argc, char **argv);
} commands[] = {
	{ "status", run_status },        { "failover", cmd_failover },
	{ "switchover", cmd_failover },  { "rejoin", cmd_rejoin },
	{ "resolve", cmd_resolve },      { "backups", run_status },
	{ "backup", cmd_backup },        { "pause", cmd_pause },
	{ "resume", cmd_pause },         { "events", cmd_events },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *socket = getenv("VIGIL_SOCKET");
	const struct command *cmd;
	int i = 1, rc;

	if (!socket || !*socket)
		socket = DEFAULT_SOCKET;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) && i + 1 < argc)
			socket = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage(stdout, 0);
		else
			return usage(stderr, 2);
	}
	if (i >= argc)
		return usage(stderr, 2);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	cmd = find_command(argv[i]);
	rc = cmd ? cmd->run(socket, argc - i, argv + i) : usage(stderr, 2);
	curl_global_cleanup();
	return rc;
}
