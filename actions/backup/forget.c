/*
 * actions/backup/forget.c — retention: which snapshots a policy keeps
 * (bk_keep_select, pure, so it can be tested with made-up times) and the
 * removal of the others' manifests (bk_forget).
 *
 * The rules follow restic and borg: walking a group from its newest
 * snapshot back, keep_last takes the first N, and each bucket rule takes
 * a snapshot whenever it falls into a bucket (hour, day, ISO week, month,
 * all UTC) other than the last one that rule took, until it has taken N.
 * So "daily 7" means the newest snapshot of each of the 7 most recent
 * days that have one, however far back those days go.
 *
 * Forgetting only removes manifests; the data goes with bk_prune.  Each
 * removal is one atomic remove, so a forget killed halfway leaves some
 * manifests gone and the rest intact, and running it again finishes it.
 */
#include "actions/backup/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/backup/repo.h"
#include "common/error.h"
#include "common/log.h"

enum { R_HOURLY, R_DAILY, R_WEEKLY, R_MONTHLY, R_COUNT };

static const unsigned rule_bit[R_COUNT] = { BK_KEEP_HOURLY, BK_KEEP_DAILY, BK_KEEP_WEEKLY,
					    BK_KEEP_MONTHLY };

bool bk_keep_policy_empty(const struct bk_keep_policy *p)
{
	return !p || (p->keep_last == 0 && p->keep_hourly == 0 && p->keep_daily == 0 &&
		      p->keep_weekly == 0 && p->keep_monthly == 0);
}

/* Division rounding toward minus infinity: times before 1970 bucket correctly too. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The bucket of one rule that a time falls into; equal numbers, same bucket. */
static int64_t bucket(int rule, int64_t time_ns)
{
	int64_t secs = floor_div(time_ns, 1000000000), days = floor_div(secs, 86400);
	time_t t = (time_t)secs;
	struct tm tm;

	switch (rule) {
	case R_HOURLY:
		return floor_div(secs, 3600);
	case R_DAILY:
		return days;
	case R_WEEKLY:
		/* Day 0 (1970-01-01) was a Thursday; shifted by 3, weeks start on
		 * Monday, as ISO 8601 weeks do (including across a year's end). */
		return floor_div(days + 3, 7);
	default:
		if (!gmtime_r(&t, &tm))
			return floor_div(days, 31); /* beyond what the C library can date */
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	}
}

struct order {
	const int64_t *t;
};

static int newest_first(const void *a, const void *b, void *arg)
{
	const struct order *o = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (o->t[i] != o->t[j])
		return o->t[i] > o->t[j] ? -1 : 1;
	return i > j ? -1 : i < j;
}

int bk_keep_select(const int64_t *time_ns, size_t n, const struct bk_keep_policy *p,
		   unsigned *why)
{
	static const struct bk_keep_policy none;
	const struct bk_keep_policy *q = p ? p : &none;
	unsigned left[R_COUNT] = { q->keep_hourly, q->keep_daily, q->keep_weekly, q->keep_monthly };
	int64_t last[R_COUNT] = { 0 };
	bool have[R_COUNT] = { false };
	struct order o = { .t = time_ns };
	bool all = bk_keep_policy_empty(q);
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));

	if (!idx)
		return -1;
	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
		why[i] = all ? BK_KEEP_ALL : 0;
	}
	qsort_r(idx, n, sizeof(*idx), newest_first, &o);
	for (size_t k = 0; k < n && !all; k++) {
		size_t i = idx[k];

		if (k < q->keep_last)
			why[i] |= BK_KEEP_LAST;
		for (int rule = 0; rule < R_COUNT; rule++) {
			int64_t b = bucket(rule, time_ns[i]);

			if (left[rule] == 0 || (have[rule] && last[rule] == b))
				continue;
			why[i] |= rule_bit[rule];
			last[rule] = b;
			have[rule] = true;
			left[rule]--;
		}
	}
	free(idx);
	return 0;
}

/* ---- bk_forget ---- */

static int by_group(const void *a, const void *b)
{
	const struct bk_snapshot_info *x = a, *y = b;
	int c = strcmp(x->job, y->job);

	if (c == 0)
		c = strcmp(x->source, y->source);
	if (c == 0 && x->time_ns != y->time_ns)
		c = x->time_ns < y->time_ns ? -1 : 1;
	return c ? c : strcmp(x->id, y->id);
}

static bool same_group(const struct bk_snapshot_info *x, const struct bk_snapshot_info *y)
{
	return strcmp(x->job, y->job) == 0 && strcmp(x->source, y->source) == 0;
}

struct forget {
	struct bk_repo *r;
	const struct bk_keep_policy *p;
	bool dry_run;
	bk_forget_fn fn;
	void *arg;
	struct bk_forget_stats *st;
	char *err;
	size_t errlen;
};

static int remove_manifest(struct forget *f, const char *id)
{
	char name[96], why[256] = "";

	snprintf(name, sizeof(name), "snapshots/%s", id);
	if (bk_lock_refresh(f->r, f->err, f->errlen) < 0)
		return -1;
	if (f->r->store->ops->remove(f->r->store, name, why, sizeof(why)) < 0) {
		err_set(f->err, f->errlen, "forget snapshot %.16s: %s", id, why);
		return -1;
	}
	vlog(VLOG_INFO, "backup", "forgot a snapshot", "repository", f->r->store->where,
	     "snapshot", id, NULL);
	return 0;
}

/* One group, list[0..n): select, report, remove. */
static int forget_group(struct forget *f, const struct bk_snapshot_info *list, size_t n)
{
	int64_t *t = malloc(n * sizeof(*t));
	unsigned *why = malloc(n * sizeof(*why));
	int rc = -1;

	if (t && why) {
		for (size_t i = 0; i < n; i++)
			t[i] = list[i].time_ns;
		rc = bk_keep_select(t, n, f->p, why);
	}
	if (rc < 0)
		err_set(f->err, f->errlen, "forget: out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (f->fn)
			f->fn(f->arg, &list[i], why[i]);
		if (why[i]) {
			f->st->kept++;
			continue;
		}
		f->st->removed++;
		if (!f->dry_run)
			rc = remove_manifest(f, list[i].id);
	}
	f->st->groups++;
	free(t);
	free(why);
	return rc;
}

static int forget_all(struct forget *f, const char *job)
{
	struct bk_snapshot_info *list = NULL;
	size_t n = 0, kept = 0, start = 0;
	int rc;

	if (bk_snapshots_list(f->r, &list, &n, f->err, f->errlen) < 0)
		return -1;
	/* Only the job asked for; the others are not even reported. */
	for (size_t i = 0; i < n; i++) {
		if (job && strcmp(list[i].job, job) != 0) {
			free(list[i].host);
			free(list[i].job);
			free(list[i].source);
			continue;
		}
		list[kept++] = list[i];
	}
	qsort(list, kept, sizeof(*list), by_group);
	rc = 0;
	for (size_t i = 1; rc == 0 && i <= kept; i++) {
		if (i < kept && same_group(&list[start], &list[i]))
			continue;
		rc = forget_group(f, list + start, i - start);
		start = i;
	}
	bk_snapshots_free(list, kept);
	return rc;
}

int bk_forget(struct bk_repo *r, const char *job, const struct bk_keep_policy *p, bool dry_run,
	      bk_forget_fn fn, void *arg, struct bk_forget_stats *st, char *err, size_t errlen)
{
	struct bk_forget_stats local = { 0 };
	struct forget f = { .r = r, .p = p, .dry_run = dry_run, .fn = fn, .arg = arg,
			    .st = st ? st : &local, .err = err, .errlen = errlen };
	int rc;

	memset(f.st, 0, sizeof(*f.st));
	if (!dry_run && bk_repo_lock(r, err, errlen) < 0)
		return -1;
	rc = forget_all(&f, job);
	if (!dry_run)
		bk_repo_unlock(r);
	return rc;
}
