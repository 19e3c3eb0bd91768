/*
 * tests/unit/haproxy_fixture.h — what the haproxy tests share beyond
 * proc_fixture.h: a real haproxy process and a blocking Runtime API call
 * (tests may block).
 */
#ifndef VIGIL_TESTS_UNIT_HAPROXY_FIXTURE_H
#define VIGIL_TESTS_UNIT_HAPROXY_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

struct event_base;

#define HAPROXY_BIN "/usr/sbin/haproxy"

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
