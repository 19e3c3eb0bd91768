/*
 * actions/backup/store_s3_conf.c — the S3 store's settings: defaults and
 * credentials (store_s3.h).  Locations ("s3://bucket/prefix?...") are
 * parsed where a store is opened, in store_open.c.
 *
 * Credentials come from a file when one is configured, else from the
 * standard environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * and AWS_SESSION_TOKEN.  The file holds KEY=VALUE lines with those same
 * names (case-insensitive, spaces around '=' and quotes around the value
 * allowed, '#' / ';' comments, '[section]' lines and other keys ignored),
 * so a one-profile ~/.aws/credentials file also works:
 *
 *     AWS_ACCESS_KEY_ID=AKIA...
 *     AWS_SECRET_ACCESS_KEY=...
 *
 * The file must be a regular file that neither group nor others can
 * access (chmod 600), as for an ssh key.  No message here or anywhere in
 * the store holds the secret or the token: errors name the variable or
 * the file, never the value; server messages are redacted (s3_redact).
 */
#include "actions/backup/store_s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

#define CREDS_MAX (64u << 10)

void bk_s3_config_default(struct bk_s3_config *c)
{
	memset(c, 0, sizeof(*c));
	c->region = "us-east-1";
	c->prefix = "";
	c->attempts = 6;
	c->backoff_ms = 100;
	c->backoff_max_ms = 10000;
	c->connect_timeout_ms = 10000;
	c->low_speed_bytes = 1024;
	c->low_speed_s = 30;
}

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void s3_creds_free(struct s3_creds *c)
{
	wipe_free(c->key_id);
	wipe_free(c->secret);
	wipe_free(c->token);
	c->key_id = c->secret = c->token = NULL;
}

void s3_redact(const struct s3_creds *c, char *text)
{
	const char *secrets[] = { c->secret, c->token, NULL };

	for (int i = 0; secrets[i]; i++) {
		size_t n = strlen(secrets[i]);
		char *hit;

		while (n >= 4 && (hit = strstr(text, secrets[i])) != NULL) {
			memcpy(hit, "***", 3);
			memmove(hit + 3, hit + n, strlen(hit + n) + 1);
		}
	}
}

/* Header-safe: printable ASCII only (the token goes into a header line). */
static int check_value(const char *what, const char *v, char *err, size_t errlen)
{
	if (!v[0]) {
		err_set(err, errlen, "S3 credentials: %s is empty", what);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f) {
			err_set(err, errlen, "S3 credentials: %s holds a character that is not printable ASCII",
				what);
			return -1;
		}
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s) {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/* One "KEY=VALUE" line into c; other lines are ignored. */
static int creds_line(char *line, struct s3_creds *c)
{
	static const char *const keys[] = { "aws_access_key_id", "aws_secret_access_key",
					    "aws_session_token" };
	char **slot[] = { &c->key_id, &c->secret, &c->token };
	char *eq = strchr(line, '='), *k = trim(line);

	if (!eq || *k == '#' || *k == ';' || *k == '[')
		return 0;
	*eq = '\0';
	k = trim(k);
	for (int i = 0; i < 3; i++) {
		if (strcasecmp(k, keys[i]) == 0) {
			wipe_free(*slot[i]);
			*slot[i] = strdup(trim(eq + 1));
			return *slot[i] ? 0 : -1;
		}
	}
	return 0;
}

static int read_creds_file(const char *path, char **text, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	ssize_t n;
	size_t len = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_set(err, errlen, "S3 credentials file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_size >= (off_t)CREDS_MAX) {
		err_set(err, errlen, "S3 credentials file %s: %s", path,
			!S_ISREG(st.st_mode) ? "not a regular file"
			: (st.st_mode & 077) ? "group or others may read it (chmod 600 it)"
					      : "too large");
		close(fd);
		return -1;
	}
	*text = calloc(1, (size_t)st.st_size + 1);
	while (*text && len < (size_t)st.st_size &&
	       ((n = read(fd, *text + len, (size_t)st.st_size - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	if (!*text) {
		err_set(err, errlen, "S3 credentials file %s: out of memory", path);
		return -1;
	}
	return 0;
}

static int creds_from_file(const char *path, struct s3_creds *c, char *err, size_t errlen)
{
	char *text = NULL, *line, *save = NULL;
	int rc = 0;

	if (read_creds_file(path, &text, err, errlen) < 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); rc == 0 && line; line = strtok_r(NULL, "\n", &save))
		rc = creds_line(line, c);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (rc < 0) {
		err_set(err, errlen, "S3 credentials file %s: out of memory", path);
		return -1;
	}
	if (!c->key_id || !c->secret) {
		err_set(err, errlen, "S3 credentials file %s: %s missing", path,
			!c->key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
		return -1;
	}
	return 0;
}

static int creds_from_env(struct s3_creds *c, char *err, size_t errlen)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");

	if (!id || !secret) {
		err_set(err, errlen, "no S3 credentials: configure a credentials file or set "
				     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return -1;
	}
	c->key_id = strdup(id);
	c->secret = strdup(secret);
	c->token = token && token[0] ? strdup(token) : NULL;
	if (!c->key_id || !c->secret || (token && token[0] && !c->token)) {
		err_set(err, errlen, "S3 credentials: out of memory");
		return -1;
	}
	return 0;
}

int s3_creds_load(const char *file, struct s3_creds *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if ((file ? creds_from_file(file, c, err, errlen) : creds_from_env(c, err, errlen)) < 0 ||
	    check_value("AWS_ACCESS_KEY_ID", c->key_id, err, errlen) < 0 ||
	    check_value("AWS_SECRET_ACCESS_KEY", c->secret, err, errlen) < 0 ||
	    (c->token && check_value("AWS_SESSION_TOKEN", c->token, err, errlen) < 0)) {
		s3_creds_free(c);
		return -1;
	}
	return 0;
}
