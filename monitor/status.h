/*
 * monitor/status.h — the status document: built from the running clusters
 * by the daemon (GET /v1/status) and printed as a table by vigilctl.
 */
#ifndef VIGIL_MONITOR_STATUS_H
#define VIGIL_MONITOR_STATUS_H

#include <jansson.h>
#include <stdio.h>

#include "monitor/cluster.h"

/* "none", "running", "ok", "failed". */
const char *fo_result_name(enum fo_result r);
/* New references; NULL only when out of memory. */
json_t *status_cluster_json(const struct mon_cluster *cl);
json_t *status_json(struct mon_cluster *const *clusters, size_t n);

/*
 * Print the document as a table: CLUSTER NODE ROLE HEALTH LATENCY SINCE
 * OBSERVERS (each observer's view),
 * one row per node, then one line per cluster with its state, epoch and
 * last failover.  -1 with err when the document is not a status document.
 */
int status_print_table(FILE *out, const json_t *status, char *err, size_t errlen);

#endif
