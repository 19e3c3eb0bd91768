/*
 * monitor/cli_backup.h — the backup verbs of `vigil` (see cli_backup.c):
 * keygen, init, backup, snapshots, restore, verify.
 */
#ifndef VIGIL_MONITOR_CLI_BACKUP_H
#define VIGIL_MONITOR_CLI_BACKUP_H

#include <stdbool.h>

/* Is argv[1] one of the backup verbs? */
bool cli_backup_verb(const char *verb);
/* argv[0] is the verb; returns the exit status (0, 1, 2). */
int cli_backup_main(int argc, char **argv);

#endif
