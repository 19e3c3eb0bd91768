/*
 * actions/nginx.h — the nginx controller.  vigil owns one file holding one
 * upstream block and never edits the operator's nginx.conf (which includes
 * that file).  Apply = render, write atomically, run the check command,
 * then the reload command.  A failed check puts the previous file back
 * byte for byte and does not reload.
 *
 * Drain (actions/nginx_drain.c): `nginx -s reload` is graceful — the
 * master starts new workers and the old ones finish their requests, then
 * exit.  So an apply notes the master's workers (from pid_file) just before
 * its reload, and a drain waits until those have exited.
 */
#ifndef VIGIL_ACTIONS_NGINX_H
#define VIGIL_ACTIONS_NGINX_H

#include <stddef.h>
#include <stdint.h>

#include "actions/balancer.h"
#include "conf/config.h"

/*
 * Render the upstream block for cluster: nodes[roles->primary] active,
 * nodes with roles->out[i] not written at all, the others as `backup` or
 * left out per conf->standby.  malloc'd string; NULL when out of memory or
 * when the roles are invalid (primary out of range or marked out).
 */
char *nginx_render_upstream(const struct conf_balancer *conf,
			    const struct conf_cluster *cluster,
			    const struct balancer_roles *roles);

/* ---- internal to the nginx balancer: the drain half (nginx_drain.c) ---- */

struct event_base;
struct ngx_drain;

/* pid_file may be NULL (drains then wait their whole timeout). */
struct ngx_drain *ngx_drain_new(struct event_base *base, const char *upstream,
				const char *pid_file, char *err, size_t errlen);
/* Cancels a drain in flight without a callback. */
void ngx_drain_free(struct ngx_drain *d);
/* An apply starts: until its reload has run, drains cannot see the old traffic. */
void ngx_drain_apply_started(struct ngx_drain *d);
/* Right before the reload command: note the master's current workers. */
void ngx_drain_note_workers(struct ngx_drain *d);
/* The reload succeeded: the noted workers are what the next drain waits for. */
void ngx_drain_reloaded(struct ngx_drain *d);
/* See balancer_drain(); cb may not run before the next loop turn. */
int ngx_drain_start(struct ngx_drain *d, uint64_t timeout_ms, act_done_fn cb, void *arg,
		    char *err, size_t errlen);
/* Abort a drain in flight: no callback. */
void ngx_drain_cancel(struct ngx_drain *d);

#endif
