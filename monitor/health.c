/* monitor/health.c — rise/fall counters (see health.h). */
#include "monitor/health.h"

void health_init(struct health *h, int rise, int fall)
{
	h->rise = rise > 0 ? rise : 1;
	h->fall = fall > 0 ? fall : 1;
	h->ok_run = 0;
	h->fail_run = 0;
	h->state = HEALTH_UNKNOWN;
}

bool health_feed(struct health *h, bool ok)
{
	enum health_state before = h->state;

	if (ok) {
		h->fail_run = 0;
		if (h->ok_run < h->rise)
			h->ok_run++;
		if (h->ok_run >= h->rise)
			h->state = HEALTH_UP;
	} else {
		h->ok_run = 0;
		if (h->fail_run < h->fall)
			h->fail_run++;
		if (h->fail_run >= h->fall)
			h->state = HEALTH_DOWN;
	}
	return h->state != before;
}

size_t health_majority(size_t n)
{
	return n / 2 + 1;
}

enum health_state health_combine(const enum health_state *states, size_t n, size_t quorum)
{
	size_t up = 0, down = 0;

	if (quorum == 0)
		quorum = health_majority(n);
	for (size_t i = 0; i < n; i++) {
		if (states[i] == HEALTH_DOWN)
			down++;
		else if (states[i] == HEALTH_UP)
			up++;
	}
	if (n == 0)
		return HEALTH_UNKNOWN;
	if (down >= quorum)
		return HEALTH_DOWN;
	return up >= quorum ? HEALTH_UP : HEALTH_UNKNOWN;
}

bool health_any_down(const enum health_state *states, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (states[i] == HEALTH_DOWN)
			return true;
	return false;
}

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	case HEALTH_UNKNOWN:
		break;
	}
	return "unknown";
}
