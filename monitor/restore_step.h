/*
 * monitor/restore_step.h — the command line of a cluster's built-in
 * restore (conf `restore = { backup = ...; target | command = ...; }`):
 * `vigil restore` of the job's repository, run by the RESTORING step like a
 * hook, so it gets the hook's placeholders, environment, timeout and kill.
 */
#ifndef VIGIL_MONITOR_RESTORE_STEP_H
#define VIGIL_MONITOR_RESTORE_STEP_H

#include "conf/config.h"

/*
 * argv templates (free with tmpl_argv_free) for self (the vigil binary):
 * the repository, key, job and snapshot as literals, the target or the
 * command as the templates the config gave.  NULL when out of memory.
 */
char **restore_step_argv(const struct conf_restore *r, const char *self);

#endif
