/*
 * tests/unit/test_template.c — "{name}" expansion and checking: values,
 * literal braces, and every kind of malformed template being refused with
 * a message that names the culprit.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "common/template.h"

static const struct tmpl_var vars[] = {
	{ "address", "127.0.0.1:8081" },
	{ "host", "127.0.0.1" },
	{ "port", "8081" },
	{ "node", "a" },
	{ "empty", NULL },
};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

static const char *const names[] = { "address", "host", "port", "node", "cluster" };
#define N_NAMES (sizeof(names) / sizeof(names[0]))

/* Expand S and compare with WANT; NULL WANT means "must fail". */
static void expect(const char *s, const char *want)
{
	char err[256] = "";
	char *got = tmpl_expand(s, vars, N_VARS, err, sizeof(err));

	if (want == NULL) {
		ck_assert_msg(got == NULL, "\"%s\" expanded to \"%s\"", s, got ? got : "");
		ck_assert_msg(err[0] != '\0', "no error message for \"%s\"", s);
		return;
	}
	ck_assert_msg(got != NULL, "\"%s\": %s", s, err);
	ck_assert_str_eq(got, want);
	free(got);
}

/* Expansion must fail with an error containing PART. */
static void expect_err(const char *s, const char *part)
{
	char err[256] = "";
	char *got = tmpl_expand(s, vars, N_VARS, err, sizeof(err));

	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, part) != NULL, "error \"%s\" lacks \"%s\"", err, part);
}

START_TEST(test_expand_values)
{
	expect("http://{address}/health", "http://127.0.0.1:8081/health");
	expect("{host}:{port}", "127.0.0.1:8081");
	expect("{node}{node}-{node}", "aa-a");
	expect("no placeholders", "no placeholders");
	expect("", "");
	expect("{empty}x", "x");
}
END_TEST

START_TEST(test_literal_braces)
{
	expect("{{node}}", "{node}");
	expect("a{{b", "a{b");
	expect("a}}b", "a}b");
	expect("{{{node}}}", "{a}");
	expect("json={{\"n\":\"{node}\"}}", "json={\"n\":\"a\"}");
}
END_TEST

START_TEST(test_expand_errors)
{
	expect_err("http://{adress}/", "'{adress}'");
	expect_err("http://{adress}/", "allowed: address, host, port, node, empty");
	expect_err("{node", "unclosed placeholder '{node'");
	expect_err("x{no{de}", "unclosed placeholder '{no'");
	expect_err("node}", "unbalanced '}'");
	expect_err("{node}}", "unbalanced '}'");
	expect_err("{}", "empty placeholder");
	expect(NULL, NULL);
}
END_TEST

START_TEST(test_check)
{
	char err[256] = "";

	ck_assert_int_eq(tmpl_check("http://{address}/{cluster}", names, N_NAMES, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(tmpl_check("{{literal}}", names, N_NAMES, err, sizeof(err)), 0);
	ck_assert_int_eq(tmpl_check("{epoch}", names, N_NAMES, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'{epoch}'"));
	ck_assert_ptr_nonnull(strstr(err, "allowed: address, host, port, node, cluster"));
	ck_assert_int_eq(tmpl_check("{node", names, N_NAMES, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'{node'"));
	ck_assert_int_eq(tmpl_check("{x}", NULL, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no placeholders are allowed"));
	ck_assert_int_eq(tmpl_check(NULL, names, N_NAMES, err, sizeof(err)), -1);
	/* A prefix of a name is not the name. */
	ck_assert_int_eq(tmpl_check("{hos}", names, N_NAMES, err, sizeof(err)), -1);
	ck_assert_int_eq(tmpl_check("{hostx}", names, N_NAMES, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_argv)
{
	/* execve's argv type; the strings are never written. */
	char *const argv[] = { (char *)"/bin/check", (char *)"--host={host}", (char *)"{port}",
			       (char *)"{{x}}", NULL };
	char *const bad[] = { (char *)"/bin/check", (char *)"{host}", (char *)"{nope}", NULL };
	char err[256] = "";
	char **out = tmpl_expand_argv(argv, vars, N_VARS, err, sizeof(err));

	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_str_eq(out[0], "/bin/check");
	ck_assert_str_eq(out[1], "--host=127.0.0.1");
	ck_assert_str_eq(out[2], "8081");
	ck_assert_str_eq(out[3], "{x}");
	ck_assert_ptr_null(out[4]);
	tmpl_argv_free(out);

	ck_assert_ptr_null(tmpl_expand_argv(bad, vars, N_VARS, err, sizeof(err)));
	ck_assert_msg(strstr(err, "argument 2") && strstr(err, "'{nope}'"), "%s", err);
	ck_assert_ptr_null(tmpl_expand_argv(NULL, vars, N_VARS, err, sizeof(err)));
	tmpl_argv_free(NULL);
}
END_TEST

START_TEST(test_value_not_rescanned)
{
	/* A value holding braces is data, not a template. */
	const struct tmpl_var v[] = { { "x", "{node}}" } };
	char err[128];
	char *got = tmpl_expand("[{x}]", v, 1, err, sizeof(err));

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "[{node}}]");
	free(got);
}
END_TEST

START_TEST(test_long_output)
{
	/* Forces the output buffer to grow many times. */
	size_t n = 5000;
	char *s = malloc(n * 6 + 1), err[128];
	char *got;

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 6, "{node}", 6);
	s[n * 6] = '\0';
	got = tmpl_expand(s, vars, N_VARS, err, sizeof(err));
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), n);
	ck_assert_int_eq(strspn(got, "a"), n);
	free(got);
	free(s);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_expand_values);
	tcase_add_test(tc, test_literal_braces);
	tcase_add_test(tc, test_expand_errors);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_argv);
	tcase_add_test(tc, test_value_not_rescanned);
	tcase_add_test(tc, test_long_output);
	suite_add_tcase(s, tc);
	return s;
}

