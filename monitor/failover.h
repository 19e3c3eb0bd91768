/*
 * monitor/failover.h — the steps of a failover or switchover, each one
 * asynchronous and reporting back to the state machine (machine.c) with
 * EV_STEP_OK or EV_STEP_FAILED.  machine.c calls them as the actions of
 * its transitions; nothing here decides what comes next.
 *
 *   begin      new epoch, journaled durably (failover_started), then
 *              drain (switchover) or fence
 *   drain      every balancer routes to the new node, the old primary left
 *              out; then wait for its in-flight requests (drain_timeout)
 *   fence      the fence hook against the old primary; journal "fenced"
 *   promote    journal promote_started, the promote hook, journal promoted
 *   reconfigure every balancer gets the new roles (fenced nodes left out)
 *   restore    the restore hook against the new primary, then the follow
 *              hook against each other standby (a failure there is
 *              alerted as follow_failed, the failover goes on)
 *   finish / fail  the outcome, journaled and alerted
 */
#ifndef VIGIL_MONITOR_FAILOVER_H
#define VIGIL_MONITOR_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/cluster.h"

void failover_begin(struct mon_cluster *cl, size_t to, const char *reason, bool manual,
		    bool switchover);
void failover_drain(struct mon_cluster *cl);
void failover_fence(struct mon_cluster *cl);
void failover_promote(struct mon_cluster *cl);
void failover_reconfigure(struct mon_cluster *cl);
void failover_restore(struct mon_cluster *cl);
void failover_finish(struct mon_cluster *cl);
void failover_fail(struct mon_cluster *cl, const char *error);

/* Render the current roles into every balancer (start-up, reload, rejoin): not a failover. */
void failover_reroute(struct mon_cluster *cl, const char *reason);
/* Stop a job in flight (shutdown, reload): no callbacks afterwards. */
void failover_abort(struct mon_cluster *cl);

#endif
