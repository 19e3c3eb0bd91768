/* tests/unit/unit_util.c — helpers the unit test programs share. */
#include "tests/unit/unit_util.h"

#include <check.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>

#include "common/clock.h"

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

bool unit_run_until(struct event_base *base, const int *count, int want, uint64_t ms)
{
	bool expired = false;
	struct event *t = evtimer_new(base, on_deadline, &expired);
	struct timeval tv = clock_tv_ms(ms);

	ck_assert_ptr_nonnull(t);
	evtimer_add(t, &tv);
	while (!expired && (count == NULL || *count < want))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return count != NULL && *count >= want;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void unit_rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
