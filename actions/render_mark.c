/* actions/render_mark.c — the roles line of a rendered file (see render_mark.h). */
#include "actions/render_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"

#define MARK_HEAD "# Managed by vigil: do not edit. Cluster "
/* Names are letters, digits, '_', '.' and '-' (conf/load_util.c). */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

void render_mark_write(FILE *f, const char *cluster, const char *primary, uint64_t epoch)
{
	fprintf(f, MARK_HEAD "%s, primary %s, epoch %" PRIu64 ".\n", cluster, primary, epoch);
}

/* A name at *p (copied into out), *p moved past it; -1 when empty or too long. */
static int take_name(const char **p, const char *end, char *out)
{
	size_t n = 0;

	while (*p + n < end && strchr(NAME_CHARS, (*p)[n]) && (*p)[n])
		n++;
	if (n == 0 || n >= RENDER_MARK_NAME)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return 0;
}

static bool take(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

int render_mark_parse(const char *line, size_t len, struct render_mark *m)
{
	const char *p = line, *end = line + len;
	size_t n;
	char *stop;

	memset(m, 0, sizeof(*m));
	if (!take(&p, end, MARK_HEAD) || take_name(&p, end, m->cluster) < 0 ||
	    !take(&p, end, ", primary ") || take_name(&p, end, m->primary) < 0)
		return -1;
	if (p == end) {
		/* Before epochs: "primary b." — the name took the final dot along. */
		n = strlen(m->primary);
		if (n < 2 || m->primary[n - 1] != '.')
			return -1;
		m->primary[n - 1] = '\0';
		return 0;
	}
	if (!take(&p, end, ", epoch ") || p == end || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	m->epoch = strtoull(p, &stop, 10);
	if (errno || stop + 1 != end || *stop != '.')
		return -1;
	m->has_epoch = true;
	return 0;
}

int render_mark_read(const char *path, struct render_mark *m, char *err, size_t errlen)
{
	char buf[512];
	ssize_t got;
	char *nl;
	bool missing;
	int fd = fs_open_regular(path, O_RDONLY, 0, &missing, err, errlen);

	if (fd < 0)
		return missing ? 0 : -1;
	do
		got = pread(fd, buf, sizeof(buf) - 1, 0);
	while (got < 0 && errno == EINTR);
	close(fd);
	if (got < 0) {
		err_set(err, errlen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	buf[got] = '\0';
	nl = memchr(buf, '\n', (size_t)got);
	return render_mark_parse(buf, nl ? (size_t)(nl - buf) : (size_t)got, m) == 0 ? 1 : 0;
}
