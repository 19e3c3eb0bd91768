/*
 * monitor/cli_backup.h — the verbs of `vigil` besides running the daemon
 * (see cli_backup.c): keygen, init, backup, snapshots, restore, verify,
 * forget, prune, upgrade, drill, sync — one table dispatches them.
 */
#ifndef VIGIL_MONITOR_CLI_BACKUP_H
#define VIGIL_MONITOR_CLI_BACKUP_H

#include <stdbool.h>
#include <stdio.h>

/* Is argv[1] one of the backup verbs? */
bool cli_backup_verb(const char *verb);
/* "keygen|init|...": every verb, for a usage line. */
void cli_backup_print_verbs(FILE *out);
/* argv[0] is a verb (cli_backup_verb); returns the exit status (0, 1, 2). */
int cli_backup_main(int argc, char **argv);

#endif
