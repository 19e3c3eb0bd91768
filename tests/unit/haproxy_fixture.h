/*
 * tests/unit/haproxy_fixture.h — what the haproxy tests share: HTTP
 * backends and clients on the test's own event loop, a real haproxy
 * process, and a blocking Runtime API call (tests may block).
 */
#ifndef VIGIL_TESTS_UNIT_HAPROXY_FIXTURE_H
#define VIGIL_TESTS_UNIT_HAPROXY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct event;

#define HAPROXY_BIN "/usr/sbin/haproxy"
#define TH_MAX_CONNS 16

/* A backend that answers every request with BODY, DELAY_MS after it came in. */
struct th_backend {
	struct event_base *base;
	int fd, port;
	struct event *acc;
	uint64_t delay_ms;
	const char *body;
	int accepted, answered;
	struct th_conn {
		int fd;
		struct event *ev; /* NULL: slot free */
		struct th_backend *be;
	} conns[TH_MAX_CONNS];
};

void th_backend_start(struct th_backend *be, struct event_base *base, uint64_t delay_ms,
		      const char *body);
void th_backend_stop(struct th_backend *be);

/* One HTTP/1.0 GET through a port, read on the loop. */
struct th_client {
	int fd;
	struct event *rd;
	char buf[4096];
	size_t len;
	bool done; /* end of stream: the whole answer is in */
};

void th_client_start(struct th_client *c, struct event_base *base, int port);
void th_client_pump(struct th_client *c);
void th_client_stop(struct th_client *c);
/* Complete, 200, exactly BODY. */
void th_assert_answer(const struct th_client *c, const char *body);
/* GET / through PORT, running the loop until answered: the body, or "" on failure. */
const char *th_get(struct event_base *base, int port, char *buf, size_t len);

int th_free_port(void);
/* Run the loop until *flag or ms pass. */
void th_run(struct event_base *base, const bool *flag, uint64_t ms);

/* ---- a real haproxy (master-worker, foreground) ---- */

bool th_have_haproxy(void);
/*
 * Write DIR/haproxy.cfg: a stats socket DIR/admin.sock (unless no_socket),
 * DIR/state as server-state-file, an HTTP frontend on a free port (the
 * return value) with default_backend web, and BACKEND_TEXT appended (the
 * `backend web` section, or "" when it comes from another -f file).
 */
int th_write_config(const char *dir, bool no_socket, const char *backend_text);
/* Start `haproxy -W -db -f DIR/haproxy.cfg [-f extra]`; waits until PORT accepts. */
pid_t th_haproxy_start(struct event_base *base, const char *dir, const char *extra, int port);
/* SIGUSR2 to the master, then wait until a worker with another pid answers. */
void th_haproxy_reload(struct event_base *base, const char *dir);
void th_haproxy_stop(struct event_base *base);
/* A Runtime API command on DIR/admin.sock; malloc'd answer. */
char *th_cli(const char *dir, const char *cmd);
/* `show info` field (Pid, Uptime_sec) as a number; -1 if missing. */
long th_info(const char *dir, const char *field);
/* srv_admin_state of web/NAME from `show servers state web`; -1 if missing. */
int th_admin_state(const char *dir, const char *name);

#endif
