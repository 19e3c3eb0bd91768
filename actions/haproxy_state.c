/*
 * actions/haproxy_state.c — read haproxy's answers about its servers, and
 * keep its server-state file.
 *
 * Columns are found by name in each answer's header line, not by
 * position, so a haproxy that adds columns does not break us:
 *
 *   show servers state B:  "1" (format version), "# be_id be_name ...",
 *                          then one space-separated line per server
 *   show stat B 4 -1:      "# pxname,svname,qcur,...", then CSV lines
 *
 * Anything else is haproxy saying no ("Can't find backend."), quoted back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"
#include "common/fsutil.h"

/* Fields of one line; more than a server line has (25 state, ~190 stat). */
#define MAX_FIELDS 256
#define STATE_VERSION "1"

enum col { C_BACKEND, C_SERVER, C_ADDR, C_PORT, C_OP, C_ADMIN, C_SCUR, C_QCUR, C_BCK, N_COLS };

struct cols {
	int at[N_COLS];
};

/* One line cut into fields (in place).  CSV fields may be "quoted", with "" inside. */
struct fields {
	char *v[MAX_FIELDS];
	size_t n;
};

void hap_answer_excerpt(const char *answer, char *buf, size_t len)
{
	size_t n = strcspn(answer, "\n");

	if (n == 0 && answer[0] == '\0') {
		snprintf(buf, len, "(empty answer)");
		return;
	}
	snprintf(buf, len, "%.*s", (int)(n > 200 ? 200 : n), answer);
}

static void split_spaces(char *line, struct fields *f)
{
	char *save = NULL;

	f->n = 0;
	for (char *t = strtok_r(line, " \t", &save); t && f->n < MAX_FIELDS;
	     t = strtok_r(NULL, " \t", &save))
		f->v[f->n++] = t;
}

static void split_csv(char *line, struct fields *f)
{
	char *p = line;

	f->n = 0;
	while (f->n < MAX_FIELDS) {
		char *w = p;

		f->v[f->n++] = p;
		if (*p == '"') {
			/* Unquote in place: "" is one quote, the closing quote ends it. */
			for (p++; *p && !(p[0] == '"' && p[1] != '"'); p++)
				*w++ = *p == '"' ? *++p : *p;
			if (*p == '"')
				p++;
			while (*p && *p != ',')
				p++;
		} else {
			while (*p && *p != ',')
				*w++ = *p++;
		}
		if (!*p) {
			*w = '\0';
			return;
		}
		p++;
		*w = '\0';
	}
}

static void find_cols(const struct fields *f, const char *const names[N_COLS], struct cols *c)
{
	for (int k = 0; k < N_COLS; k++) {
		c->at[k] = -1;
		for (size_t i = 0; names[k] && i < f->n; i++)
			if (strcmp(f->v[i], names[k]) == 0)
				c->at[k] = (int)i;
	}
}

static const char *field(const struct fields *f, const struct cols *c, enum col k)
{
	return c->at[k] >= 0 && (size_t)c->at[k] < f->n ? f->v[c->at[k]] : NULL;
}

static long num(const char *s)
{
	return s && *s ? strtol(s, NULL, 10) : 0;
}

static int find_name(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

static void fill_state(const struct fields *f, const struct cols *c, struct hap_srv *s)
{
	const char *addr = field(f, c, C_ADDR);

	s->found = true;
	snprintf(s->addr, sizeof(s->addr), "%s", addr ? addr : "");
	s->port = (unsigned)num(field(f, c, C_PORT));
	s->op = (int)num(field(f, c, C_OP));
	s->admin = (unsigned)num(field(f, c, C_ADMIN));
}

static void fill_stat(const struct fields *f, const struct cols *c, struct hap_srv *s)
{
	s->found = true;
	s->backup = num(field(f, c, C_BCK)) != 0;
	s->sessions = num(field(f, c, C_SCUR)) + num(field(f, c, C_QCUR));
}

typedef void (*fill_fn)(const struct fields *f, const struct cols *c, struct hap_srv *s);

/*
 * Walk ANSWER: the header line starts with HEADER (after an optional
 * version line), fields per SPLIT; every line of BACKEND naming one of
 * NAMES goes through FILL.
 */
static int parse(const char *answer, const char *backend, char *const *names, size_t n,
		 struct hap_srv *srv, const char *header, const char *const colnames[N_COLS],
		 void (*split)(char *, struct fields *), fill_fn fill, char *err, size_t errlen)
{
	char *copy = strdup(answer), *save = NULL, *line;
	struct fields *f = malloc(sizeof(*f));
	struct cols c;
	bool have_header = false;

	for (size_t i = 0; i < n; i++)
		memset(&srv[i], 0, sizeof(srv[i]));
	if (!copy || !f) {
		free(copy);
		free(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!have_header) {
			if (strncmp(line, header, strlen(header)) != 0)
				continue;
			split(line + 2, f);
			find_cols(f, colnames, &c);
			have_header = true;
			continue;
		}
		split(line, f);
		if (f->n == 0 || !field(f, &c, C_BACKEND) ||
		    strcmp(field(f, &c, C_BACKEND), backend) != 0)
			continue;
		{
			int i = find_name(names, n, field(f, &c, C_SERVER));

			if (i >= 0)
				fill(f, &c, &srv[i]);
		}
	}
	free(copy);
	free(f);
	if (!have_header || c.at[C_BACKEND] < 0 || c.at[C_SERVER] < 0) {
		char ex[240];

		hap_answer_excerpt(answer, ex, sizeof(ex));
		snprintf(err, errlen, "haproxy answered \"%s\"", ex);
		return -1;
	}
	return 0;
}

int hap_parse_state(const char *answer, const char *backend, char *const *names, size_t n,
		    struct hap_srv *srv, char *err, size_t errlen)
{
	static const char *const colnames[N_COLS] = {
		[C_BACKEND] = "be_name", [C_SERVER] = "srv_name", [C_ADDR] = "srv_addr",
		[C_PORT] = "srv_port", [C_OP] = "srv_op_state", [C_ADMIN] = "srv_admin_state",
	};

	if (strncmp(answer, STATE_VERSION "\n", 2) != 0) {
		char ex[240];

		hap_answer_excerpt(answer, ex, sizeof(ex));
		snprintf(err, errlen, "haproxy answered \"%s\"", ex);
		return -1;
	}
	return parse(answer, backend, names, n, srv, "# be_id ", colnames, split_spaces,
		     fill_state, err, errlen);
}

int hap_parse_stat(const char *answer, const char *backend, char *const *names, size_t n,
		   struct hap_srv *srv, char *err, size_t errlen)
{
	static const char *const colnames[N_COLS] = {
		[C_BACKEND] = "pxname", [C_SERVER] = "svname", [C_SCUR] = "scur",
		[C_QCUR] = "qcur", [C_BCK] = "bck",
	};

	return parse(answer, backend, names, n, srv, "# pxname,", colnames, split_csv,
		     fill_stat, err, errlen);
}

int hap_save_state(const char *answer, const char *path, char *err, size_t errlen)
{
	size_t len = strlen(answer);
	char e[256];

	/* Only a real state dump may replace the file haproxy starts from. */
	if (strncmp(answer, STATE_VERSION "\n# be_id ", 9) != 0) {
		char ex[240];

		hap_answer_excerpt(answer, ex, sizeof(ex));
		snprintf(err, errlen, "state file %s: not written: haproxy answered \"%s\"",
			 path, ex);
		return -1;
	}
	/* The answer ends with an empty line (the end of a CLI answer); the file does not. */
	while (len > 1 && answer[len - 1] == '\n' && answer[len - 2] == '\n')
		len--;
	if (fs_write_atomic(path, answer, len, 0644, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "state file: %s", e);
		return -1;
	}
	return 0;
}
