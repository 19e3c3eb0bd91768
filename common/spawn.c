/* common/spawn.c — a command with a pipe to it or from it (see spawn.h). */
#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"

extern char **environ;

/* The child's side: the pipe end on fd 0 or 1, /dev/null for its input when it writes. */
static int set_actions(posix_spawn_file_actions_t *fa, enum spawn_pipe dir, const int p[2])
{
	int theirs = dir == SPAWN_READ_STDOUT ? p[1] : p[0];
	int target = dir == SPAWN_READ_STDOUT ? STDOUT_FILENO : STDIN_FILENO;

	if (posix_spawn_file_actions_adddup2(fa, theirs, target) != 0)
		return -1;
	if (dir == SPAWN_READ_STDOUT &&
	    posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0)
		return -1;
	return 0;
}

pid_t spawn_piped(char *const argv[], enum spawn_pipe dir, int *fd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int p[2], rc;

	if (!argv || !argv[0]) {
		err_set(err, errlen, "no command given");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		err_set(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0) {
		if (set_actions(&fa, dir, p) < 0)
			rc = ENOMEM;
		if (rc == 0)
			rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (rc != 0) {
		err_set(err, errlen, "run %s: %s", argv[0], strerror(rc));
		pid = -1;
	}
	close(dir == SPAWN_READ_STDOUT ? p[1] : p[0]);
	*fd = dir == SPAWN_READ_STDOUT ? p[0] : p[1];
	if (pid < 0) {
		close(*fd);
		*fd = -1;
	}
	return pid;
}

int spawn_wait(pid_t pid, const char *name, char *err, size_t errlen)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err_set(err, errlen, "wait for %s: %s", name, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		err_set(err, errlen, "%s exited with status %d", name, WEXITSTATUS(status));
	else
		err_set(err, errlen, "%s was killed by signal %d", name,
			WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}
