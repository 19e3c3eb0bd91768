/*
 * conf/config.c — freeing and querying a loaded config, and the error list
 * the loader fills.  Everything here copes with a half-built config, since
 * the loader frees its work-in-progress when validation fails.
 */
#include "conf/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/argv.h"

static void free_alerts(struct conf_alert *alerts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(alerts[i].url);
		free(alerts[i].routing_key);
		argv_free(alerts[i].argv);
	}
	free(alerts);
}

static void free_probe(struct conf_probe *p)
{
	free(p->url);
	free(p->method);
	free(p->expect_status);
	free(p->expect_body);
	argv_free(p->argv);
	free(p->via);
}

static void free_balancer(struct conf_balancer *b)
{
	free(b->upstream);
	free(b->file);
	argv_free(b->check);
	argv_free(b->reload);
	free(b->server_options);
	free(b->pid_file);
	free(b->backend);
	free(b->socket);
	free(b->state_file);
}

static void free_cluster(struct conf_cluster *c)
{
	free(c->name);
	for (size_t i = 0; i < c->n_nodes; i++) {
		free(c->nodes[i].name);
		free(c->nodes[i].address);
		free(c->nodes[i].host);
	}
	free(c->nodes);
	for (size_t i = 0; i < c->n_probes; i++)
		free_probe(&c->probes[i]);
	free(c->probes);
	for (size_t i = 0; i < c->n_balancers; i++)
		free_balancer(&c->balancers[i]);
	free(c->balancers);
	argv_free(c->hooks.promote);
	argv_free(c->hooks.restore);
	argv_free(c->hooks.follow);
	argv_free(c->hooks.fence);
	free(c->restore.backup);
	free(c->restore.snapshot);
	free(c->restore.target);
	argv_free(c->restore.command);
	free(c->restore.repository);
	free(c->restore.key_file);
	free_alerts(c->alerts, c->n_alerts);
}

static void free_backup(struct conf_backup *b)
{
	free(b->name);
	free(b->source);
	argv_free(b->command);
	free(b->stdin_name);
	free(b->schedule);
	free(b->repository);
	free(b->offsite);
	free(b->key_file);
	free_alerts(b->alerts, b->n_alerts);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		free_cluster(&cfg->clusters[i]);
	free(cfg->clusters);
	for (size_t i = 0; i < cfg->n_backups; i++)
		free_backup(&cfg->backups[i]);
	free(cfg->backups);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->control.socket);
	free(cfg);
}

void conf_errors_clear(struct conf_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

/*
 * A line <= 0 means the problem is with the file as a whole (it cannot be
 * read), so the message is "FILE: text".  If memory runs out the message
 * is dropped: there is nowhere better to report it, and the caller still
 * sees the load fail.
 */
void conf_errors_add(struct conf_errors *errs, const char *file, int line,
		     const char *fmt, ...)
{
	char text[1024], *msg = NULL, **grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = asprintf(&msg, "%s:%d: %s", file ? file : "?", line, text);
	else
		n = asprintf(&msg, "%s: %s", file ? file : "?", text);
	if (n < 0)
		return;
	grown = realloc(errs->msgs, (errs->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(msg);
		return;
	}
	errs->msgs = grown;
	errs->msgs[errs->n++] = msg;
}

const struct conf_cluster *config_find_cluster(const struct config *cfg, const char *name)
{
	if (cfg == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (cfg->clusters[i].name && strcmp(cfg->clusters[i].name, name) == 0)
			return &cfg->clusters[i];
	return NULL;
}

int conf_cluster_find_node(const struct conf_cluster *cc, const char *name)
{
	if (cc == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < cc->n_nodes; i++)
		if (cc->nodes[i].name && strcmp(cc->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}
