/*
 * conf/load_int.h — the loader's own split: conf/load.c reads the file,
 * nodes, probes and cluster policy; conf/load_balancer.c and load_alert.c read what a
 * cluster acts with (balancers, hooks, alerts).  Both report through the
 * getters of conf/load_util.h.
 */
#ifndef VIGIL_CONF_LOAD_INT_H
#define VIGIL_CONF_LOAD_INT_H

#include "conf/config.h"
#include "conf/load_util.h"

/* The placeholders a hook argv may use (and the built-in restore's target and command). */
extern const char *const conf_hook_vars[];
extern const size_t conf_n_hook_vars;

void conf_load_balancers(const struct lgrp *g, struct conf_cluster *c);
void conf_load_hooks(const struct lgrp *cg, struct conf_hooks *h);
void conf_load_alerts(const struct lgrp *g, struct conf_alert **alerts, size_t *n_alerts);
/* The top-level `backups` list (conf/load_backup.c). */
void conf_load_backups(const struct lgrp *top, struct config *cfg);
/* A cluster's built-in `restore` (conf/load_restore.c), checked against the backups once loaded. */
void conf_load_restore(const struct lgrp *cg, struct conf_cluster *c);
void conf_check_restores(const struct lgrp *top, struct config *cfg);

#endif
