/*
 * actions/hooks.h — operator hooks (promote now; fence, demote later).
 * argv comes from the config with {placeholders} expanded per element and
 * is executed without a shell; context goes in the environment:
 * VIGIL_CLUSTER, VIGIL_EVENT, VIGIL_OLD_PRIMARY, VIGIL_NEW_PRIMARY,
 * VIGIL_REASON, VIGIL_EPOCH.
 */
#ifndef VIGIL_ACTIONS_HOOKS_H
#define VIGIL_ACTIONS_HOOKS_H

#include <stdint.h>

#include "actions/balancer.h"

struct hook_ctx {
	const char *cluster;
	const char *event;       /* "promote" */
	const char *node;        /* the node the hook acts on */
	const char *address;     /* its address */
	const char *old_primary;
	const char *new_primary;
	const char *reason;
	uint64_t epoch;
};

struct hook_job;

/* Placeholder names a hook argv may use (for conf/ validation). */
extern const char *const hook_placeholders[];
extern const size_t hook_n_placeholders;

/*
 * Run ARGV (templates) with ctx.  cb(ok, error) when it exits: exit 0 is
 * ok; anything else is an error carrying the exit status and the start of
 * its output.  Returns a job handle or NULL with err set.
 */
struct hook_job *hook_run(const struct act_env *env, char *const *argv,
			  const struct hook_ctx *ctx, uint64_t timeout_ms,
			  act_done_fn cb, void *arg, char *err, size_t errlen);
/* Kill the hook: no callback. */
void hook_cancel(struct hook_job *job);

#endif
