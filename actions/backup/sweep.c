/*
 * actions/backup/sweep.c — the walk behind sweep.h.
 *
 * Depth first through directory descriptors (openat with O_NOFOLLOW, then
 * unlinkat relative to the parent): a symlink is an entry like any other,
 * removed or kept, never followed, so a link to / inside the target cannot
 * lead the walk out of it.  A directory is emptied of what is not kept
 * before it is itself removed (when it is not kept either).
 */
#include "actions/backup/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

struct sweep {
	const struct bk_tab *keep;
	dev_t dev;
	bk_problem_fn problem;
	void *arg;
	uint64_t removed;
	char rel[PATH_MAX]; /* the current entry's path relative to the target */
	char *err;
	size_t errlen;
};

void bk_sweep_key(const char *rel, uint8_t key[BK_ID_LEN])
{
	bk_sha256(rel, strlen(rel), key);
}

static bool kept(const struct sweep *s)
{
	uint8_t key[BK_ID_LEN];

	bk_sweep_key(s->rel, key);
	return bk_tab_find(s->keep, key) != NULL;
}

static int fail(struct sweep *s, const char *what)
{
	err_set(s->err, s->errlen, "remove what the snapshot does not hold: %s %s: %s", what,
		s->rel, strerror(errno));
	return -1;
}

static int sweep_dir(struct sweep *s, int dfd);

/* One entry of the directory dfd, named name, whose path s->rel already holds. */
static int sweep_entry(struct sweep *s, int dfd, const char *name)
{
	struct stat st;
	bool keep = kept(s);
	int sub, rc;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : fail(s, "stat");
	if (!S_ISDIR(st.st_mode)) {
		if (keep)
			return 0;
		if (unlinkat(dfd, name, 0) < 0)
			return fail(s, "unlink");
		s->removed++;
		return 0;
	}
	if (st.st_dev != s->dev) {
		char msg[PATH_MAX + 96];

		snprintf(msg, sizeof(msg), "left %s alone: another file system is mounted there",
			 s->rel);
		if (s->problem)
			s->problem(s->arg, msg);
		return 0;
	}
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return fail(s, "open");
	rc = sweep_dir(s, sub); /* closes sub */
	if (rc == 0 && !keep) {
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
			return fail(s, "rmdir");
		s->removed++;
	}
	return rc;
}

/* Every entry of the directory dfd (whose path is s->rel); closes dfd. */
static int sweep_dir(struct sweep *s, int dfd)
{
	size_t base = strlen(s->rel);
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(dfd);
		return fail(s, "read");
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(s->rel + base, sizeof(s->rel) - base, "%s%s", base ? "/" : "",
			     de->d_name) >= (int)(sizeof(s->rel) - base)) {
			errno = ENAMETOOLONG;
			rc = fail(s, "walk");
		} else {
			rc = sweep_entry(s, dirfd(d), de->d_name);
		}
		s->rel[base] = '\0';
	}
	if (rc == 0 && errno != 0)
		rc = fail(s, "read");
	closedir(d);
	return rc;
}

int bk_sweep(const char *target, const struct bk_tab *keep, bk_problem_fn problem, void *arg,
	     uint64_t *removed, char *err, size_t errlen)
{
	struct sweep s = { .keep = keep, .problem = problem, .arg = arg, .err = err,
			   .errlen = errlen };
	struct stat st;
	int fd = open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	*removed = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err_set(err, errlen, "remove what the snapshot does not hold: open %s: %s", target,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s.dev = st.st_dev;
	rc = sweep_dir(&s, fd);
	*removed = s.removed;
	return rc;
}
