/*
 * monitor/cli_sync.h — `vigil sync`: mirror a repository onto another
 * store, offsite or local (see cli_sync.c).
 */
#ifndef VIGIL_MONITOR_CLI_SYNC_H
#define VIGIL_MONITOR_CLI_SYNC_H

/* argv[0] is "sync"; returns the exit status (0, 1, 2). */
int cli_sync_main(int argc, char **argv);

#endif
