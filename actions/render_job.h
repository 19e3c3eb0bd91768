/*
 * actions/render_job.h — the file job the nginx and haproxy balancers
 * share.  vigil owns one small file the balancer includes; one job puts a
 * new version of it in place:
 *
 *   keep the current file's bytes → write the new ones atomically → run
 *   check (if any) → run reload (when asked)
 *
 * Any failure after the write puts the previous bytes back (or removes the
 * file if there was none), so the balancer never loads a file vigil could
 * not verify, and a later reload by the operator does not pick up a
 * half-done change.  Cancelling a job in flight restores the same way.
 *
 * Messages are the balancer's own: "<component> check failed: exit 1:
 * <output excerpt>", logged under the component with the upstream's or
 * backend's name under the key `kind`.
 *
 * The render_text_* helpers are the frame both renderers share: vigil's
 * header comment, which nodes a file lists, and the in-memory stream.
 */
#ifndef VIGIL_ACTIONS_RENDER_JOB_H
#define VIGIL_ACTIONS_RENDER_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "actions/balancer.h"
#include "conf/config.h"

/* ---- the text: each balancer writes its own syntax between these ---- */

/*
 * Start a rendered file in memory with vigil's header comment.  NULL when
 * out of memory or the roles are invalid (primary out of range or marked out).
 */
FILE *render_text_open(const struct conf_cluster *cluster, const struct balancer_roles *roles,
		       char **buf, size_t *len);
/* Node I is listed: the primary; a standby unless conf->standby is out or roles mark it out. */
bool render_text_lists(const struct conf_balancer *conf, const struct balancer_roles *roles,
		       size_t i);
/* Finish F: *buf, malloc'd, or NULL (and freed) when writing failed. */
char *render_text_close(FILE *f, char **buf);

/* ---- the job ---- */

/* What stays the same from one job to the next.  Every pointer is borrowed. */
struct render_job_conf {
	const char *component; /* "nginx": log component, first word of errors */
	const char *kind;      /* "upstream": log key for name; "upstream file written" */
	const char *job_noun;  /* "job": "a job is already running", "job cancelled" */
	const char *name;      /* the upstream's or backend's name */
	const char *file;
	char *const *check;    /* NULL or empty: no check */
	char *const *reload;   /* NULL or empty: never reload */
	uint64_t timeout_ms;   /* per command */
	/* A failing command's excerpt starts at this text when its output has it. */
	const char *excerpt_from; /* NULL: at the start of the output */
	/* Right before the reload command starts, and once it has succeeded. */
	void (*before_reload)(void *hook_arg); /* may be NULL */
	void (*reloaded)(void *hook_arg);      /* may be NULL */
	void *hook_arg;
};

struct render_job;

/* Copies conf (not what it points to).  NULL with err ("<component> balancer: ..."). */
struct render_job *render_job_new(const struct act_env *env, const struct render_job_conf *conf,
				  char *err, size_t errlen);
/*
 * Write TEXT to the file, then run check and, when RELOAD (and a reload
 * command is set), reload.  PRIMARY, when not NULL, is logged with the
 * write.  -1 with err when nothing was changed (busy, the file could not
 * be read or written).  cb runs once, with "<component> check|reload
 * failed: ..." on failure; it may run before this returns when a command
 * cannot start, or when there is nothing to run.
 */
int render_job_start(struct render_job *j, const char *cluster, const char *text,
		     const char *primary, bool reload, act_done_fn cb, void *arg,
		     char *err, size_t errlen);
/* Abort the job in flight without a callback, putting the previous file back. */
void render_job_cancel(struct render_job *j);
void render_job_free(struct render_job *j);

#endif
