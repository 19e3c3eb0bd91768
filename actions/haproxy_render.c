/*
 * actions/haproxy_render.c — the backend section vigil renders, and the
 * file job (render_job.h) that puts it in place, in haproxy's words:
 * without a socket it checks and reloads; with one it keeps `file` in step
 * (checked when check is set) but never reloads.
 */
#include <stdio.h>

#include "actions/haproxy.h"

char *haproxy_render_backend(const struct conf_balancer *conf,
			     const struct conf_cluster *cluster,
			     const struct balancer_roles *roles)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = render_text_open(cluster, roles, &buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "backend %s\n", conf->backend);
	for (size_t i = 0; i < cluster->n_nodes; i++) {
		const struct conf_node *node = &cluster->nodes[i];

		if (!render_text_lists(conf, roles, i))
			continue;
		fprintf(f, "    server %s %s", node->name, node->address);
		if (conf->server_options && conf->server_options[0])
			fprintf(f, " %s", conf->server_options);
		fputs(i == roles->primary ? "\n" : " backup\n", f);
	}
	return render_text_close(f, &buf);
}

struct render_job *hap_render_new(const struct act_env *env, const struct conf_balancer *conf,
				  char *err, size_t errlen)
{
	const struct render_job_conf jc = {
		.component = "haproxy", .kind = "backend", .job_noun = "file job",
		.name = conf->backend, .file = conf->file,
		.check = conf->check, .reload = conf->reload, .timeout_ms = conf->timeout_ms,
		/* haproxy opens with notices (version, path): the excerpt starts at the problem. */
		.excerpt_from = "[ALERT]",
	};

	return render_job_new(env, &jc, err, errlen);
}
