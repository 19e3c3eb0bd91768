/*
 * actions/nginx.h — the nginx controller.  vigil owns one file holding one
 * upstream block and never edits the operator's nginx.conf (which includes
 * that file).  Apply = render, write atomically, run the check command,
 * then the reload command.  A failed check puts the previous file back
 * byte for byte and does not reload.
 */
#ifndef VIGIL_ACTIONS_NGINX_H
#define VIGIL_ACTIONS_NGINX_H

#include <stddef.h>

#include "conf/config.h"

/*
 * Render the upstream block for cluster with nodes[primary] active and the
 * others as `backup` or left out, per conf->standby.  malloc'd string.
 */
char *nginx_render_upstream(const struct conf_balancer *conf,
			    const struct conf_cluster *cluster, size_t primary);

#endif
