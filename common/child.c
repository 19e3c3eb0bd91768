/*
 * common/child.c — child processes on the event loop.
 *
 * Each child gets its own process group (so a timeout or cancel kills
 * whatever it started too), /dev/null for stdin and one non-blocking pipe
 * for stdout+stderr.  SIGCHLD arrives as a libevent signal event; its
 * handler reaps with WNOHANG until nothing is left, since signals coalesce.
 * A child is finished at its reap: whatever it wrote is in the pipe by then,
 * so we drain what is readable and report, rather than waiting for an EOF
 * that a grandchild holding the pipe could delay forever.
 */
#include "common/child.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fdlimit.h"
#include "common/log.h"

#define CHILD_BUCKETS 64
/* Reads per drain at reap: a grandchild still writing must not pin us. */
#define CHILD_DRAIN_READS 16

extern char **environ;

struct child {
	struct child_runner *r;
	pid_t pid;
	int fd; /* read end of the output pipe, -1 once at EOF */
	struct event *rd;
	struct event *timer;
	child_done_fn cb;
	void *arg;
	bool timed_out;
	bool finishing; /* callback running: cancel is a no-op */
	uint64_t start_ms;
	size_t out_len;
	char out[CHILD_OUTPUT_MAX + 1];
	struct child *prev, *next; /* hash bucket by pid */
};

struct child_runner {
	struct event_base *base;
	struct event *sigchld;
	struct child *buckets[CHILD_BUCKETS];
	size_t active;
};

static struct child **bucket(struct child_runner *r, pid_t pid)
{
	return &r->buckets[(unsigned)pid % CHILD_BUCKETS];
}

static void link_child(struct child *c)
{
	struct child **head = bucket(c->r, c->pid);

	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
	c->r->active++;
}

static void unlink_child(struct child *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		*bucket(c->r, c->pid) = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->r->active--;
}

static struct child *find_child(struct child_runner *r, pid_t pid)
{
	for (struct child *c = *bucket(r, pid); c != NULL; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

static void close_output(struct child *c)
{
	if (c->rd != NULL) {
		event_free(c->rd);
		c->rd = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Release everything but the struct itself; the child must be unlinked. */
static void child_release(struct child *c)
{
	close_output(c);
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
}

/*
 * Read what the pipe has now, keeping the first CHILD_OUTPUT_MAX bytes.
 * Past that we keep reading and discard, so a chatty child never blocks on
 * a full pipe.  Returns after max_reads reads, at EAGAIN, or at EOF.
 */
static void drain(struct child *c, int max_reads)
{
	char buf[4096];

	for (int i = 0; c->fd >= 0 && i < max_reads; i++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close_output(c);
			return;
		}
		size_t room = CHILD_OUTPUT_MAX - c->out_len;
		size_t keep = (size_t)n < room ? (size_t)n : room;
		memcpy(c->out + c->out_len, buf, keep);
		c->out_len += keep;
	}
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain(arg, 4);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	c->timed_out = true;
	/* The reap follows through SIGCHLD; the group goes with the leader. */
	kill(-c->pid, SIGKILL);
}

/* The child was reaped with STATUS: report once, then forget it. */
static void child_finish(struct child *c, int status)
{
	struct child_result res;

	drain(c, CHILD_DRAIN_READS);
	unlink_child(c);
	child_release(c);
	c->out[c->out_len] = '\0';
	memset(&res, 0, sizeof(res));
	res.exited = WIFEXITED(status);
	res.exit_code = res.exited ? WEXITSTATUS(status) : 0;
	res.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	res.timed_out = c->timed_out;
	res.output = c->out;
	res.output_len = c->out_len;
	res.duration_ms = clock_mono_ms() - c->start_ms;
	c->finishing = true;
	c->cb(c->arg, &res);
	free(c);
}

/*
 * Reap everything that has exited.  A pid we do not know belongs to a
 * cancelled child (freed already) and is absorbed here.  Callbacks may
 * spawn or cancel children: each reap looks its pid up afresh.
 */
static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct child_runner *r = arg;
	int status;
	pid_t pid;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = find_child(r, pid);
		if (c != NULL)
			child_finish(c, status);
	}
}

struct child_runner *child_runner_new(struct event_base *base, char *err, size_t errlen)
{
	struct child_runner *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		err_set(err, errlen, "child runner: out of memory");
		return NULL;
	}
	r->base = base;
	r->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, r);
	if (r->sigchld == NULL || evsignal_add(r->sigchld, NULL) < 0) {
		err_set(err, errlen, "child runner: cannot watch SIGCHLD");
		child_runner_free(r);
		return NULL;
	}
	return r;
}

void child_runner_free(struct child_runner *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < CHILD_BUCKETS; i++) {
		while (r->buckets[i] != NULL) {
			struct child *c = r->buckets[i];
			kill(-c->pid, SIGKILL);
			/* SIGKILLed: this wait is short even though it blocks. */
			while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
				;
			unlink_child(c);
			child_release(c);
			free(c);
		}
	}
	/* Absorb cancelled children that have not been reaped yet. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (r->sigchld != NULL)
		event_free(r->sigchld);
	free(r);
}

/* True when entry "KEY=..." has the same KEY as some entry of extra. */
static bool overridden(const char *entry, char *const extra[])
{
	size_t klen = strcspn(entry, "=");

	for (size_t i = 0; extra[i] != NULL; i++)
		if (strncmp(entry, extra[i], klen) == 0 && extra[i][klen] == '=')
			return true;
	return false;
}

/* environ plus env_extra, extra winning on equal keys.  Pointers only. */
static char **build_env(char *const extra[])
{
	size_t n_env = 0, n_extra = 0, n = 0;

	while (environ != NULL && environ[n_env] != NULL)
		n_env++;
	while (extra[n_extra] != NULL)
		n_extra++;
	char **env = calloc(n_env + n_extra + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n_env; i++)
		if (!overridden(environ[i], extra))
			env[n++] = environ[i];
	for (size_t i = 0; i < n_extra; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	return env;
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

/* Close every fd from 3 up; close_range is one syscall where it exists. */
static void close_from_3(void)
{
	struct rlimit rl;

	if (close_range(3, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 65536)
		rl.rlim_cur = 65536;
	for (int fd = 3; fd < (int)rl.rlim_cur; fd++)
		close(fd);
}

/*
 * In the forked child: only async-signal-safe work from here on (the env
 * array was built before the fork).  Any failure is told on the pipe and
 * ends in exit 127, the shell's "command not found" status.
 */
static void __attribute__((noreturn))
exec_child(int out_fd, char *const argv[], char *const envp[])
{
	const char *what = "exec ";
	sigset_t none;

	/* Handlers installed by the parent (libevent's SIGCHLD) must not run here. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	/* Move the pipe above 2 so the dup2s below cannot clobber it. */
	if (out_fd < 3)
		out_fd = fcntl(out_fd, F_DUPFD, 3);
	int nul = open("/dev/null", O_RDONLY);
	if (out_fd < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	if (nul < 0 || dup2(nul, 0) < 0) {
		what = "open /dev/null for ";
	} else {
		close_from_3();
		execvpe(argv[0], argv, envp);
	}
	write_all(2, what);
	write_all(2, argv[0]);
	write_all(2, ": ");
	write_all(2, strerror(errno));
	write_all(2, "\n");
	_exit(127);
}

/* The parent's half after fork: watch the pipe, arm the timeout, track. */
static int child_watch(struct child *c, uint64_t timeout_ms, char *err, size_t errlen)
{
	struct child_runner *r = c->r;

	c->rd = event_new(r->base, c->fd, EV_READ | EV_PERSIST, on_output, c);
	c->timer = evtimer_new(r->base, on_timeout, c);
	if (c->rd == NULL || c->timer == NULL || event_add(c->rd, NULL) < 0) {
		err_set(err, errlen, "spawn: cannot create events");
		return -1;
	}
	if (timeout_ms > 0) {
		struct timeval tv = clock_tv_ms(timeout_ms);
		if (evtimer_add(c->timer, &tv) < 0) {
			err_set(err, errlen, "spawn: cannot arm timeout");
			return -1;
		}
	}
	link_child(c);
	return 0;
}

/* Fork with every signal blocked so no parent handler runs in the child. */
static pid_t fork_child(int out_fd, char *const argv[], char *const envp[])
{
	sigset_t all, old;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		exec_child(out_fd, argv, envp);
	int saved = errno;
	if (pid > 0)
		/* Also here, so a kill(-pid) right after spawn finds the group. */
		setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

/* The pipe: read end non-blocking for the loop, write end blocking for the child. */
static int open_pipe(int p[2], char *err, size_t errlen)
{
	char why[64];

	if (pipe2(p, O_CLOEXEC) < 0) {
		err_set(err, errlen, "spawn: pipe: %s", fd_errno_text(errno, why, sizeof(why)));
		return -1;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		err_set(err, errlen, "spawn: pipe: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	return 0;
}

struct child *child_spawn(struct child_runner *r, char *const argv[],
			  char *const env_extra[], uint64_t timeout_ms,
			  child_done_fn cb, void *arg, char *err, size_t errlen)
{
	int p[2];
	char **env = NULL;

	if (argv == NULL || argv[0] == NULL || cb == NULL) {
		err_set(err, errlen, "spawn: empty command");
		return NULL;
	}
	struct child *c = calloc(1, sizeof(*c));
	if (c == NULL || (env_extra != NULL && (env = build_env(env_extra)) == NULL)) {
		err_set(err, errlen, "spawn: out of memory");
		free(c);
		return NULL;
	}
	if (open_pipe(p, err, errlen) < 0) {
		free(env);
		free(c);
		return NULL;
	}
	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->fd = p[0];
	c->start_ms = clock_mono_ms();
	c->pid = fork_child(p[1], argv, env != NULL ? env : environ);
	int saved = errno;
	close(p[1]);
	free(env);
	char why[64];

	if (c->pid < 0)
		err_set(err, errlen, "spawn: fork: %s", fd_errno_text(saved, why, sizeof(why)));
	else if (child_watch(c, timeout_ms, err, errlen) == 0)
		return c;
	else
		/* Never linked: its reap is absorbed as an unknown pid. */
		kill(-c->pid, SIGKILL);
	child_release(c);
	free(c);
	return NULL;
}

void child_cancel(struct child *c)
{
	if (c == NULL || c->finishing)
		return;
	kill(-c->pid, SIGKILL);
	unlink_child(c);
	child_release(c);
	free(c);
}

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

size_t child_runner_active(const struct child_runner *r)
{
	return r->active;
}

void child_result_describe(const struct child_result *res, char *buf, size_t len)
{
	if (res->timed_out)
		snprintf(buf, len, "timed out after %llu ms",
			 (unsigned long long)res->duration_ms);
	else if (res->exited)
		snprintf(buf, len, "exit %d", res->exit_code);
	else if (res->term_signal != 0)
		snprintf(buf, len, "killed by signal %d", res->term_signal);
	else
		snprintf(buf, len, "ended abnormally");
}

void child_output_excerpt(const char *out, char *buf, size_t len)
{
	size_t j = 0;
	bool sep = false;

	for (; out && *out && j + 4 < len; out++) {
		unsigned char c = (unsigned char)*out;

		if (c == '\n' || c == '\r') {
			sep = j > 0;
			continue;
		}
		if (sep) {
			buf[j++] = ';';
			buf[j++] = ' ';
			sep = false;
		}
		buf[j++] = c < 0x20 ? ' ' : (char)c;
	}
	buf[j] = '\0';
}
