/*
 * monitor/main.c — `vigil`: parse the command line, load the config, and
 * either check it (-t) or run the daemon in the foreground (a supervisor
 * such as systemd keeps it running; vigil does not fork itself).
 *
 * Exit status: 0 ok, 1 run-time failure, 2 usage or config error (nothing
 * was touched).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/config.h"
#include "monitor/cli_backup.h"
#include "monitor/daemon.h"

#define DEFAULT_CONFIG "/etc/vigil/vigil.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vigil [-c FILE] [-t] [--log-format text|json] [--log-level LEVEL]\n"
		"  -c, --config FILE      configuration file (default " DEFAULT_CONFIG ")\n"
		"  -t, --check-config     validate the configuration, print ok or errors, exit\n"
		"      --log-format FMT   text (default) or json; overrides log_format in the file\n"
		"      --log-level LEVEL  debug, info (default), notice, warning, error\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n"
		"       vigil ");
	cli_backup_print_verbs(out);
	fprintf(out, " ...  (backups, drills, mirrors: vigil backup --help)\n");
}

struct options {
	const char *config;
	int check_only;
	int log_format; /* -1 = from the config */
	int log_level;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_LOG_FORMAT = 256, OPT_LOG_LEVEL };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->check_only = 1;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(stderr, "vigil: --log-format takes text or json, not '%s'\n", optarg);
				return -1;
			}
			o->log_format = strcmp(optarg, "json") == 0 ? VLOG_JSON : VLOG_TEXT;
			break;
		case OPT_LOG_LEVEL:
			o->log_level = vlog_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "vigil: unknown --log-level '%s'\n", optarg);
				return -1;
			}
			break;
		case 'V':
			printf("vigil %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigil: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { DEFAULT_CONFIG, 0, -1, VLOG_INFO };
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	int rc;

	if (argc > 1 && cli_backup_verb(argv[1]))
		return cli_backup_main(argc - 1, argv + 1);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	vlog_setup(o.log_format == VLOG_JSON ? VLOG_JSON : VLOG_TEXT, (enum vlog_level)o.log_level);
	if (conf_load(o.config, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fprintf(stderr, "vigil: %zu error%s in %s\n", errs.n, errs.n == 1 ? "" : "s",
			o.config);
		conf_errors_clear(&errs);
		return 2;
	}
	if (o.check_only) {
		printf("ok\n");
		config_free(cfg);
		return 0;
	}
	if (o.log_format < 0)
		vlog_setup(cfg->log_format == CONF_LOG_JSON ? VLOG_JSON : VLOG_TEXT,
			   (enum vlog_level)o.log_level);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "vigil: libcurl initialisation failed\n");
		config_free(cfg);
		return 1;
	}
	rc = daemon_run(o.config, cfg);
	curl_global_cleanup();
	return rc;
}
