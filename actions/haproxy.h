/*
 * actions/haproxy.h — the haproxy controller.  The servers of one haproxy
 * backend are named like the cluster's nodes; vigil steers them.
 *
 * With a stats socket (the Runtime API, unix path or numeric host:port)
 * every change is made live and no connection is cut: no reload.
 *
 *   show servers state B → set server B/N addr (where a node moved) →
 *   set server B/N state ready|drain|maint → show servers state B (each
 *   server must now be as asked) → show servers state, written atomically
 *   to state_file (haproxy's server-state-file) so a reload or restart
 *   with load-server-state-from-file keeps the change.
 *
 * One command per connection: haproxy answers and closes, so the end of
 * the answer is the end of the stream (no prompt mode to parse).
 *
 * Roles: the primary is `ready`; a node marked out and drain (a
 * switchover's old primary) is `drain` when it was serving (ready and not
 * down) — its sessions finish, the drain waits for them and then sets
 * `maint`; any other out node (fenced after a failover) is `maint` at once.  A standby
 * is `maint` with standby = "out".  With standby = "backup" it is `ready`
 * only when haproxy's config declares it `backup` and the primary is not a
 * backup server itself, so haproxy uses it only while the primary is down;
 * otherwise it would share the primary's traffic, so it is `maint`.
 * A node vigil is still draining stays in `drain` across applies until
 * its drain ends.
 *
 * Without a socket: render `file` as the whole `backend B` section, write
 * it atomically, run check, then reload; a failure restores the previous
 * bytes (like nginx).  With a socket, `file` (if set) is kept in step the
 * same way but never reloaded, for a restart without the state file.
 */
#ifndef VIGIL_ACTIONS_HAPROXY_H
#define VIGIL_ACTIONS_HAPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "actions/balancer.h"
#include "actions/render_job.h"
#include "conf/config.h"


/*
 * The `backend` section for cluster: the primary, standbys as `backup` or
 * left out per conf->standby, nodes with roles->out[i] left out.  Each
 * server line carries conf->server_options.  malloc'd; NULL when out of
 * memory or the roles are invalid.
 */
char *haproxy_render_backend(const struct conf_balancer *conf,
			     const struct conf_cluster *cluster,
			     const struct balancer_roles *roles);

/* ---- internal to the haproxy balancer ---- */

struct event_base;
struct hap_drain;

/* srv_admin_state bits haproxy reports (and what they mean to us). */
#define HAP_ADM_FMAINT 0x01u /* forced maintenance: `state maint` */
#define HAP_ADM_MAINT 0x23u  /* any maintenance (forced, inherited, resolver) */
#define HAP_ADM_FDRAIN 0x08u /* forced drain: `state drain` */
#define HAP_ADM_DRAIN 0x18u  /* any drain */
#define HAP_OP_STOPPED 0     /* srv_op_state: down (checks, or maintenance) */

/* Where the Runtime API listens. */
struct hap_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[128]; /* as configured, for messages */
};

/* "/run/haproxy.sock", "127.0.0.1:9999" or "[::1]:9999"; -1 with err. */
int hap_addr_parse(const char *socket, struct hap_addr *out, char *err, size_t errlen);

/*
 * One Runtime API command (haproxy_cli.c): connect, send CMD, read the
 * answer to end of stream.  cb gets the answer (error NULL) or why there
 * is none; it always runs from the loop, never inside hap_cli_run.  NULL
 * only when out of memory.
 */
struct hap_cli;
typedef void (*hap_cli_fn)(void *arg, const char *answer, const char *error);
struct hap_cli *hap_cli_run(struct event_base *base, const struct hap_addr *addr,
			    const char *cmd, uint64_t timeout_ms, hap_cli_fn cb, void *arg);
/* Close the connection; the callback will not run.  NULL is fine. */
void hap_cli_cancel(struct hap_cli *c);

/* What haproxy says about one server (haproxy_state.c). */
struct hap_srv {
	bool found;
	char addr[64];
	unsigned port;
	int op;          /* srv_op_state */
	unsigned admin;  /* srv_admin_state */
	bool backup;     /* show stat: bck */
	long sessions;   /* show stat: scur + qcur */
};

/*
 * Fill srv[i] for the servers NAMES[i] of BACKEND from the answer to `show
 * servers state` (parse_state) or `show stat B 4 -1` (parse_stat); names
 * not in the answer keep found = false.  -1 with err when the answer is
 * not one (haproxy's own message is quoted).
 */
int hap_parse_state(const char *answer, const char *backend, char *const *names, size_t n,
		    struct hap_srv *srv, char *err, size_t errlen);
int hap_parse_stat(const char *answer, const char *backend, char *const *names, size_t n,
		   struct hap_srv *srv, char *err, size_t errlen);
/* Write a `show servers state` answer to PATH atomically, as haproxy reads it back. */
int hap_save_state(const char *answer, const char *path, char *err, size_t errlen);
/* The first line of an unexpected answer, for messages. */
void hap_answer_excerpt(const char *answer, char *buf, size_t len);

/*
 * The file job (render_job.h) in haproxy's words (haproxy_render.c): its
 * messages, and a failing command's excerpt from haproxy's first [ALERT].
 * Borrows conf.
 */
struct render_job *hap_render_new(const struct act_env *env, const struct conf_balancer *conf,
				  char *err, size_t errlen);

/*
 * An apply through the Runtime API (haproxy_live.c).  conf, addr, render
 * and drain are borrowed: the controller keeps them alive longer.
 */
struct hap_live;
struct hap_live *hap_live_new(struct event_base *base, const struct conf_balancer *conf,
			      const struct hap_addr *addr, struct render_job *render,
			      struct hap_drain *drain);
int hap_live_start(struct hap_live *h, const struct conf_cluster *cluster,
		   const struct balancer_roles *roles, act_done_fn cb, void *arg,
		   char *err, size_t errlen);
/* Abort the apply in flight: no callback. */
void hap_live_cancel(struct hap_live *h);
void hap_live_free(struct hap_live *h);

/* The drain (haproxy_drain.c). */
struct hap_drain;
/* addr NULL: no socket, drains wait their whole timeout. */
struct hap_drain *hap_drain_new(struct event_base *base, const struct conf_balancer *conf,
				const struct hap_addr *addr, char *err, size_t errlen);
void hap_drain_free(struct hap_drain *d);
/* The servers the last apply set to `drain` (copied); -1 when out of memory. */
int hap_drain_set(struct hap_drain *d, char *const *names, size_t n);
/* NAME is still draining: set by the last apply, not yet ended by a drain. */
bool hap_drain_has(const struct hap_drain *d, const char *name);
int hap_drain_start(struct hap_drain *d, uint64_t timeout_ms, act_done_fn cb, void *arg,
		    char *err, size_t errlen);
void hap_drain_cancel(struct hap_drain *d);

#endif
