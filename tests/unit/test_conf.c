/*
 * tests/unit/test_conf.c — the config loader (the value parsers: test_confval.c).
 *
 * Each error fixture is written to a fresh temp dir from a string laid out
 * one config line per C line (numbered in comments), so every test can
 * assert the exact "FILE:LINE:" of the message it expects.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "conf/config.h"
#include "tests/unit/conf_fixture.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* Lines 1-6 of most fixtures: a valid cluster up to its probes. */
#define HEAD \
	"clusters = ( {\n"                                                        /* 1 */ \
	"  name = \"web\";\n"                                                     /* 2 */ \
	"  nodes = (\n"                                                           /* 3 */ \
	"    { name = \"a\"; address = \"127.0.0.1:8081\"; role = \"primary\"; },\n" /* 4 */ \
	"    { name = \"b\"; address = \"127.0.0.1:8082\"; role = \"standby\"; }\n"  /* 5 */ \
	"  );\n"                                                                  /* 6 */
#define TCP "  probes = ( { type = \"tcp\"; } );\n"
#define TAIL "} );\n"
/* Node lines, for fixtures that vary the nodes: LAST has no comma. */
#define LAST(name, addr, role) \
	"    { name = \"" name "\"; address = \"" addr "\"; role = \"" role "\"; }\n"
#define NODE(name, addr, role) \
	"    { name = \"" name "\"; address = \"" addr "\"; role = \"" role "\"; },\n"

/* ---- successful loads ---- */

START_TEST(test_example_loads)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;
	const struct conf_cluster *c;

	if (conf_load(SRCDIR "/conf/vigil.conf.example", &cfg, &errs) != 0)
		ck_abort_msg("example: %s", errs.n ? errs.msgs[0] : "?");
	ck_assert_uint_eq(cfg->n_clusters, 1);
	c = config_find_cluster(cfg, "web");
	ck_assert_ptr_eq(c, &cfg->clusters[0]);
	ck_assert_ptr_null(config_find_cluster(cfg, "nope"));
	ck_assert_uint_eq(c->n_nodes, 2);
	ck_assert_str_eq(c->nodes[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->nodes[0].port, 8081);
	ck_assert_int_eq(c->nodes[0].role, CONF_ROLE_PRIMARY);
	ck_assert_str_eq(c->nodes[1].address, "127.0.0.1:8082");
	ck_assert_int_eq(c->nodes[1].role, CONF_ROLE_STANDBY);
	ck_assert_int_eq(conf_cluster_find_node(c, "b"), 1);
	ck_assert_int_eq(conf_cluster_find_node(c, "zz"), -1);
	ck_assert_int_eq(c->probes[0].type, CONF_PROBE_HTTP);
	ck_assert_str_eq(c->probes[0].url, "http://{address}/health");
	ck_assert_uint_eq(c->probes[0].n_expect_status, 2);
	ck_assert_int_eq(c->probes[0].expect_status[1], 204);
	ck_assert_uint_eq(c->probes[0].timeout_ms, 500);
	ck_assert_uint_eq(c->n_balancers, 1);
	ck_assert_str_eq(c->balancers[0].upstream, "web_backend");
	ck_assert_str_eq(c->balancers[0].reload[2], "reload");
	ck_assert_ptr_null(c->balancers[0].reload[3]);
	ck_assert_str_eq(c->hooks.promote[0], "/usr/local/bin/promote-db");
	ck_assert_uint_eq(c->n_alerts, 1);
	ck_assert_int_eq(cfg->control.mode, 0600);
	config_free(cfg);
}
END_TEST

START_TEST(test_defaults)
{
	struct config *cfg = cf_load_ok(HEAD
		"  probes = ( { type = \"http\"; url = \"https://{host}:{port}/\"; },\n"
		"             { type = \"exec\"; command = [\"/bin/true\", \"{node}\"]; },\n"
		"             { type = \"tcp\"; interval = \"2s\"; } );\n"
		"  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/tmp/u.conf\";\n"
		"                  check = [\"nginx\", \"-t\"]; reload = [\"nginx\"]; } );\n"
		"  hooks = { };\n"
		"  alerts = ( { type = \"webhook\"; url = \"http://127.0.0.1:1/\"; } );\n"
		TAIL);
	const struct conf_cluster *c = &cfg->clusters[0];
	const struct conf_probe *p = &c->probes[0];

	ck_assert_str_eq(cfg->path, cf_path);
	ck_assert_str_eq(cfg->state_dir, "/var/lib/vigil");
	ck_assert_str_eq(cfg->control.socket, "/run/vigil/vigil.sock");
	ck_assert_int_eq(cfg->control.mode, 0600);
	ck_assert_int_eq(cfg->log_format, CONF_LOG_TEXT);
	ck_assert_uint_eq(p->interval_ms, 1000);
	ck_assert_uint_eq(p->timeout_ms, 1000);
	ck_assert_uint_eq(p->jitter_ms, 100);
	ck_assert_int_eq(p->rise, 2);
	ck_assert_int_eq(p->fall, 3);
	ck_assert_str_eq(p->method, "GET");
	ck_assert_uint_eq(p->n_expect_status, 1);
	ck_assert_int_eq(p->expect_status[0], 200);
	ck_assert_ptr_null(p->expect_body);
	ck_assert(p->tls_verify);
	ck_assert_int_eq(p->line, 7);
	ck_assert_str_eq(c->probes[1].argv[1], "{node}");
	ck_assert_ptr_null(c->probes[1].argv[2]);
	ck_assert_uint_eq(c->probes[2].timeout_ms, 2000);
	ck_assert_uint_eq(c->probes[2].jitter_ms, 200);
	ck_assert_int_eq(c->balancers[0].standby, CONF_STANDBY_BACKUP);
	ck_assert_uint_eq(c->balancers[0].timeout_ms, 10000);
	ck_assert_ptr_null(c->balancers[0].server_options);
	ck_assert_ptr_null(c->hooks.promote);
	ck_assert_uint_eq(c->hooks.timeout_ms, 30000);
	ck_assert_int_eq(c->alerts[0].retries, 5);
	ck_assert_uint_eq(c->alerts[0].timeout_ms, 5000);
	ck_assert_uint_eq(c->alerts[0].backoff_ms, 500);
	ck_assert_int_eq(c->line, 1);
	ck_assert_int_eq(c->nodes[1].line, 5);
	ck_assert_ptr_null(p->via);
	ck_assert_int_eq(p->via_node, -1);
	ck_assert(!c->probes[1].lag);
	ck_assert_ptr_null(c->balancers[0].pid_file);
	ck_assert_ptr_null(c->hooks.restore);
	ck_assert_uint_eq(c->failover_delay_ms, 0);
	ck_assert_int_eq(c->retries, 3);
	ck_assert_uint_eq(c->retry_backoff_ms, 1000);
	ck_assert_uint_eq(c->drain_timeout_ms, 30000);
	ck_assert_uint_eq(c->rejoin_after_ms, 0);
	ck_assert(!c->has_max_lag);
	config_free(cfg);
}
END_TEST

START_TEST(test_state_machine_keys)
{
	struct config *cfg = cf_load_ok(HEAD
		"  probes = ( { type = \"http\"; via = \"b\"; url = \"http://{via_address}/see/{node}\"; },\n"
		"             { type = \"exec\"; command = [\"/bin/echo\", \"0\"]; lag = true; } );\n"
		"  hooks = { restore = [\"/bin/true\", \"{node}\"]; };\n"
		"  failover_delay = \"200ms\"; retries = 0; retry_backoff = \"2s\";\n"
		"  drain_timeout = \"5s\"; rejoin_after = \"1m\"; max_lag = 8000000000L;\n"
		TAIL);
	const struct conf_cluster *c = &cfg->clusters[0];

	ck_assert_str_eq(c->probes[0].via, "b");
	ck_assert_int_eq(c->probes[0].via_node, 1);
	ck_assert(c->probes[1].lag);
	ck_assert_str_eq(c->hooks.restore[1], "{node}");
	ck_assert_uint_eq(c->failover_delay_ms, 200);
	ck_assert_int_eq(c->retries, 0);
	ck_assert_uint_eq(c->retry_backoff_ms, 2000);
	ck_assert_uint_eq(c->drain_timeout_ms, 5000);
	ck_assert_uint_eq(c->rejoin_after_ms, 60000);
	ck_assert(c->has_max_lag);
	ck_assert(c->max_lag == 8000000000LL);
	config_free(cfg);
}
END_TEST

START_TEST(test_variants)
{
	struct config *cfg = cf_load_ok(
		"log_format = \"json\";\n"
		"control = { mode = 432; socket = \"/tmp/v.sock\"; };\n"
		"clusters = ( { name = \"db-1.x\"; nodes = (\n"
		NODE("p", "[::1]:5432", "standby")
		NODE("q", "[0:0::1]:5433", "primary")
		LAST("r", "10.0.0.1:5432", "standby")
		"  ); probes = ( { type = \"http\"; url = \"http://{address}/\"; expect_status = 204;\n"
		"                  method = \"HEAD\"; tls_verify = false; jitter = \"0ms\"; } );\n"
		"} );\n");
	const struct conf_cluster *c = &cfg->clusters[0];

	ck_assert_int_eq(cfg->log_format, CONF_LOG_JSON);
	ck_assert_int_eq(cfg->control.mode, 0660);
	ck_assert_str_eq(c->nodes[0].host, "::1");
	ck_assert_str_eq(c->nodes[0].address, "[::1]:5432");
	ck_assert_str_eq(c->nodes[1].host, "::1");
	ck_assert_uint_eq(c->probes[0].n_expect_status, 1);
	ck_assert_int_eq(c->probes[0].expect_status[0], 204);
	ck_assert_str_eq(c->probes[0].method, "HEAD");
	ck_assert(!c->probes[0].tls_verify);
	ck_assert_uint_eq(c->probes[0].jitter_ms, 0);
	config_free(cfg);
	config_free(NULL);
}
END_TEST

START_TEST(test_include)
{
	const char *bad = SRCDIR "/tests/unit/conf/include-bad.conf";
	const char *want = SRCDIR "/tests/unit/conf/include-bad.inc:9: unknown key 'intervall'";
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;

	/* Resolved next to the including file, whatever the cwd. */
	if (conf_load(SRCDIR "/tests/unit/conf/include.conf", &cfg, &errs) != 0)
		ck_abort_msg("include.conf: %s", errs.n ? errs.msgs[0] : "?");
	ck_assert_int_eq(cfg->log_format, CONF_LOG_JSON);
	ck_assert_str_eq(cfg->clusters[0].name, "inc");
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(conf_load(bad, &cfg, &errs), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_msg(strncmp(errs.msgs[0], want, strlen(want)) == 0, "%s", errs.msgs[0]);
	conf_errors_clear(&errs);
}
END_TEST

/* ---- errors ---- */

/* A whole valid cluster on one line. */
#define CLUSTER(name) \
	"  { name = \"" name "\"; nodes = ( { name = \"a\"; address = \"127.0.0.1:1\"; " \
	"role = \"primary\"; }, { name = \"b\"; address = \"127.0.0.1:2\"; role = \"standby\"; } ); " \
	"probes = ( { type = \"tcp\"; } ); }"

/*
 * One entry per error case: the config must fail with a message at LINE
 * (as "FILE:LINE: ") containing PART.  Each entry runs as its own test.
 */
static const struct err_case {
	const char *name;
	int line;
	const char *part;
	const char *text;
} err_cases[] = {
	{ "syntax", 4, "syntax error",
	  "state_dir = \"/x\";\n"           /* 1 */
	  "\n"                               /* 2 */
	  "clusters = ( {\n"                 /* 3 */
	  "  name = ;\n" },
	{ "unknown_top", 2, "unknown key 'statedir' in the top level (accepted keys: state_dir,",
	  "state_dir = \"/x\";\n" "statedir = \"/y\";\n" HEAD TCP TAIL },
	{ "unknown_control", 11, "unknown key 'owner' in control (accepted keys: socket, mode, max_connections)",
	  HEAD TCP TAIL "control = {\n  socket = \"/s\";\n  owner = \"x\";\n};\n" },
	{ "jitter_beyond_interval", 7, "'jitter' (500 ms) must not exceed 'interval' (200 ms)",
	  HEAD "  probes = ( { type = \"tcp\"; interval = \"200ms\"; jitter = \"500ms\"; } );\n" TAIL },
	{ "node_named_dotdot", 3, "'name' must not be \"..\" (names become path components)",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  "    { name = \"..\"; address = \"127.0.0.1:2\"; role = \"standby\"; }\n"
	  "  );\n" TCP TAIL },
	{ "cluster_named_dot", 1, "'name' must not be \".\"",
	  "clusters = ( { name = \".\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("b", "127.0.0.1:2", "standby") "  );\n" TCP TAIL },
	{ "max_connections_zero", 11, "'max_connections' must be between 1 and 1024, got 0",
	  HEAD TCP TAIL "control = {\n  socket = \"/s\";\n  max_connections = 0;\n};\n" },
	{ "max_connections_huge", 10, "'max_connections' must be between 1 and 1024, got 100000",
	  HEAD TCP TAIL "control = {\n  max_connections = 100000;\n};\n" },
	{ "unknown_cluster", 8, "unknown key 'probe' in cluster",
	  HEAD TCP "  probe = ( );\n" TAIL },
	{ "unknown_node", 4, "unknown key 'weight' in node",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  "    { name = \"b\"; address = \"127.0.0.1:2\"; role = \"standby\";\n"
	  "      weight = 5; }\n"
	  "  );\n" TCP TAIL },
	{ "unknown_probe", 9, "unknown key 'intervall' in probe (accepted keys: type, interval,",
	  HEAD "  probes = ( {\n    type = \"tcp\";\n    intervall = \"1s\";\n  } );\n"
	  TAIL },
	{ "url_on_tcp_probe", 8,
	  "'url' does not apply to probes of type tcp (it is a key of http probes)",
	  HEAD "  probes = ( { type = \"tcp\";\n    url = \"http://{address}/\"; } );\n"
	  TAIL },
	{ "command_on_http_probe", 8, "'command' does not apply to probes of type http",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://{address}/\";\n"
	  "    command = [\"/bin/true\"]; } );\n" TAIL },
	{ "unknown_balancer", 10, "unknown key 'weight' in balancer",
	  HEAD TCP "  balancers = ( { type = \"nginx\"; upstream = \"u\";\n"
	  "    file = \"/f\"; check = [\"c\"]; reload = [\"r\"];\n"
	  "    weight = 1; } );\n" TAIL },
	{ "unknown_alert", 9, "unknown key 'retry' in alert",
	  HEAD TCP "  alerts = (\n    { type = \"webhook\"; url = \"http://h/\"; retry = 3; }\n"
	  "  );\n" TAIL },
	{ "unknown_hooks", 9, "unknown key 'demote' in hooks (accepted keys: fence, promote, restore, follow, "
	  "timeout, fence_required)",
	  HEAD TCP "  hooks = {\n    demote = [\"/bin/x\"];\n  };\n" TAIL },
	{ "via_unknown_node", 8, "'via' names node \"z\", which is not a node of this cluster",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://{via_address}/\";\n"
	  "    via = \"z\"; } );\n" TAIL },
	{ "via_tcp", 7, "'via' needs an http or exec probe",
	  HEAD "  probes = ( { type = \"tcp\"; via = \"b\"; } );\n" TAIL },
	{ "via_vars_without_via", 7, "via_host",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://{via_host}/\"; } );\n" TAIL },
	{ "lag_on_http", 7, "'lag' does not apply to probes of type http",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://x/\"; lag = true; } );\n" TAIL },
	{ "max_lag_without_probe", 8, "'max_lag' needs an exec probe with lag = true",
	  HEAD TCP "  max_lag = 1000;\n" TAIL },
	{ "max_lag_negative", 8, "'max_lag' must be at least 0, got -1",
	  HEAD "  probes = ( { type = \"exec\"; command = [\"/bin/true\"]; lag = true; } );\n"
	  "  max_lag = -1;\n" TAIL },
	{ "drain_timeout_zero", 8, "drain_timeout",
	  HEAD TCP "  drain_timeout = \"0ms\";\n" TAIL },
	{ "wrong_type_int", 8, "'rise' must be an integer, got a string",
	  HEAD "  probes = ( { type = \"tcp\";\n    rise = \"2\"; } );\n" TAIL },
	{ "wrong_type_bool", 8, "'tls_verify' must be true or false",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://x/\";\n"
	  "    tls_verify = \"no\"; } );\n" TAIL },
	{ "wrong_type_string", 1, "'state_dir' must be a string, got an integer",
	  "state_dir = 5;\n" HEAD TCP TAIL },
	{ "wrong_type_list", 7, "'probes' must be a list",
	  HEAD "  probes = { type = \"tcp\"; };\n" TAIL },
	{ "wrong_type_duration", 7, "'interval' must be a duration string such as",
	  HEAD "  probes = ( { type = \"tcp\"; interval = 5; } );\n" TAIL },
	{ "wrong_type_argv", 9, "'promote' must be a non-empty array of strings",
	  HEAD TCP "  hooks = {\n    promote = \"/bin/x {node}\";\n  };\n" TAIL },
	{ "missing_node_address", 3, "missing required key 'address' in node",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  "    { name = \"b\";\n      role = \"standby\"; }\n"
	  "  );\n" TCP TAIL },
	{ "missing_probe_type", 7, "missing required key 'type' in probe",
	  HEAD "  probes = ( { interval = \"1s\"; } );\n" TAIL },
	{ "missing_cluster_probes", 1, "missing required key 'probes' in cluster",
	  HEAD TAIL },
	{ "missing_clusters", 1, "missing required key 'clusters' in the top level",
	  "\n\nstate_dir = \"/x\";\n" },
	{ "missing_http_url", 7, "missing required key 'url' in probe",
	  HEAD "  probes = ( { type = \"http\"; } );\n" TAIL },
	{ "duration_no_unit", 7, "'interval' is not a valid duration: missing unit in \"5\"",
	  HEAD "  probes = ( { type = \"tcp\"; interval = \"5\"; } );\n" TAIL },
	{ "duration_garbage", 8, "'timeout' is not a valid duration: \"soon\" is not a duration",
	  HEAD TCP "  hooks = { timeout = \"soon\"; };\n" TAIL },
	{ "duration_negative", 8, "negative duration \"-1s\" is not allowed",
	  HEAD "  probes = ( { type = \"tcp\";\n    timeout = \"-1s\"; } );\n" TAIL },
	{ "interval_too_small", 7, "'interval' must be at least 10ms, got 5ms",
	  HEAD "  probes = ( { type = \"tcp\"; interval = \"5ms\"; } );\n" TAIL },
	{ "timeout_zero", 7, "'timeout' must be greater than 0",
	  HEAD "  probes = ( { type = \"tcp\"; timeout = \"0s\"; } );\n" TAIL },
	{ "address_hostname", 3,
	  "\"db2.example.com\" is a hostname; only numeric addresses are accepted",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("b", "db2.example.com:5432", "standby") "  );\n" TCP TAIL },
	{ "address_bad_port", 2,
	  "bad port \"70000\" in \"127.0.0.1:70000\": a port is a number from 1 to 65535",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:70000", "primary")
	  LAST("b", "127.0.0.1:2", "standby") "  );\n" TCP TAIL },
	{ "address_missing_port", 3, "missing port in \"[::1]\"",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("b", "[::1]", "standby") "  );\n" TCP TAIL },
	{ "duplicate_node", 3, "duplicate node name 'a' in cluster 'web' (first defined at line 2)",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("a", "127.0.0.1:2", "standby") "  );\n" TCP TAIL },
	{ "duplicate_address", 3, "node 'b' has the same address [0::1]:80 as node 'a' (line 2)",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "[::1]:80", "primary")
	  LAST("b", "[0::1]:80", "standby") "  );\n" TCP TAIL },
	{ "duplicate_cluster", 4, "duplicate cluster name 'web' (first defined at line 2)",
	  "clusters = (\n" CLUSTER("web") ",\n" CLUSTER("db") ",\n" CLUSTER("web") "\n);\n" },
	{ "zero_primaries", 2,
	  "cluster 'web' has no primary node: exactly one node must have role = \"primary\"",
	  "state_dir = \"/x\";\n" "clusters = ( { name = \"web\"; nodes = (\n"
	  NODE("a", "127.0.0.1:1", "standby") LAST("b", "127.0.0.1:2", "standby")
	  "  );\n" TCP TAIL },
	{ "two_primaries", 2, "cluster 'web' has 2 primary nodes ('a', 'b')",
	  "\n" "clusters = ( {\n  name = \"web\";\n  nodes = (\n"
	  NODE("a", "127.0.0.1:1", "primary") LAST("b", "127.0.0.1:2", "primary")
	  "  );\n" TCP TAIL },
	{ "placeholder_url", 7,
	  "'url': unknown placeholder '{adress}' (allowed: address, host, port, node, cluster)",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://{adress}/\"; } );\n" TAIL },
	{ "placeholder_command", 8, "'command': unknown placeholder '{epoch}'",
	  HEAD "  probes = ( { type = \"exec\";\n"
	  "    command = [\"/bin/check\", \"{host}\", \"{epoch}\"]; } );\n" TAIL },
	{ "placeholder_hook", 9, "'promote': unknown placeholder '{reason}' (allowed: cluster, "
	  "node, address, old_primary, new_primary, epoch)",
	  HEAD TCP "  hooks = {\n    promote = [\"/bin/p\", \"{new_primary}\", "
	  "\"{reason}\"];\n  };\n" TAIL },
	{ "placeholder_unclosed", 8, "unclosed placeholder '{node'",
	  HEAD TCP "  hooks = { promote = [\"/bin/p\", \"{node\"]; };\n" TAIL },
	{ "relative_state_dir", 1,
	  "'state_dir' must be an absolute path (starting with '/'), got \"var/lib/vigil\"",
	  "state_dir = \"var/lib/vigil\";\n" HEAD TCP TAIL },
	{ "relative_socket", 10, "'socket' must be an absolute path",
	  HEAD TCP TAIL "control = {\n  socket = \"vigil.sock\";\n};\n" },
	{ "relative_balancer_file", 9, "'file' must be an absolute path",
	  HEAD TCP "  balancers = ( { type = \"nginx\"; upstream = \"u\";\n"
	  "    file = \"upstream.conf\"; check = [\"c\"]; reload = [\"r\"]; } );\n" TAIL },
	{ "expect_status_range", 8, "'expect_status' entries must be integers from 100 to 599",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://x/\";\n"
	  "    expect_status = [200, 700]; } );\n" TAIL },
	{ "expect_status_type", 8, "'expect_status' must be an HTTP status or a non-empty array",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://x/\";\n"
	  "    expect_status = \"200\"; } );\n" TAIL },
	{ "expect_status_empty", 8, "'expect_status' must be",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://x/\";\n"
	  "    expect_status = []; } );\n" TAIL },
	{ "url_scheme", 7, "'url' must start with http:// or https://",
	  HEAD "  probes = ( { type = \"http\"; url = \"{host}://x/\"; } );\n" TAIL },
	{ "url_no_host", 7, "and name a host",
	  HEAD "  probes = ( { type = \"http\"; url = \"http://\"; } );\n" TAIL },
	{ "exec_relative", 7,
	  "'command' must start with the absolute path of the program, got \"check.sh\"",
	  HEAD "  probes = ( { type = \"exec\"; command = [\"check.sh\"]; } );\n" TAIL },
	{ "exec_empty", 7, "'command' is empty",
	  HEAD "  probes = ( { type = \"exec\"; command = []; } );\n" TAIL },
	{ "one_node", 1, "'nodes' in cluster needs at least 2 entries, has 1",
	  "clusters = ( { name = \"web\"; nodes = (\n" LAST("a", "127.0.0.1:1", "primary")
	  "  );\n" TCP TAIL },
	{ "no_probes", 7, "'probes' in cluster needs at least 1 entry",
	  HEAD "  probes = ( );\n" TAIL },
	{ "no_clusters", 2, "'clusters' in the top level needs at least 1 entry",
	  "\nclusters = ( );\n" },
	{ "log_format", 1, "'log_format' must be one of: text, json; got \"xml\"",
	  "log_format = \"xml\";\n" HEAD TCP TAIL },
	{ "mode_decimal", 1, "'mode' 600 is out of range 0..0777",
	  "control = { mode = 0600; };\n" HEAD TCP TAIL },
	{ "mode_not_octal", 1, "'mode' must be an octal permission string",
	  "control = { mode = \"0800\"; };\n" HEAD TCP TAIL },
	{ "retries_range", 8, "'retries' must be between 0 and 20, got 21",
	  HEAD TCP "  alerts = ( { type = \"webhook\"; url = \"http://h/\"; retries = 21; } );\n"
	  TAIL },
	{ "server_options_injection", 9, "'server_options' may only hold letters, digits",
	  HEAD TCP "  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"]; server_options = \"x; } server {\"; } );\n"
	  TAIL },
	{ "standby_mode", 9, "'standby' must be one of: backup, out; got \"down\"",
	  HEAD TCP "  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"]; standby = \"down\"; } );\n"
	  TAIL },
	{ "bad_role", 3, "'role' must be one of: primary, standby; got \"master\"",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("b", "127.0.0.1:2", "master") "  );\n" TCP TAIL },
	{ "address_no_brackets", 2, "looks like IPv6 without brackets",
	  "clusters = ( { name = \"web\"; nodes = (\n" NODE("a", "::1:80", "primary")
	  LAST("b", "127.0.0.1:2", "standby") "  );\n" TCP TAIL },
	{ "cluster_name_chars", 1, "'name' must be a non-empty name made of letters, digits",
	  "clusters = ( { name = \"web/1\"; nodes = (\n" NODE("a", "127.0.0.1:1", "primary")
	  LAST("b", "127.0.0.1:2", "standby") "  );\n" TCP TAIL },
};

START_TEST(test_err_case)
{
	const struct err_case *c = &err_cases[_i];
	struct conf_errors errs = { 0 };
	char all[2048] = "";

	cf_load_fail(c->text, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		strncat(all, "\n  ", sizeof(all) - strlen(all) - 1);
		strncat(all, errs.msgs[i], sizeof(all) - strlen(all) - 1);
	}
	ck_assert_msg(cf_has_error(&errs, c->line, c->part), "case %s: no error at line %d with "
		      "\"%s\"; got:%s", c->name, c->line, c->part, all);
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_err_unreadable)
{
	struct conf_errors errs = { 0 };
	struct config *cfg = NULL;

	ck_assert_int_eq(conf_load("/nonexistent/vigil.conf", &cfg, &errs), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "/nonexistent/vigil.conf: cannot read config file: "
			 "No such file or directory");
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_err_alert_url_not_echoed)
{
	struct conf_errors errs = { 0 };

	cf_load_fail(HEAD TCP "  alerts = ( { type = \"webhook\";\n"
		  "    url = \"ftp://user:s3cr3t@h/\"; } );\n" TAIL, &errs);
	ck_assert(cf_has_error(&errs, 9, "'url' must start with http:// or https://"));
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_msg(strstr(errs.msgs[i], "s3cr3t") == NULL, "secret leaked: %s",
			      errs.msgs[i]);
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_err_many_at_once)
{
	struct conf_errors errs = { 0 };

	cf_load_fail("state_dir = \"rel\";\n"                                     /* 1 */
		  "clusters = ( { name = \"web\"; nodes = (\n"                  /* 2 */
		  NODE("a", "localhost:1", "primary")                          /* 3 */
		  LAST("b", "127.0.0.1:2", "standby")                          /* 4 */
		  "  );\n"                                                     /* 5 */
		  "  probes = ( { type = \"tcp\"; interval = \"1\"; fal = 2; } );\n" /* 6 */
		  "  alerts = ( { type = \"sms\"; url = \"http://h/\"; } );\n"     /* 7 */
		  "} );\n", &errs);                                            /* 8 */
	ck_assert_uint_eq(errs.n, 5);
	ck_assert(cf_has_error(&errs, 1, "'state_dir' must be an absolute path"));
	ck_assert(cf_has_error(&errs, 3, "is a hostname"));
	ck_assert(cf_has_error(&errs, 6, "unknown key 'fal' in probe"));
	ck_assert(cf_has_error(&errs, 6, "missing unit in \"1\""));
	ck_assert(cf_has_error(&errs, 7, "'type' must be one of: webhook, pagerduty, slack, exec; got \"sms\""));
	/* Reported in file order, whatever order the checks ran in. */
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], ":1: "));
	ck_assert_ptr_nonnull(strstr(errs.msgs[1], ":3: "));
	ck_assert_ptr_nonnull(strstr(errs.msgs[4], ":7: "));
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_errors_append)
{
	struct conf_errors errs = { 0 };

	conf_errors_add(&errs, "f.conf", 7, "'%s' is %d", "x", 3);
	conf_errors_add(&errs, "f.conf", 0, "whole file");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msgs[0], "f.conf:7: 'x' is 3");
	ck_assert_str_eq(errs.msgs[1], "f.conf: whole file");
	conf_errors_clear(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.msgs);
	conf_errors_clear(&errs);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *load = tcase_create("load");
	TCase *errs = tcase_create("errors");

	tcase_add_test(load, test_example_loads);
	tcase_add_test(load, test_defaults);
	tcase_add_test(load, test_state_machine_keys);
	tcase_add_test(load, test_variants);
	tcase_add_test(load, test_include);
	suite_add_tcase(s, load);

	tcase_add_loop_test(errs, test_err_case, 0,
			    (int)(sizeof(err_cases) / sizeof(err_cases[0])));
	tcase_add_test(errs, test_err_unreadable);
	tcase_add_test(errs, test_err_alert_url_not_echoed);
	tcase_add_test(errs, test_err_many_at_once);
	tcase_add_test(errs, test_errors_append);
	suite_add_tcase(s, errs);

	return s;
}

