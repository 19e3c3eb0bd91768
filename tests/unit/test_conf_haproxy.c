/*
 * tests/unit/test_conf_haproxy.c — the loader's haproxy balancer keys:
 * what loads (socket as a unix path or a numeric address, the file mode,
 * both types in one cluster) and what is refused, at which FILE:LINE.
 * Each fixture is laid out one config line per C line (numbered).
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

/* Lines 1-7: a valid cluster up to its balancers. */
#define HEAD \
	"clusters = ( {\n"                                                          /* 1 */ \
	"  name = \"web\";\n"                                                       /* 2 */ \
	"  nodes = (\n"                                                             /* 3 */ \
	"    { name = \"a\"; address = \"127.0.0.1:8081\"; role = \"primary\"; },\n"  /* 4 */ \
	"    { name = \"b\"; address = \"127.0.0.1:8082\"; role = \"standby\"; }\n"   /* 5 */ \
	"  );\n"                                                                    /* 6 */ \
	"  probes = ( { type = \"tcp\"; } );\n"                                     /* 7 */
/* Line 8 opens the balancer, line 9 holds KEYS, line 10 closes it. */
#define BAL(keys) \
	"  balancers = ( { type = \"haproxy\";\n"                                   /* 8 */ \
	"    " keys "\n"                                                            /* 9 */ \
	"  } );\n"                                                                  /* 10 */ \
	"} );\n"

START_TEST(socket_mode)
{
	struct config *cfg = cf_load_ok(HEAD BAL(
		"backend = \"web_be\"; socket = \"/run/haproxy/admin.sock\"; "
		"state_file = \"/var/lib/haproxy/state\"; standby = \"out\";"));
	const struct conf_balancer *b = &cfg->clusters[0].balancers[0];

	ck_assert_int_eq(b->type, CONF_BALANCER_HAPROXY);
	ck_assert_int_eq(b->line, 8);
	ck_assert_str_eq(b->backend, "web_be");
	ck_assert_str_eq(b->socket, "/run/haproxy/admin.sock");
	ck_assert_str_eq(b->state_file, "/var/lib/haproxy/state");
	ck_assert_int_eq(b->standby, CONF_STANDBY_OUT);
	ck_assert_ptr_null(b->file);
	ck_assert_ptr_null(b->check);
	ck_assert_ptr_null(b->reload);
	ck_assert_ptr_null(b->upstream);
	ck_assert_uint_eq(b->timeout_ms, 10000);
	config_free(cfg);

	cfg = cf_load_ok(HEAD BAL("backend = \"w\"; socket = \"127.0.0.1:9999\"; "
			       "file = \"/etc/haproxy/vigil.cfg\"; check = [\"haproxy\", \"-c\"];"));
	b = &cfg->clusters[0].balancers[0];
	ck_assert_str_eq(b->socket, "127.0.0.1:9999");
	ck_assert_str_eq(b->file, "/etc/haproxy/vigil.cfg");
	ck_assert_str_eq(b->check[1], "-c");
	config_free(cfg);

	cfg = cf_load_ok(HEAD BAL("backend = \"w\"; socket = \"[::1]:9999\";"));
	ck_assert_str_eq(cfg->clusters[0].balancers[0].socket, "[::1]:9999");
	config_free(cfg);
}
END_TEST

START_TEST(file_mode_and_mixed_types)
{
	struct config *cfg = cf_load_ok(HEAD
		"  balancers = (\n"
		"    { type = \"haproxy\"; backend = \"web\"; file = \"/etc/haproxy/web.cfg\";\n"
		"      check = [\"haproxy\", \"-c\", \"-f\", \"/etc/haproxy/haproxy.cfg\"];\n"
		"      reload = [\"systemctl\", \"reload\", \"haproxy\"];\n"
		"      server_options = \"check inter 1s on-marked-down shutdown-sessions\"; },\n"
		"    { type = \"nginx\"; upstream = \"u\"; file = \"/tmp/u.conf\";\n"
		"      check = [\"nginx\", \"-t\"]; reload = [\"nginx\"]; } );\n"
		"} );\n");
	const struct conf_cluster *c = &cfg->clusters[0];

	ck_assert_uint_eq(c->n_balancers, 2);
	ck_assert_int_eq(c->balancers[0].type, CONF_BALANCER_HAPROXY);
	ck_assert_ptr_null(c->balancers[0].socket);
	ck_assert_str_eq(c->balancers[0].reload[2], "haproxy");
	ck_assert_str_eq(c->balancers[0].server_options,
			 "check inter 1s on-marked-down shutdown-sessions");
	ck_assert_int_eq(c->balancers[1].type, CONF_BALANCER_NGINX);
	ck_assert_ptr_null(c->balancers[1].backend);
	config_free(cfg);
}
END_TEST

struct err_case {
	const char *name;
	int line;
	const char *part;
	const char *text;
};

static const struct err_case err_cases[] = {
	{ "no_backend", 8, "missing required key 'backend' in balancer",
	  HEAD BAL("socket = \"/run/h.sock\";") },
	{ "backend_chars", 9, "'backend' must be a non-empty name",
	  HEAD BAL("backend = \"web be\"; socket = \"/run/h.sock\";") },
	{ "hostname_socket", 9, "'socket' must be an absolute unix socket path or a numeric "
	  "address like 127.0.0.1:9999 or [::1]:9999",
	  HEAD BAL("backend = \"w\"; socket = \"localhost:9999\";") },
	{ "relative_socket", 9, "'socket' must be an absolute unix socket path",
	  HEAD BAL("backend = \"w\"; socket = \"run/h.sock\";") },
	{ "long_socket", 9, "'socket' is too long for a unix socket path",
	  HEAD BAL("backend = \"w\"; socket = \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\";") },
	{ "no_socket_needs_file", 8, "missing required key 'file' in balancer",
	  HEAD BAL("backend = \"w\"; check = [\"c\"]; reload = [\"r\"];") },
	{ "no_socket_needs_reload", 8, "missing required key 'reload' in balancer",
	  HEAD BAL("backend = \"w\"; file = \"/f\"; check = [\"c\"];") },
	{ "state_file_without_socket", 9, "'state_file' needs 'socket'",
	  HEAD BAL("backend = \"w\"; file = \"/f\"; check = [\"c\"]; reload = [\"r\"]; "
		   "state_file = \"/s\";") },
	{ "relative_state_file", 9, "'state_file' must be an absolute path",
	  HEAD BAL("backend = \"w\"; socket = \"/run/h.sock\"; state_file = \"s\";") },
	{ "check_without_file", 9, "'check' with 'socket' checks the rendered 'file'",
	  HEAD BAL("backend = \"w\"; socket = \"/run/h.sock\"; check = [\"c\"];") },
	{ "upstream_on_haproxy", 9, "'upstream' is only for nginx balancers (haproxy names a "
	  "'backend')",
	  HEAD BAL("backend = \"w\"; socket = \"/run/h.sock\"; upstream = \"u\";") },
	{ "pid_file_on_haproxy", 9, "'pid_file' is only for nginx balancers",
	  HEAD BAL("backend = \"w\"; socket = \"/run/h.sock\"; pid_file = \"/p\";") },
	{ "backend_on_nginx", 9, "'backend' is only for haproxy balancers (nginx names an "
	  "'upstream')",
	  HEAD "  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"]; backend = \"w\";\n  } );\n} );\n" },
	{ "socket_on_nginx", 9, "'socket' is only for haproxy balancers",
	  HEAD "  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"]; socket = \"/s\"; state_file = \"/t\";\n"
	  "  } );\n} );\n" },
	{ "state_file_on_nginx", 9, "'state_file' is only for haproxy balancers",
	  HEAD "  balancers = ( { type = \"nginx\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"]; socket = \"/s\"; state_file = \"/t\";\n"
	  "  } );\n} );\n" },
	{ "server_options_newline", 9, "'server_options' may only hold letters, digits, '_', "
	  "'=', '.', '-', '/', ':' and spaces",
	  HEAD BAL("backend = \"w\"; socket = \"/s\"; server_options = \"check\\nbackend x\";") },
	{ "unknown_type", 8, "'type' must be one of: nginx, haproxy; got \"traefik\"",
	  HEAD "  balancers = ( { type = \"traefik\"; upstream = \"u\"; file = \"/f\";\n"
	  "    check = [\"c\"]; reload = [\"r\"];\n  } );\n} );\n" },
};

START_TEST(refused)
{
	const struct err_case *c = &err_cases[_i];
	struct conf_errors errs = { 0 };
	static struct config sentinel;
	struct config *cfg = &sentinel;
	char all[2048] = "";

	ck_assert_int_eq(cf_load_text(c->text, &cfg, &errs), -1);
	ck_assert_ptr_eq(cfg, &sentinel);
	for (size_t i = 0; i < errs.n; i++) {
		strncat(all, "\n  ", sizeof(all) - strlen(all) - 1);
		strncat(all, errs.msgs[i], sizeof(all) - strlen(all) - 1);
	}
	ck_assert_msg(cf_has_error(&errs, c->line, c->part), "case %s: no error at line %d with "
		      "\"%s\"; got:%s", c->name, c->line, c->part, all);
	conf_errors_clear(&errs);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("conf_haproxy");
	TCase *load = tcase_create("load"), *errs = tcase_create("errors");

	tcase_add_test(load, socket_mode);
	tcase_add_test(load, file_mode_and_mixed_types);
	suite_add_tcase(s, load);
	tcase_add_loop_test(errs, refused, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
	suite_add_tcase(s, errs);
	return s;
}

