/*
 * actions/backup/sync_base.c — what both halves of a sync (sync.c, which
 * compares, and sync_copy.c, which copies) use: the objects' names, the
 * failure message, the caller's progress, and keeping both locks fresh.
 */
#include "actions/backup/sync_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/error.h"

static const char *const kind_dir[BK_SK_N] = { "data", "index", "snapshots" };

const char *bk_sync_dir(enum bk_sync_kind k)
{
	return kind_dir[k];
}

void bk_sync_name(enum bk_sync_kind k, const uint8_t id[BK_ID_LEN], char *out, size_t len)
{
	char hex[BK_ID_HEX];

	bk_hex(id, BK_ID_LEN, hex);
	if (k == BK_SK_PACK)
		bk_pack_name(hex, out, len);
	else
		snprintf(out, len, "%s/%s", kind_dir[k], hex);
}

int bk_sync_fail(struct bk_syncer *s, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(s->err, s->errlen, "sync to %s: %s", s->where, msg);
	return -1;
}

int bk_sync_step(struct bk_syncer *s, enum bk_sync_step step, const char *name)
{
	if (s->o->progress && s->o->progress(s->o->arg, step, name) != 0)
		return bk_sync_fail(s, "stopped by the caller after %s", name);
	return 0;
}

int bk_sync_refresh(struct bk_syncer *s, bool force)
{
	char why[512] = "";

	/* Forcing moves the last write back so lock.c rewrites (and checks) it now. */
	if (force) {
		s->r->lock_written -= BK_LOCK_REFRESH_S;
		s->tlock.lock_written -= BK_LOCK_REFRESH_S;
	}
	if (bk_lock_refresh(s->r, why, sizeof(why)) < 0 ||
	    bk_lock_refresh(&s->tlock, why, sizeof(why)) < 0)
		return bk_sync_fail(s, "%s", why);
	return 0;
}
