/*
 * monitor/request.h — an operator's failover or switchover order:
 * validated against the nodes (decide_manual) and the state machine (the
 * current state must accept the command), then started, or only planned
 * (a dry run lists the transitions and hooks it would run).
 */
#ifndef VIGIL_MONITOR_REQUEST_H
#define VIGIL_MONITOR_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/cluster.h"
#include "monitor/refusal.h"

struct op_request {
	const char *to;   /* node name, or NULL: the best candidate */
	bool switchover;  /* planned: drain the old primary first */
	bool force;       /* promote even beyond max_lag */
	bool dry_run;     /* only return the plan */
};

/*
 * 0 with *epoch (the new epoch; with dry_run *plan gets the steps), or -1
 * with err and *refusal (unknown node, or not now).
 */
int op_request_run(struct mon_cluster *cl, const struct op_request *req, json_t **plan,
		   uint64_t *epoch, char *err, size_t errlen, enum refusal *refusal);

#endif
