/*
 * monitor/cli_drill.h — `vigil drill`: restore the latest snapshot into a
 * scratch directory, every chunk verified, time it, remove it.  A recovery
 * plan that is tested (see cli_drill.c).
 */
#ifndef VIGIL_MONITOR_CLI_DRILL_H
#define VIGIL_MONITOR_CLI_DRILL_H

/* argv[0] is "drill"; returns the exit status (0, 1, 2). */
int cli_drill_main(int argc, char **argv);

#endif
