/*
 * monitor/cli_backup_maint.h — the repository upkeep verbs of `vigil`
 * (see cli_backup_maint.c): forget and prune.
 */
#ifndef VIGIL_MONITOR_CLI_BACKUP_MAINT_H
#define VIGIL_MONITOR_CLI_BACKUP_MAINT_H

#include <stdbool.h>

/* Is verb "forget" or "prune"? */
bool cli_backup_maint_verb(const char *verb);
/* argv[0] is the verb; returns the exit status (0, 1, 2). */
int cli_backup_maint_main(int argc, char **argv);

#endif
