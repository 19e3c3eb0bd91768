/*
 * monitor/control_gate.h — who may connect to the control API, and when.
 *
 * The control API must never take the descriptors the probes need: a
 * client that opens connections and holds them must not make a probe fail
 * with EMFILE (which vigil once took for a dead node).  The gate
 *
 *  - counts the open connections and stops accepting at the cap (the
 *    kernel's backlog holds the rest, as HAProxy's maxconn does);
 *  - stops accepting while fewer than `reserve` descriptors are left under
 *    the soft RLIMIT_NOFILE, so the probes keep theirs;
 *  - on an accept error (EMFILE...) pauses accepting with a backoff
 *    (50 ms doubling to 2 s) instead of retrying at once in a loop, and
 *    tells the daemon, which goes into TILT.
 */
#ifndef VIGIL_MONITOR_CONTROL_GATE_H
#define VIGIL_MONITOR_CONTROL_GATE_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct control_gate;

/* vigil's own fault: what failed (the daemon's TILT). */
typedef void (*gate_fault_fn)(void *arg, const char *what);

/*
 * Put a gate in front of http's bound socket: at most cap connections,
 * `reserve` descriptors kept free.  NULL with err on failure.
 */
struct control_gate *control_gate_new(struct event_base *base, struct evhttp *http,
				      struct evhttp_bound_socket *bound, size_t cap,
				      size_t reserve, gate_fault_fn fault, void *fault_arg,
				      char *err, size_t errlen);
/* A reload may change the limits; connections beyond a lower cap stay. */
void control_gate_limits(struct control_gate *g, size_t cap, size_t reserve);
/* Connections open now (for tests and status). */
size_t control_gate_open(const struct control_gate *g);
/* Call after evhttp_free (which closes the connections the gate counts). */
void control_gate_free(struct control_gate *g);

#endif
