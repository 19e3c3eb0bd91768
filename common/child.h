/*
 * common/child.h — run child processes from the event loop without waiting.
 *
 * A child is started from an argv with execve semantics (no shell), in its
 * own process group, with stdin on /dev/null and stdout+stderr captured
 * (first CHILD_OUTPUT_MAX bytes kept).  Exit is noticed through SIGCHLD on
 * the libevent base; a timeout kills the whole group with SIGKILL.  The
 * callback runs exactly once per child unless child_cancel() came first.
 *
 * Only one child_runner may exist per process (it owns SIGCHLD).
 */
#ifndef VIGIL_COMMON_CHILD_H
#define VIGIL_COMMON_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct child_runner;
struct child;

#define CHILD_OUTPUT_MAX 4096

struct child_result {
	bool exited;     /* normal exit: exit_code is valid */
	int exit_code;
	int term_signal; /* killed by this signal, 0 if exited */
	bool timed_out;  /* we killed it at the timeout */
	const char *output; /* captured stdout+stderr, NUL-terminated, maybe truncated */
	size_t output_len;
	uint64_t duration_ms;
};

typedef void (*child_done_fn)(void *arg, const struct child_result *res);

struct child_runner *child_runner_new(struct event_base *base, char *err, size_t errlen);
/* Kills (SIGKILL) and reaps every running child; no callbacks fire. */
void child_runner_free(struct child_runner *r);

/*
 * Start ARGV.  argv[0] is run through execvp (PATH lookup) so that configs
 * may say "nginx".  env_extra is a NULL-terminated list of "KEY=VALUE"
 * added to the inherited environment (may be NULL).  timeout_ms 0 = none.
 * Returns a handle valid until the callback has run, or NULL with err set.
 */
struct child *child_spawn(struct child_runner *r, char *const argv[],
			  char *const env_extra[], uint64_t timeout_ms,
			  child_done_fn cb, void *arg, char *err, size_t errlen);
/* Kill the child's group and forget it: its callback will not run. */
void child_cancel(struct child *c);
pid_t child_pid(const struct child *c);
/* Number of children still running (for tests and shutdown). */
size_t child_runner_active(const struct child_runner *r);

/* The start of a child's output on one line (line breaks become "; "), for error texts. */
void child_output_excerpt(const char *out, char *buf, size_t len);
/* "exit 3", "killed by signal 9", "timed out after 150 ms". */
void child_result_describe(const struct child_result *res, char *buf, size_t len);

#endif
