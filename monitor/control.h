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
 * request body is validated; unknown fields are refused.
 */
#ifndef VIGIL_MONITOR_CONTROL_H
#define VIGIL_MONITOR_CONTROL_H

#include <stddef.h>

struct event_base;
struct mon_daemon;
struct control;

struct control *control_new(struct event_base *base, struct mon_daemon *d, const char *path,
			    int mode, char *err, size_t errlen);
/* Stops listening and removes the socket file. */
void control_free(struct control *c);

#endif
