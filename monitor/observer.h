/*
 * monitor/observer.h — a cluster's observers (observer.c): each one probe
 * of one node with its own rise/fall, scheduled on the loop; their votes
 * make the node's health.
 */
#ifndef VIGIL_MONITOR_OBSERVER_H
#define VIGIL_MONITOR_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "monitor/cluster.h"

/* Set up observer p of node (its probe and timer); 0 or -1 with err. */
int observer_init(struct mon_cluster *cl, struct mon_observer *o, size_t node, size_t p,
		  char *err, size_t errlen);
void observer_start(struct mon_observer *o);
void observer_free(struct mon_observer *o);
/* Recount a node's votes; log node_up/node_down on a change.  True when it changed. */
bool observer_node_update(struct mon_cluster *cl, size_t idx);

#endif
