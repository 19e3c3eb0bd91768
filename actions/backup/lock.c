/*
 * actions/backup/lock.c — one writer at a time.
 *
 * The lock is the object "lock", created with put_new (link(2) locally:
 * the name appears with its whole content or not at all, so there is never
 * an empty lock to puzzle over).  It says who holds it: pid, host, time,
 * and a random token that lets the holder recognise its own lock.
 *
 * A lock is stale when its pid is dead on this host, or when its time is
 * older than lock_stale_s (a live writer rewrites it every
 * BK_LOCK_REFRESH_S, so only a dead or hung one gets that old; a writer on
 * another host can only be judged by age).  A stale lock is removed and
 * the take-over retried.  Two processes taking over the same stale lock
 * in the same instant could both succeed: the refresh notices a token that
 * is not its own and stops that writer with "lock lost".
 */
#include "actions/backup/repo.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

#define LOCK_NAME "lock"

struct holder {
	long long pid, time;
	char host[256], token[33];
};

static int lock_text(const struct bk_repo *r, char **text, char *err, size_t errlen)
{
	char host[256] = "";
	json_t *j;

	gethostname(host, sizeof(host) - 1);
	j = json_pack("{s:I, s:s, s:I, s:s}", "pid", (json_int_t)getpid(), "host", host, "time",
		      (json_int_t)time(NULL), "token", r->lock_token);
	*text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!*text) {
		err_set(err, errlen, "lock: out of memory");
		return -1;
	}
	return 0;
}

/* Read the current lock: 0, 1 when there is none, -1 when unreadable. */
static int read_holder(struct bk_repo *r, struct holder *h, char *err, size_t errlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	const char *host = NULL, *token = NULL;
	json_t *j;
	int rc = r->store->ops->get(r->store, LOCK_NAME, 4096, &data, &len, err, errlen);

	if (rc != 0)
		return rc;
	j = json_loadb((const char *)data, len, 0, NULL);
	free(data);
	if (!j || json_unpack(j, "{s:I, s:s, s:I, s:s}", "pid", &h->pid, "host", &host, "time",
			      &h->time, "token", &token) < 0) {
		json_decref(j);
		err_set(err, errlen, "lock file %s/lock is unreadable; remove it if no backup is running",
			r->store->where);
		return -1;
	}
	snprintf(h->host, sizeof(h->host), "%s", host);
	snprintf(h->token, sizeof(h->token), "%s", token);
	json_decref(j);
	return 0;
}

static bool holder_stale(const struct bk_repo *r, const struct holder *h, const char **why)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	if (strcmp(host, h->host) == 0 && h->pid > 0 && kill((pid_t)h->pid, 0) < 0 &&
	    errno == ESRCH) {
		*why = "its process is gone";
		return true;
	}
	if ((long long)time(NULL) - h->time > (long long)r->lock_stale_s) {
		*why = "it was not refreshed in time";
		return true;
	}
	return false;
}

/* One attempt: 0 taken, 1 retry (a stale lock was removed), -1 refused. */
static int try_take(struct bk_repo *r, const char *text, char *err, size_t errlen)
{
	struct holder h;
	const char *why = NULL;
	char pid[24];
	int rc = r->store->ops->put_new(r->store, LOCK_NAME, text, strlen(text), err, errlen);

	if (rc <= 0)
		return rc;
	rc = read_holder(r, &h, err, errlen);
	if (rc != 0)
		return rc;
	if (!holder_stale(r, &h, &why)) {
		err_set(err, errlen,
			"repository %s is locked by pid %lld on %s since %lld s ago (stale after %u s)",
			r->store->where, h.pid, h.host, (long long)time(NULL) - h.time,
			r->lock_stale_s);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%lld", h.pid);
	vlog(VLOG_WARNING, "backup", "taking over a stale repository lock", "repository",
	     r->store->where, "pid", pid, "host", h.host, "reason", why, NULL);
	if (r->store->ops->remove(r->store, LOCK_NAME, err, errlen) < 0)
		return -1;
	return 1;
}

int bk_lock_acquire(struct bk_repo *r, char *err, size_t errlen)
{
	uint8_t tok[16];
	char *text = NULL;
	int rc = 1;

	if (r->locked)
		return 0;
	if (bk_random(tok, sizeof(tok), err, errlen) < 0)
		return -1;
	bk_hex(tok, sizeof(tok), r->lock_token);
	if (lock_text(r, &text, err, errlen) < 0)
		return -1;
	for (int attempt = 0; attempt < 3 && rc == 1; attempt++)
		rc = try_take(r, text, err, errlen);
	free(text);
	if (rc == 1)
		err_set(err, errlen, "repository %s: lock keeps changing hands", r->store->where);
	if (rc != 0)
		return -1;
	r->locked = true;
	r->lock_written = (int64_t)(clock_mono_ms() / 1000);
	return 0;
}

int bk_lock_refresh(struct bk_repo *r, char *err, size_t errlen)
{
	int64_t now = (int64_t)(clock_mono_ms() / 1000);
	struct holder h;
	char *text = NULL;
	int rc;

	if (!r->locked || now - r->lock_written < BK_LOCK_REFRESH_S)
		return 0;
	rc = read_holder(r, &h, err, errlen);
	if (rc == 0 && strcmp(h.token, r->lock_token) != 0)
		rc = 1;
	if (rc == 1)
		err_set(err, errlen, "repository %s: lock lost (another writer took it over as stale)",
			r->store->where);
	if (rc != 0 || lock_text(r, &text, err, errlen) < 0)
		return -1;
	rc = r->store->ops->put(r->store, LOCK_NAME, text, strlen(text), err, errlen);
	free(text);
	if (rc == 0)
		r->lock_written = now;
	return rc;
}

void bk_lock_release(struct bk_repo *r)
{
	struct holder h;
	char why[256] = "";

	if (!r->locked)
		return;
	r->locked = false;
	/* Never remove a lock that has become someone else's. */
	if (read_holder(r, &h, why, sizeof(why)) != 0 || strcmp(h.token, r->lock_token) != 0)
		return;
	if (r->store->ops->remove(r->store, LOCK_NAME, why, sizeof(why)) < 0)
		vlog(VLOG_WARNING, "backup", "cannot remove the repository lock", "error", why, NULL);
}
