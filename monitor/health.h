/*
 * monitor/health.h — rise/fall hysteresis for one observer, and how a
 * node's observers combine into one health.
 *
 * An observer starts UNKNOWN.  `rise` consecutive passes make it UP,
 * `fall` consecutive failures make it DOWN; a single result of the other
 * kind only resets the opposite run, so one lost probe never flips an UP
 * node and one lucky probe never revives a DOWN one.
 */
#ifndef VIGIL_MONITOR_HEALTH_H
#define VIGIL_MONITOR_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

enum health_state { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN };

struct health {
	int rise, fall;
	int ok_run;   /* consecutive passes so far */
	int fail_run; /* consecutive failures so far */
	enum health_state state;
};

void health_init(struct health *h, int rise, int fall);
/* Feed one probe result; true when the state changed. */
bool health_feed(struct health *h, bool ok);
/*
 * A node's health from its observers' views: DOWN ("objectively down")
 * when at least `quorum` observers say DOWN, otherwise UP when at least
 * `quorum` say UP, otherwise UNKNOWN.  One broken observer path therefore
 * neither fails a node over nor vouches for it alone.  quorum 0 = majority.
 */
enum health_state health_combine(const enum health_state *states, size_t n, size_t quorum);
/* Subjectively down: at least one observer says DOWN. */
bool health_any_down(const enum health_state *states, size_t n);
/* The default quorum for n observers: a majority. */
size_t health_majority(size_t n);
const char *health_state_name(enum health_state s);

#endif
