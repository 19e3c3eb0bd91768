/*
 * tests/unit/test_backup_s3.c — the S3 store (store_s3.h) against a real
 * s3rver, mostly through s3_fault_proxy.py, which checks every request's
 * SigV4 signature, SHA-256 and MD5 the way S3 does (s3rver checks none of
 * them) and injects faults: objects round-trip under an awkward prefix,
 * listings follow continuation tokens, put_new refuses an existing object
 * (by HEAD, by a server's 412, and after a lost answer), 500s, 503s, 429s,
 * resets, stalls and corrupted uploads are retried to success, retries
 * stop where they should, and bad credentials fail clearly without the
 * secret.  The XML reader and the settings are tested without a server;
 * the rest is skipped, with a message, when s3rver is not installed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "actions/backup/store_s3.h"
#include "actions/backup/store_s3_int.h"
#include "tests/unit/s3_fixture.h"
#include "tests/unit/unit_util.h"

/* ---- the XML reader ---- */

struct seen {
	char text[4096];
};

static int collect(void *arg, const char *path, const char *text, size_t len)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	ck_assert_uint_eq(strlen(text), len);
	snprintf(s->text + n, sizeof(s->text) - n, "%s=%s|", path, text);
	return 0;
}

START_TEST(xml_reads_a_listing)
{
	static const char doc[] =
		"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!-- a comment with <Key>not a key</Key> -->\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><KeyCount>3</KeyCount>"
		"<Contents><Key>a &amp; b &lt;c&gt; &quot;&apos;</Key><Size>1</Size>"
		"<Owner attr='x>y'><ID>o</ID></Owner></Contents>\n"
		"  <Contents><Key>&#65;&#x42;&#xe9;&#x1F600;</Key></Contents>"
		"<Contents><Key><![CDATA[<raw> & ]]>tail</Key></Contents>"
		"<Contents><Key/></Contents>"
		"<IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>1/abc+=</NextContinuationToken>"
		"</ListBucketResult>\n";
	struct seen s = { "" };
	char err[128] = "";

	ck_assert_int_eq(s3_xml_parse(doc, strlen(doc), collect, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s.text,
			 "ListBucketResult/Name=b|ListBucketResult/KeyCount=3|"
			 "ListBucketResult/Contents/Key=a & b <c> \"'|"
			 "ListBucketResult/Contents/Size=1|ListBucketResult/Contents/Owner/ID=o|"
			 "ListBucketResult/Contents/Key=AB\xC3\xA9\xF0\x9F\x98\x80|"
			 "ListBucketResult/Contents/Key=<raw> & tail|"
			 "ListBucketResult/Contents/Key=|"
			 "ListBucketResult/IsTruncated=true|"
			 "ListBucketResult/NextContinuationToken=1/abc+=|");
}
END_TEST

static int stop_at_second(void *arg, const char *path, const char *text, size_t len)
{
	(void)path;
	(void)text;
	(void)len;
	return ++*(int *)arg == 2 ? 42 : 0;
}

START_TEST(xml_refuses_what_it_cannot_trust)
{
	static const char *const bad[] = {
		"<a><b>x</a></b>",                     /* mismatched */
		"<a><b>x</b>",                         /* truncated */
		"<a>&unknown;</a>",                    /* unknown entity */
		"<a>&#0;</a>",                         /* NUL reference */
		"<a>&#xD800;</a>",                     /* surrogate */
		"<a>&amp</a>",                         /* unterminated entity */
		"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", /* no DTDs */
		"text<a/>",                            /* text outside the root */
		"<a/><b/>",                            /* two roots */
		"",                                    /* nothing */
		"<a x='>",                             /* unterminated tag */
		"<a><!-- never closed </a>",
		"</a>",
	};
	struct seen s = { "" };
	char err[128];
	int n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(s3_xml_parse(bad[i], strlen(bad[i]), collect, &s, err, sizeof(err)) == -1,
			      "accepted: %s", bad[i]);
		ck_assert_msg(strncmp(err, "malformed XML: ", 15) == 0, "%s: %s", bad[i], err);
	}
	/* Deep nesting is refused, not overflowed. */
	char deep[400] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "<a>");
	ck_assert_int_eq(s3_xml_parse(deep, strlen(deep), collect, &s, err, sizeof(err)), -1);
	/* The callback can stop the walk. */
	ck_assert_int_eq(s3_xml_parse("<r><a>1</a><b>2</b><c>3</c></r>", 31, stop_at_second, &n,
				      err, sizeof(err)), 42);
	ck_assert_int_eq(n, 2);
}
END_TEST

/* ---- settings and credentials ---- */

static char *write_tmp(const char *text, mode_t mode)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-s3cred-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void expect_refused(const struct bk_s3_config *c, const char *want)
{
	char err[512] = "";
	struct bk_store *s = bk_store_s3_new(c, false, err, sizeof(err));

	ck_assert_msg(s == NULL, "accepted, wanted \"%s\"", want);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
	ck_assert_msg(strstr(err, "sekrit") == NULL, "error shows the secret: %s", err);
}

START_TEST(settings_are_checked)
{
	struct bk_s3_config c;
	char *path = write_tmp("# vigil\n[default]\n aws_access_key_id = AKID\n"
			       "AWS_SECRET_ACCESS_KEY=\"sekrit-value\"\r\nregion=eu-west-1\n", 0600);
	struct s3_creds cr;
	char err[256] = "";
	struct bk_store *s;

	ck_assert_msg(s3_creds_load(path, &cr, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cr.key_id, "AKID");
	ck_assert_str_eq(cr.secret, "sekrit-value");
	ck_assert_ptr_null(cr.token);
	s3_creds_free(&cr);
	s3f_config(&c, 9, "p", NULL, NULL);
	c.credentials_file = path;
	s = s3f_store(&c); /* no request without create: port 9 is never asked */
	ck_assert_str_eq(s->where, "s3://" S3F_BUCKET "/p");
	bk_store_free(s);
	c.endpoint = "ftp://x";
	expect_refused(&c, "endpoint must be");
	c.endpoint = "http://user:pw@host";
	expect_refused(&c, "endpoint must be");
	c.endpoint = "http://127.0.0.1:9";
	c.bucket = "a/b";
	expect_refused(&c, "bucket must be");
	c.bucket = S3F_BUCKET;
	c.region = "us:east";
	expect_refused(&c, "region must be");
	c.region = "us-east-1";
	c.attempts = 0;
	expect_refused(&c, "attempts must be");
	c.attempts = 3;
	ck_assert_int_eq(chmod(path, 0640), 0);
	expect_refused(&c, "chmod 600");
	unlink(path);
	c.credentials_file = write_tmp("AWS_SECRET_ACCESS_KEY=sekrit\n", 0600);
	expect_refused(&c, "AWS_ACCESS_KEY_ID missing");
	unlink(c.credentials_file);
	c.credentials_file = write_tmp("AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=sek\x01rit\n", 0600);
	expect_refused(&c, "AWS_SECRET_ACCESS_KEY holds a character");
	unlink(c.credentials_file);
	c.credentials_file = NULL;
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "sekrit", 1);
	expect_refused(&c, "no S3 credentials");
}
END_TEST

START_TEST(locations_and_redaction)
{
	char err[512] = "", text[128] = "token tok-ABCDEFG and sekrit twice: sekrit.";
	char id[] = "id", secret[] = "sekrit", token[] = "tok-ABCDEFG";
	struct s3_creds cr = { .key_id = id, .secret = secret, .token = token };
	char tmp[] = "/tmp/vigil-s3loc-XXXXXX", enc[64];
	struct bk_store *s;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	s = bk_store_open(tmp, false, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(s->where, tmp);
	bk_store_free(s);
	rmdir(tmp);
	setenv("AWS_ACCESS_KEY_ID", "id", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "sekrit", 1);
	s = bk_store_open("s3://bkt/a/b/?endpoint=http://127.0.0.1:9&region=eu-west-1", false,
			  err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(s->where, "s3://bkt/a/b");
	ck_assert_str_eq(((struct s3 *)s)->base_url, "http://127.0.0.1:9/bkt/");
	ck_assert_str_eq(((struct s3 *)s)->sigv4, "aws:amz:eu-west-1:s3");
	bk_store_free(s);
	s = bk_store_open("s3://bkt?region=us-west-2", false, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(((struct s3 *)s)->base_url, "https://bkt.s3.us-west-2.amazonaws.com/");
	bk_store_free(s);
	ck_assert_ptr_null(bk_store_open("s3://bkt?regoin=x", false, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "regoin"));
	s3_redact(&cr, text);
	ck_assert_str_eq(text, "token *** and *** twice: ***.");
	ck_assert_str_eq(s3_uri_encode("a b/ü~+=&", true, enc, sizeof(enc)),
			 "a%20b/%C3%BC~%2B%3D%26");
	ck_assert_str_eq(s3_uri_encode("x/y", false, enc, sizeof(enc)), "x%2Fy");
	ck_assert_ptr_null(s3_uri_encode("abcdef", true, enc, 4));
}
END_TEST

/* s3rver runs for the whole program (unit_setup), or the live tests are skipped. */
static bool live;

int unit_setup(void)
{
	char why[256] = "";

	/* libcurl honours these; the servers here are on loopback. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	live = s3f_server_start(why, sizeof(why));
	if (!live)
		fprintf(stderr, "test_backup_s3: S3 server tests skipped: %s\n", why);
	return 0;
}

void unit_cleanup(void)
{
	s3f_server_stop();
}

Suite *unit_suite(void)
{
	Suite *s = suite_create("backup_s3");
	TCase *tc = tcase_create("offline");

	tcase_add_test(tc, xml_reads_a_listing);
	tcase_add_test(tc, xml_refuses_what_it_cannot_trust);
	tcase_add_test(tc, settings_are_checked);
	tcase_add_test(tc, locations_and_redaction);
	suite_add_tcase(s, tc);
	if (live)
		suite_add_tcase(s, s3f_live_tcase());
	return s;
}

