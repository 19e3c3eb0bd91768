/*
 * monitor/daemon.h — the daemon: one libevent base, the shared curl loop and
 * child runner, the running clusters of the current config generation, the
 * control API, signals (TERM/INT stop, HUP reloads).
 */
#ifndef VIGIL_MONITOR_DAEMON_H
#define VIGIL_MONITOR_DAEMON_H

#include <stddef.h>

#include "conf/config.h"
#include "monitor/cluster.h"

struct mon_daemon;

/*
 * Run until SIGTERM/SIGINT.  Takes ownership of cfg.  Returns the process
 * exit status: 0 after a clean stop, 1 when start-up failed.
 */
int daemon_run(const char *config_path, struct config *cfg);

/* The running clusters (valid until the next reload). */
size_t daemon_clusters(const struct mon_daemon *d, struct mon_cluster *const **out);
struct mon_cluster *daemon_find_cluster(const struct mon_daemon *d, const char *name);
const char *daemon_journal_path(const struct mon_daemon *d);
/* The scheduled backup jobs (monitor/backup_jobs.h). */
struct backup_set *daemon_backups(const struct mon_daemon *d);

#endif
