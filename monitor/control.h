/*
 * monitor/control.h — the control API: JSON over HTTP (libevent's evhttp)
 * on a unix socket, mode 0600 unless configured.
 *
 *   GET  /v1/status                    every cluster
 *   GET  /v1/clusters/NAME             one cluster
 *   POST /v1/clusters/NAME/failover    body {} or {"to":"NODE"} -> 202
 *   POST /v1/clusters/NAME/pause       body {} or {"reason":"..."} -> 200
 *   POST /v1/clusters/NAME/resume      likewise; also releases a held cluster
 *   GET  /v1/events?cluster=NAME&after=SEQ&limit=N   journal records
 *
 * Errors are {"error":"..."} with a 4xx/5xx status.  Every field of a
 * request body is validated; unknown fields are refused.  A request's
 * line and headers may take CONTROL_MAX_HEADERS bytes, its body
 * CONTROL_MAX_BODY; a connection idle for CONTROL_TIMEOUT_S is closed.
 */
#ifndef VIGIL_MONITOR_CONTROL_H
#define VIGIL_MONITOR_CONTROL_H

#include <stddef.h>

#include "monitor/control_gate.h"

struct event_base;
struct mon_daemon;
struct control;

/* Who may connect, and how much a request may carry (control_gate.h). */
struct control_limits {
	size_t max_connections; /* open at once; more wait in the listen backlog */
	size_t fd_reserve;      /* descriptors never given to control connections */
	gate_fault_fn fault;    /* vigil ran out of its own resources */
	void *fault_arg;
};

struct control *control_new(struct event_base *base, struct mon_daemon *d, const char *path,
			    int mode, const struct control_limits *lim, char *err,
			    size_t errlen);
void control_set_limits(struct control *c, const struct control_limits *lim);
/* Stops listening and removes the socket file. */
void control_free(struct control *c);

#endif
