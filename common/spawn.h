/*
 * common/spawn.h — a command with a pipe to it or from it, for the
 * command-line verbs (`vigil backup --command`, `vigil restore --command`).
 * waitpid blocks: never use this on the daemon's event loop (the daemon
 * has common/child.h for that).
 *
 * argv is executed as given (PATH searched for argv[0]), never through a
 * shell.  The child's other standard streams are inherited, except that
 * a command whose output is read gets /dev/null as its input.
 */
#ifndef VIGIL_COMMON_SPAWN_H
#define VIGIL_COMMON_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum spawn_pipe { SPAWN_READ_STDOUT, SPAWN_WRITE_STDIN };

/* Start argv; our end of the pipe into *fd (close-on-exec).  -1 with err. */
pid_t spawn_piped(char *const argv[], enum spawn_pipe dir, int *fd, char *err, size_t errlen);
/*
 * Wait for pid: 0 when it exited with status 0, else -1 with err saying
 * how it ended ("pg_dump exited with status 1", "... killed by signal 9").
 */
int spawn_wait(pid_t pid, const char *name, char *err, size_t errlen);

#endif
