/*
 * monitor/failover.h — carrying out a decided failover, step by step, as
 * one job on the loop: promote hook → new roles persisted → every balancer
 * rerouted → alert.  Each step reports back through a callback; nothing
 * here waits.  A failed step ends the job as FAILED and holds the cluster
 * until the operator acts (no automatic retry loop in the skeleton).
 */
#ifndef VIGIL_MONITOR_FAILOVER_H
#define VIGIL_MONITOR_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "monitor/cluster.h"

/* Promote nodes[to]; reason is logged, alerted and passed to hooks. */
void failover_begin(struct mon_cluster *cl, size_t to, const char *reason, bool manual);
/* Render the current roles into every balancer (start-up, reload). */
void failover_reroute(struct mon_cluster *cl, const char *reason);
/* Stop a job in flight (shutdown, reload): no callbacks afterwards. */
void failover_abort(struct mon_cluster *cl);

/*
 * An operator's request: validate (404/409 with a message) and start.
 * to may be NULL (choose the first UP standby).  Returns 0 and the new
 * epoch, or -1 with err and *http_status.  With plan non-NULL nothing is
 * started: *plan gets the steps a failover would take (a dry run).
 */
int failover_request(struct mon_cluster *cl, const char *to, json_t **plan, uint64_t *epoch,
		     char *err, size_t errlen, int *http_status);

#endif
