/*
 * actions/haproxy_live.c — an apply through haproxy's Runtime API (see
 * haproxy.h for the roles).  A chain of commands, each on its own
 * connection, each bounded by the balancer's timeout:
 *
 *   READ    show servers state B     what each server is now
 *   STAT    show stat B 4 -1         which servers are `backup` (standby = backup)
 *   CMD     set server B/N ...       only what differs, new primary first
 *   VERIFY  show servers state B     each server as asked, or the apply fails
 *   SAVE    show servers state       -> state_file, so a reload keeps it
 *   FILE    render `file` (+ check)  when configured: a restart matches too
 *
 * The job copies the cluster's nodes, so it survives a config reload that
 * frees the cluster.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/haproxy.h"
#include "common/log.h"

enum hap_want { W_READY, W_DRAIN, W_MAINT };
enum job_phase { J_IDLE, J_READ, J_STAT, J_CMD, J_VERIFY, J_SAVE, J_FILE };

struct plan_node {
	char *name; /* the server's name in the backend */
	char *host;
	unsigned port;
	bool out;
	bool drain;  /* out, but its sessions may finish (a switchover) */
	enum hap_want want;
};

struct hap_live {
	struct event_base *base;
	/* The controller's, which outlive this. */
	const struct conf_balancer *conf;
	const struct hap_addr *addr;
	struct render_job *render;
	struct hap_drain *drain;
	/* The job in flight. */
	enum job_phase phase;
	struct hap_cli *cli;
	struct plan_node nodes[CONF_MAX_NODES];
	char *names[CONF_MAX_NODES]; /* nodes[i].name, for the parsers */
	size_t n, primary;
	struct hap_srv srv[CONF_MAX_NODES];
	struct hap_srv stat[CONF_MAX_NODES];
	char **cmds;
	size_t n_cmds, next_cmd;
	char *file_text; /* socket mode with `file`: what to render there */
	char *cluster;
	act_done_fn cb;
	void *arg;
};

static const char *const want_name[] = { [W_READY] = "ready", [W_DRAIN] = "drain",
					 [W_MAINT] = "maint" };

static void job_clear(struct hap_live *h)
{
	hap_cli_cancel(h->cli);
	h->cli = NULL;
	for (size_t i = 0; i < h->n; i++) {
		free(h->nodes[i].name);
		free(h->nodes[i].host);
	}
	memset(h->nodes, 0, sizeof(h->nodes));
	h->n = 0;
	for (size_t i = 0; i < h->n_cmds; i++)
		free(h->cmds[i]);
	free(h->cmds);
	h->cmds = NULL;
	h->n_cmds = h->next_cmd = 0;
	free(h->file_text);
	h->file_text = NULL;
	free(h->cluster);
	h->cluster = NULL;
	h->phase = J_IDLE;
	h->cb = NULL;
	h->arg = NULL;
}

/* End the job and report; the callback is last since it may free h. */
static void job_finish(struct hap_live *h, bool ok, const char *error)
{
	act_done_fn cb = h->cb;
	void *arg = h->arg;

	if (!ok)
		vlog(VLOG_ERR, "haproxy", "apply failed", "cluster", h->cluster,
		     "backend", h->conf->backend, "error", error, NULL);
	job_clear(h);
	cb(arg, ok, error);
}

static void job_failf(struct hap_live *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void job_failf(struct hap_live *h, const char *fmt, ...)
{
	char msg[1024];
	int len = snprintf(msg, sizeof(msg), "haproxy %s: ", h->conf->backend);
	va_list ap;

	if (len < 0 || (size_t)len >= sizeof(msg) / 2)
		len = 0;
	va_start(ap, fmt);
	vsnprintf(msg + len, sizeof(msg) - (size_t)len, fmt, ap);
	va_end(ap);
	job_finish(h, false, msg);
}

static void on_answer(void *arg, const char *answer, const char *error);

/* Run CMD as the job's next step. */
static void job_send(struct hap_live *h, enum job_phase phase, const char *cmd)
{
	h->phase = phase;
	h->cli = hap_cli_run(h->base, h->addr, cmd, h->conf->timeout_ms, on_answer, h);
	if (!h->cli)
		job_failf(h, "%s: out of memory", cmd);
}

/* ---- deciding ---- */

/*
 * An out node being drained (a switchover's old primary) that was serving
 * goes to `drain`, so the sessions it has finish (the drain waits for them,
 * then sets maint); one that vigil is still draining stays there.  Anything
 * else (a fenced node after a failover) goes to maint at once.
 */
static enum hap_want want_out(const struct hap_live *h, size_t i)
{
	const struct hap_srv *s = &h->srv[i];

	if (s->admin & HAP_ADM_MAINT)
		return W_MAINT;
	if (h->nodes[i].drain && !(s->admin & HAP_ADM_DRAIN) && s->op != HAP_OP_STOPPED)
		return W_DRAIN;
	if ((s->admin & HAP_ADM_FDRAIN) && hap_drain_has(h->drain, h->names[i]))
		return W_DRAIN;
	return W_MAINT;
}

/*
 * A standby is a fallback only when haproxy's config makes it one: a
 * `backup` server, behind a primary that is not one itself.  Any other
 * standby set ready would share the primary's traffic.
 */
static enum hap_want want_standby(const struct hap_live *h, size_t i)
{
	if (h->conf->standby == CONF_STANDBY_BACKUP && h->stat[i].backup &&
	    !h->stat[h->primary].backup)
		return W_READY;
	return W_MAINT;
}

static bool state_is(const struct hap_srv *s, enum hap_want want)
{
	switch (want) {
	case W_READY:
		return !(s->admin & (HAP_ADM_MAINT | HAP_ADM_FDRAIN));
	case W_DRAIN:
		return (s->admin & HAP_ADM_FDRAIN) && !(s->admin & HAP_ADM_MAINT);
	case W_MAINT:
		return s->admin & HAP_ADM_FMAINT;
	}
	return false;
}

/* Same IP (whatever its spelling) and port. */
static bool addr_is(const struct hap_srv *s, const struct plan_node *p)
{
	unsigned char a[16], b[16];
	int af = strchr(p->host, ':') ? AF_INET6 : AF_INET;

	if (s->port != p->port)
		return false;
	if (inet_pton(af, p->host, a) != 1 || inet_pton(af, s->addr, b) != 1)
		return false;
	return memcmp(a, b, af == AF_INET6 ? 16 : 4) == 0;
}

static int add_cmd(struct hap_live *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_cmd(struct hap_live *h, const char *fmt, ...)
{
	char **cmds = realloc(h->cmds, (h->n_cmds + 1) * sizeof(*cmds));
	va_list ap;
	int rc;

	if (!cmds)
		return -1;
	h->cmds = cmds;
	va_start(ap, fmt);
	rc = vasprintf(&h->cmds[h->n_cmds], fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	h->n_cmds++;
	return 0;
}

/* Tell the drain which servers this apply drains; -1 when out of memory. */
static int note_draining(struct hap_live *h)
{
	char *list[CONF_MAX_NODES];
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		if (h->nodes[i].want == W_DRAIN)
			list[n++] = h->names[i];
	return hap_drain_set(h->drain, list, n);
}

/* What each server should be, and the commands that get it there. */
static int plan(struct hap_live *h)
{
	const char *b = h->conf->backend;
	size_t order[CONF_MAX_NODES], k = 0;

	for (size_t i = 0; i < h->n; i++) {
		struct plan_node *p = &h->nodes[i];

		p->want = i == h->primary ? W_READY : p->out ? want_out(h, i) : want_standby(h, i);
		if (!addr_is(&h->srv[i], p) &&
		    add_cmd(h, "set server %s/%s addr %s port %u", b, p->name, p->host, p->port) < 0)
			return -1;
	}
	/* The new primary first: there is always somewhere for requests to go. */
	order[k++] = h->primary;
	for (size_t i = 0; i < h->n; i++)
		if (i != h->primary)
			order[k++] = i;
	for (size_t j = 0; j < k; j++) {
		struct plan_node *p = &h->nodes[order[j]];

		if (state_is(&h->srv[order[j]], p->want))
			continue;
		if (!p->out && order[j] != h->primary && p->want == W_MAINT &&
		    h->conf->standby == CONF_STANDBY_BACKUP)
			vlog(VLOG_NOTICE, "haproxy", "standby kept in maint: ready, it would "
			     "share the primary's traffic (haproxy does not declare it `backup`, "
			     "or the primary is a backup server itself)", "cluster", h->cluster,
			     "server", p->name, NULL);
		if (add_cmd(h, "set server %s/%s state %s", b, p->name, want_name[p->want]) < 0)
			return -1;
	}
	return note_draining(h);
}

/* ---- the chain ---- */

static void save_or_finish(struct hap_live *h);

static void next_cmd(struct hap_live *h)
{
	char sel[128];

	if (h->next_cmd == h->n_cmds) {
		snprintf(sel, sizeof(sel), "show servers state %s", h->conf->backend);
		job_send(h, J_VERIFY, sel);
		return;
	}
	vlog(VLOG_INFO, "haproxy", "runtime command", "cluster", h->cluster,
	     "command", h->cmds[h->next_cmd], NULL);
	job_send(h, J_CMD, h->cmds[h->next_cmd++]);
}

/*
 * A state command answers nothing when it worked.  addr answers what it
 * changed ("IP changed from ...", "no need to change the addr, port
 * changed ..."); anything else is haproxy refusing.
 */
static void cmd_answered(struct hap_live *h, const char *answer)
{
	const char *cmd = h->cmds[h->next_cmd - 1];
	char ex[240];
	const char *p = answer;
	bool ok;

	while (isspace((unsigned char)*p))
		p++;
	hap_answer_excerpt(p, ex, sizeof(ex));
	if (strstr(cmd, " addr "))
		ok = strstr(p, "changed") || strstr(p, "no need to change");
	else
		ok = *p == '\0';
	if (!ok) {
		job_failf(h, "%s: haproxy answered \"%s\"", cmd, ex);
		return;
	}
	if (*p)
		vlog(VLOG_NOTICE, "haproxy", "server address set", "cluster", h->cluster,
		     "command", cmd, "answer", ex, NULL);
	next_cmd(h);
}

static const char *admin_words(unsigned admin)
{
	if (admin & HAP_ADM_MAINT)
		return "maintenance";
	if (admin & HAP_ADM_DRAIN)
		return "drain";
	return "ready";
}

/* After the commands: every server as planned, or a clear error. */
static void verify(struct hap_live *h)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct plan_node *p = &h->nodes[i];
		const struct hap_srv *s = &h->srv[i];

		if (!s->found) {
			job_failf(h, "server %s is gone from the backend", p->name);
			return;
		}
		if (!state_is(s, p->want) || (p->want == W_MAINT && s->op != HAP_OP_STOPPED)) {
			job_failf(h, "server %s/%s should be %s but haproxy reports %s "
				  "(admin state 0x%x, operational state %d)", h->conf->backend,
				  p->name, want_name[p->want], admin_words(s->admin), s->admin, s->op);
			return;
		}
		if (!addr_is(s, p)) {
			job_failf(h, "server %s/%s should be at %s port %u but haproxy reports "
				  "%s port %u", h->conf->backend, p->name, p->host, p->port,
				  s->addr, s->port);
			return;
		}
	}
	if (h->srv[h->primary].op == HAP_OP_STOPPED)
		vlog(VLOG_WARNING, "haproxy", "the primary is ready but haproxy's own check "
		     "says it is down", "cluster", h->cluster, "backend", h->conf->backend,
		     "server", h->names[h->primary], NULL);
	vlog(VLOG_NOTICE, "haproxy", "servers set live (no reload)", "cluster", h->cluster,
	     "backend", h->conf->backend, "primary", h->names[h->primary], NULL);
	save_or_finish(h);
}

static void file_done(void *arg, bool ok, const char *error)
{
	struct hap_live *h = arg;

	job_finish(h, ok, error);
}

static void save_or_finish(struct hap_live *h)
{
	char err[512];

	if (h->phase != J_SAVE && h->conf->state_file) {
		job_send(h, J_SAVE, "show servers state");
		return;
	}
	if (!h->file_text) {
		job_finish(h, true, NULL);
		return;
	}
	h->phase = J_FILE;
	if (render_job_start(h->render, h->cluster, h->file_text, NULL, false, file_done, h,
			     err, sizeof(err)) < 0)
		job_finish(h, false, err);
}

/* Parse what READ, STAT or VERIFY asked into srv or stat; -1 after failing the job. */
static int parse_answer(struct hap_live *h, const char *answer)
{
	char err[400];
	int rc;

	if (h->phase == J_STAT)
		rc = hap_parse_stat(answer, h->conf->backend, h->names, h->n, h->stat, err,
				    sizeof(err));
	else
		rc = hap_parse_state(answer, h->conf->backend, h->names, h->n, h->srv, err,
				     sizeof(err));
	if (rc < 0) {
		job_failf(h, "%s", err);
		return -1;
	}
	for (size_t i = 0; h->phase == J_READ && i < h->n; i++) {
		if (!h->srv[i].found) {
			job_failf(h, "backend %s has no server %s (its servers must be named "
				  "after the nodes)", h->conf->backend, h->names[i]);
			return -1;
		}
	}
	return 0;
}

static void on_answer(void *arg, const char *answer, const char *error)
{
	struct hap_live *h = arg;
	char err[512], sel[128];

	h->cli = NULL;
	if (error) {
		job_failf(h, "%s", error);
		return;
	}
	switch (h->phase) {
	case J_READ:
	case J_STAT:
		if (parse_answer(h, answer) < 0)
			return;
		if (h->phase == J_READ && h->conf->standby == CONF_STANDBY_BACKUP) {
			snprintf(sel, sizeof(sel), "show stat %s 4 -1", h->conf->backend);
			job_send(h, J_STAT, sel);
			return;
		}
		if (plan(h) < 0) {
			job_failf(h, "out of memory");
			return;
		}
		next_cmd(h);
		return;
	case J_CMD:
		cmd_answered(h, answer);
		return;
	case J_VERIFY:
		if (parse_answer(h, answer) == 0)
			verify(h);
		return;
	case J_SAVE:
		if (hap_save_state(answer, h->conf->state_file, err, sizeof(err)) < 0) {
			job_failf(h, "%s", err);
			return;
		}
		save_or_finish(h);
		return;
	case J_IDLE:
	case J_FILE:
		break;
	}
	job_failf(h, "unexpected answer");
}

/* ---- the job's life ---- */

static int copy_nodes(struct hap_live *h, const struct conf_cluster *cl,
		      const struct balancer_roles *roles)
{
	h->n = cl->n_nodes;
	h->primary = roles->primary;
	for (size_t i = 0; i < h->n; i++) {
		struct plan_node *p = &h->nodes[i];

		p->name = strdup(cl->nodes[i].name);
		p->host = strdup(cl->nodes[i].host);
		p->port = cl->nodes[i].port;
		p->out = roles->out && roles->out[i];
		p->drain = p->out && roles->drain && roles->drain[i];
		h->names[i] = p->name;
		if (!p->name || !p->host)
			return -1;
	}
	return 0;
}

int hap_live_start(struct hap_live *h, const struct conf_cluster *cluster,
		   const struct balancer_roles *roles, act_done_fn cb, void *arg,
		   char *err, size_t errlen)
{
	char sel[128];

	if (h->phase != J_IDLE) {
		snprintf(err, errlen, "haproxy %s: a job is already running", h->conf->backend);
		return -1;
	}
	if (cluster->n_nodes > CONF_MAX_NODES) {
		snprintf(err, errlen, "haproxy %s: too many nodes", h->conf->backend);
		return -1;
	}
	h->cluster = strdup(cluster->name);
	if (h->conf->file)
		h->file_text = haproxy_render_backend(h->conf, cluster, roles);
	if (!h->cluster || (h->conf->file && !h->file_text) ||
	    copy_nodes(h, cluster, roles) < 0) {
		snprintf(err, errlen, "haproxy %s: out of memory", h->conf->backend);
		job_clear(h);
		return -1;
	}
	h->cb = cb;
	h->arg = arg;
	vlog(VLOG_INFO, "haproxy", "applying through the runtime API", "cluster", h->cluster,
	     "backend", h->conf->backend, "socket", h->addr->text,
	     "primary", h->names[h->primary], NULL);
	snprintf(sel, sizeof(sel), "show servers state %s", h->conf->backend);
	job_send(h, J_READ, sel);
	return 0;
}

void hap_live_cancel(struct hap_live *h)
{
	if (!h || h->phase == J_IDLE)
		return;
	vlog(VLOG_WARNING, "haproxy", "apply cancelled", "cluster", h->cluster,
	     "backend", h->conf->backend, NULL);
	/* The file job puts its previous file back itself. */
	if (h->phase == J_FILE)
		render_job_cancel(h->render);
	job_clear(h);
}

struct hap_live *hap_live_new(struct event_base *base, const struct conf_balancer *conf,
			      const struct hap_addr *addr, struct render_job *render,
			      struct hap_drain *drain)
{
	struct hap_live *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->base = base;
	h->conf = conf;
	h->addr = addr;
	h->render = render;
	h->drain = drain;
	return h;
}

void hap_live_free(struct hap_live *h)
{
	if (!h)
		return;
	hap_live_cancel(h);
	free(h);
}
