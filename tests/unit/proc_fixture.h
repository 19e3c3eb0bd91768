/*
 * tests/unit/proc_fixture.h — what the balancer tests share: the loop and
 * child runner they run on, an apply or drain run to its end, HTTP
 * backends and clients on the test's own loop, and the processes a test
 * starts (nginx, haproxy, a `sleep` posing as a worker).
 *
 * Tests block and spin the loop with bounded deadlines; every helper
 * asserts, so a test reads as a list of steps.
 */
#ifndef VIGIL_TESTS_UNIT_PROC_FIXTURE_H
#define VIGIL_TESTS_UNIT_PROC_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/balancer.h"

struct event_base;
struct event;

/* ---- the loop ---- */

struct pf_loop {
	struct event_base *base;
	struct child_runner *runner;
	struct event *tick; /* a heartbeat, so EVLOOP_ONCE returns and deadlines are checked */
	struct act_env env; /* base and runner, for balancer_new */
};

void pf_loop_init(struct pf_loop *l);
void pf_loop_free(struct pf_loop *l);
/* Run the loop until *flag or ms pass. */
void pf_run(struct event_base *base, const bool *flag, uint64_t ms);

/* ---- files ---- */

void pf_write(const char *path, const char *text, mode_t mode);
/* PATH's bytes (NUL-terminated, *len without it; len may be NULL), "" when missing. */
char *pf_slurp(const char *path, size_t *len);

/* ---- balancer calls run to their end ---- */

struct pf_client;

struct pf_outcome {
	bool done, ok;
	int calls;
	char error[1024];
	uint64_t at;      /* clock_mono_ms() when cb ran */
	bool client_done; /* pf_watched had its whole answer when cb ran */
};

/* Set around a call: its callback running inside the call fails the test. */
extern bool pf_in_call;
/* A client whose answer pf_on_done looks at, the moment the callback runs. */
extern struct pf_client *pf_watched;
/* An act_done_fn filling the struct pf_outcome ARG. */
void pf_on_done(void *arg, bool ok, const char *error);

struct balancer *pf_balancer(const struct act_env *env, const struct conf_balancer *c);
/* Apply (accepted, cb not inside, busy until cb), wait up to ms; exactly one cb. */
struct pf_outcome pf_apply(struct event_base *base, struct balancer *b,
			   const struct conf_cluster *cl, const struct balancer_roles *roles,
			   uint64_t ms);
/* The same, and the apply must succeed. */
void pf_apply_ok(struct event_base *base, struct balancer *b, const struct conf_cluster *cl,
		 const struct balancer_roles *roles);
/* Drain (accepted, cb not inside, draining until cb), wait up to ms; exactly one cb. */
struct pf_outcome pf_drain(struct event_base *base, struct balancer *b, uint64_t timeout_ms,
			   uint64_t ms);

/* ---- HTTP backends and clients, on the test's loop ---- */

#define PF_MAX_CONNS 16

/* A backend that answers every request with BODY, DELAY_MS after it came in. */
struct pf_backend {
	struct event_base *base;
	int fd, port;
	struct event *acc;
	uint64_t delay_ms;
	const char *body;
	int accepted, answered;
	struct pf_conn {
		int fd;
		struct event *ev; /* NULL: slot free */
		struct pf_backend *be;
	} conns[PF_MAX_CONNS];
};

void pf_backend_start(struct pf_backend *be, struct event_base *base, uint64_t delay_ms,
		      const char *body);
void pf_backend_stop(struct pf_backend *be);

/* One HTTP/1.0 GET through a port, read on the loop. */
struct pf_client {
	int fd;
	struct event *rd;
	char buf[4096];
	size_t len;
	bool done; /* end of stream: the whole answer is in */
};

void pf_client_start(struct pf_client *c, struct event_base *base, int port);
/* Read whatever has arrived. */
void pf_client_pump(struct pf_client *c);
void pf_client_stop(struct pf_client *c);
/* Complete, 200, exactly BODY. */
void pf_assert_answer(const struct pf_client *c, const char *body);
/* GET / through PORT, running the loop until answered: the body, or "" on failure. */
const char *pf_get(struct event_base *base, int port, char *buf, size_t len);

int pf_free_port(void);
/* A blocking connect to 127.0.0.1:PORT (answered at once on loopback); -1 if refused. */
int pf_connect(int port);

/* ---- processes ---- */

/*
 * Fork and exec ARGV in this test's process group, stdout and stderr to
 * LOG when set.  Whatever is still running at exit (an assertion ended
 * the test) gets SIGTERM.
 */
pid_t pf_spawn(char *const argv[], const char *log);
/* Exited and reaped, by us or by a child runner on the loop. */
bool pf_gone(pid_t pid);
/*
 * Run the loop until PORT accepts and READY_FILE (when set) exists; PID
 * must not exit first.  WHAT names it in the messages ("nginx").
 */
void pf_wait_port(struct event_base *base, pid_t pid, int port, const char *ready_file,
		  const char *what);
/* Send SIG and run the loop until PID is gone (SIGKILL after 5 s). */
void pf_stop(struct event_base *base, pid_t pid, int sig);
/* pf_stop(SIGTERM) whatever pf_spawn started and is still running. */
void pf_stop_all(struct event_base *base);

#endif
