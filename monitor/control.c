/* monitor/control.c — the control API on a unix socket (see control.h). */
#include "monitor/control.h"
#include "monitor/control_int.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "monitor/backup_jobs.h"
#include "monitor/daemon.h"
#include "monitor/request.h"
#include "monitor/status.h"

#define CONTROL_MAX_BODY 65536
#define CONTROL_MAX_HEADERS 8192
#define CONTROL_TIMEOUT_S 10

struct control {
	struct evhttp *http;
	struct control_gate *gate;
	struct mon_daemon *d;
	char *path;
};

void control_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!buf || !text) {
		/* Still JSON (never libevent's HTML page), or no body at all. */
		free(text);
		if (buf)
			evbuffer_add_printf(buf, "{\"error\":\"out of memory\"}\n");
		code = 500;
	} else {
		evbuffer_add_printf(buf, "%s\n", text);
		free(text);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	if (buf)
		evbuffer_free(buf);
}

/* The API's one mapping of the daemon's refusals onto HTTP statuses. */
static int http_status_of(enum refusal r)
{
	switch (r) {
	case REFUSED_UNKNOWN:
		return 404;
	case REFUSED_NOT_NOW:
		return 409;
	case REFUSED_INVALID:
		return 400;
	case REFUSED_FAULT:
		break;
	}
	return 500;
}

void control_reply_error(struct evhttp_request *req, int code, const char *msg)
{
	control_reply_json(req, code, json_pack("{s:s}", "error", msg));
}

/* {"error": msg, "field": field}: the client's mistake is in that field. */
static void reply_field_error(struct evhttp_request *req, const char *msg, const char *field)
{
	control_reply_json(req, 400, json_pack("{s:s, s:s*}", "error", msg, "field",
					       field && field[0] ? field : NULL));
}

/* A field a request body may carry: a non-empty string, or a boolean. */
struct body_field {
	const char *name;
	bool boolean;
};

/*
 * The body as a JSON object whose fields are all named in allowed, with
 * their types; NULL with err, and in field the one at fault (or "").
 */
static json_t *read_body(struct evhttp_request *req, const struct body_field *allowed,
			 char *err, size_t errlen, char *field, size_t fieldlen)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), i;
	json_error_t jerr;
	const char *key;
	json_t *obj, *val;

	field[0] = '\0';
	if (len == 0)
		return json_object();
	/* Duplicate keys refused: {"dry_run":true,"dry_run":false} once ran a real failover. */
	obj = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		snprintf(err, errlen, "body is not valid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "body must be a JSON object");
		goto fail;
	}
	json_object_foreach(obj, key, val) {
		for (i = 0; allowed[i].name && strcmp(allowed[i].name, key) != 0; i++)
			;
		snprintf(field, fieldlen, "%s", key);
		if (!allowed[i].name) {
			snprintf(err, errlen, "unknown field '%s'", key);
			goto fail;
		}
		if (allowed[i].boolean) {
			if (!json_is_boolean(val)) {
				snprintf(err, errlen, "field '%s' must be true or false", key);
				goto fail;
			}
		} else if (!json_is_string(val) || json_string_length(val) == 0) {
			snprintf(err, errlen, "field '%s' must be a non-empty string", key);
			goto fail;
		}
	}
	field[0] = '\0';
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* POST /failover or /switchover: {"to", "dry_run", "force"} */
static void handle_order(struct evhttp_request *req, struct mon_cluster *cl, bool switchover)
{
	static const struct body_field allowed[] = {
		{ "to", false }, { "dry_run", true }, { "force", true }, { 0 },
	};
	struct op_request op = { .switchover = switchover };
	char err[512];
	char field[64];
	json_t *body, *plan = NULL;
	uint64_t epoch;
	enum refusal refused;

	body = read_body(req, allowed, err, sizeof(err), field, sizeof(field));
	if (!body) {
		reply_field_error(req, err, field);
		return;
	}
	op.to = json_string_value(json_object_get(body, "to"));
	op.dry_run = json_is_true(json_object_get(body, "dry_run"));
	op.force = json_is_true(json_object_get(body, "force"));
	vlog(VLOG_NOTICE, "control", switchover ? "switchover requested" : "failover requested",
	     "cluster", cl->conf->name, "to", op.to ? op.to : "(best candidate)",
	     "dry_run", op.dry_run ? "yes" : "no", "force", op.force ? "yes" : "no", NULL);
	if (op_request_run(cl, &op, op.dry_run ? &plan : NULL, &epoch, err, sizeof(err),
			   &refused) < 0) {
		json_decref(body);
		control_reply_error(req, http_status_of(refused), err);
		return;
	}
	json_decref(body);
	if (op.dry_run) {
		control_reply_json(req, 200, plan);
		return;
	}
	control_reply_json(req, 202, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "cluster",
				       cl->conf->name, "epoch", (json_int_t)epoch,
				       "from", cl->nodes[cl->fo.from].conf->name,
				       "to", cl->nodes[cl->fo.to].conf->name,
				       "result", fo_result_name(cl->fo.result),
				       "state", cluster_state_name(cl)));
}

/*
 * An order that names one node, with an optional reason: rejoin {"node"}
 * readmits a fenced node, resolve {"primary"} names a held cluster's primary.
 */
struct node_order {
	const char *field; /* the node's field */
	const char *what;  /* for the log: "rejoin requested" */
	int (*run)(struct mon_cluster *cl, const char *node, const char *reason, char *err,
		   size_t errlen, enum refusal *refusal);
};

static const struct node_order rejoin_order = { "node", "rejoin requested", cluster_rejoin };
static const struct node_order resolve_order = { "primary", "resolve requested",
						 cluster_resolve };

static void handle_node_order(struct evhttp_request *req, struct mon_cluster *cl,
			      const struct node_order *o)
{
	const struct body_field allowed[] = { { o->field, false }, { "reason", false }, { 0 } };
	char err[512], field[64];
	json_t *body = read_body(req, allowed, err, sizeof(err), field, sizeof(field));
	const char *node, *reason;
	enum refusal refused;

	if (!body) {
		reply_field_error(req, err, field);
		return;
	}
	node = json_string_value(json_object_get(body, o->field));
	reason = json_string_value(json_object_get(body, "reason"));
	if (!node) {
		snprintf(err, sizeof(err), "field '%s' is required", o->field);
		reply_field_error(req, err, o->field);
	} else {
		vlog(VLOG_NOTICE, "control", o->what, "cluster", cl->conf->name, o->field, node,
		     NULL);
		if (o->run(cl, node, reason ? reason : "operator request", err, sizeof(err),
			   &refused) < 0)
			control_reply_error(req, http_status_of(refused), err);
		else
			control_reply_json(req, 200, status_cluster_json(cl));
	}
	json_decref(body);
}

static void handle_pause(struct evhttp_request *req, struct mon_cluster *cl, bool pause)
{
	static const struct body_field allowed[] = { { "reason", false }, { 0 } };
	char err[512];
	char field[64];
	json_t *body = read_body(req, allowed, err, sizeof(err), field, sizeof(field));
	const char *reason;

	if (!body) {
		reply_field_error(req, err, field);
		return;
	}
	reason = json_string_value(json_object_get(body, "reason"));
	if (cluster_set_paused(cl, pause, reason ? reason : "operator request") < 0) {
		char msg[256];

		json_decref(body);
		snprintf(msg, sizeof(msg), "cannot %s %s now: it is %s", pause ? "pause" : "resume",
			 cl->conf->name, cluster_state_name(cl));
		control_reply_error(req, 409, msg);
		return;
	}
	json_decref(body);
	control_reply_json(req, 200, status_cluster_json(cl));
}

/* POST /v1/backups/NAME/run or /drill: start that job (or a drill of it) now. */
static void route_backup(struct control *c, struct evhttp_request *req, const char *rest,
			 enum evhttp_cmd_type method)
{
	const char *slash = strchr(rest, '/');
	char name[256], err[512];
	enum refusal refused;

	bool drill = slash && strcmp(slash, "/drill") == 0;

	if (!slash || (strcmp(slash, "/run") != 0 && !drill) || slash == rest ||
	    (size_t)(slash - rest) >= sizeof(name)) {
		control_reply_error(req, 404, "no such resource");
		return;
	}
	if (method != EVHTTP_REQ_POST) {
		control_reply_error(req, 405, "use POST");
		return;
	}
	memcpy(name, rest, (size_t)(slash - rest));
	name[slash - rest] = '\0';
	vlog(VLOG_NOTICE, "control", drill ? "drill requested" : "backup run requested", "job",
	     name, NULL);
	if ((drill ? backup_set_drill : backup_set_run)(daemon_backups(c->d), name, err,
							 sizeof(err), &refused) < 0) {
		control_reply_error(req, http_status_of(refused), err);
		return;
	}
	control_reply_json(req, 202, json_pack("{s:s, s:s}", "backup", name, "state",
					       drill ? "drilling" : "running"));
}

/* /v1/clusters/NAME[/ACTION] */
static void route_cluster(struct control *c, struct evhttp_request *req, const char *rest,
			  enum evhttp_cmd_type method)
{
	char name[256];
	const char *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
	struct mon_cluster *cl;

	if (len == 0 || len >= sizeof(name)) {
		control_reply_error(req, 404, "no such resource");
		return;
	}
	memcpy(name, rest, len);
	name[len] = '\0';
	cl = daemon_find_cluster(c->d, name);
	if (!cl) {
		char msg[320];

		snprintf(msg, sizeof(msg), "no cluster named '%s'", name);
		control_reply_error(req, 404, msg);
		return;
	}
	if (!slash) {
		if (method != EVHTTP_REQ_GET)
			control_reply_error(req, 405, "use GET");
		else
			control_reply_json(req, 200, status_cluster_json(cl));
	} else if (method != EVHTTP_REQ_POST &&
		   (!strcmp(slash, "/failover") || !strcmp(slash, "/switchover") ||
		    !strcmp(slash, "/pause") || !strcmp(slash, "/resume") ||
		    !strcmp(slash, "/rejoin") || !strcmp(slash, "/resolve"))) {
		control_reply_error(req, 405, "use POST");
	} else if (strcmp(slash, "/resolve") == 0) {
		handle_node_order(req, cl, &resolve_order);
	} else if (strcmp(slash, "/failover") == 0 || strcmp(slash, "/switchover") == 0) {
		handle_order(req, cl, slash[1] == 's');
	} else if (strcmp(slash, "/rejoin") == 0) {
		handle_node_order(req, cl, &rejoin_order);
	} else if (strcmp(slash, "/pause") == 0 || strcmp(slash, "/resume") == 0) {
		handle_pause(req, cl, slash[1] == 'p');
	} else {
		control_reply_error(req, 404, "no such resource");
	}
}

static void handle_request(struct evhttp_request *req, void *arg)
{
	struct control *c = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct mon_cluster *const *cls;
	size_t n;

	if (!path) {
		control_reply_error(req, 400, "bad request URI");
	} else if (strcmp(path, "/v1/status") == 0) {
		if (method != EVHTTP_REQ_GET) {
			control_reply_error(req, 405, "use GET");
			return;
		}
		n = daemon_clusters(c->d, &cls);
		control_reply_json(req, 200, status_json(cls, n));
	} else if (strcmp(path, "/v1/events") == 0) {
		if (method != EVHTTP_REQ_GET)
			control_reply_error(req, 405, "use GET");
		else
			control_events(req, c->d, uri);
	} else if (strncmp(path, "/v1/clusters/", 13) == 0) {
		route_cluster(c, req, path + 13, method);
	} else if (strcmp(path, "/v1/backups") == 0) {
		if (method != EVHTTP_REQ_GET)
			control_reply_error(req, 405, "use GET");
		else
			control_reply_json(req, 200, backup_set_json(daemon_backups(c->d)));
	} else if (strncmp(path, "/v1/backups/", 12) == 0) {
		route_backup(c, req, path + 12, method);
	} else {
		control_reply_error(req, 404, "no such resource");
	}
}

/* Refuse to steal the socket of a running daemon; remove a stale one. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "stat %s: %s", path,
						       strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "control socket %s is in use: is another vigil running?", path);
		return -1;
	}
	if (unlink(path) < 0) {
		snprintf(err, errlen, "remove stale %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int listen_unix(const char *path, int mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (fs_mkdir_p(dirname(dir), 0755, err, errlen) < 0 ||
	    clear_stale_socket(path, err, errlen) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Created owner-only, then widened to the configured mode: never briefly open. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, 64) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

struct control *control_new(struct event_base *base, struct mon_daemon *d, const char *path,
			    int mode, const struct control_limits *lim, char *err,
			    size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	struct evhttp_bound_socket *bound;
	int fd;

	if (!c || !(c->path = strdup(path)) || !(c->http = evhttp_new(base))) {
		snprintf(err, errlen, "control: out of memory");
		goto fail;
	}
	c->d = d;
	fd = listen_unix(path, mode, err, errlen);
	if (fd < 0) {
		free(c->path);
		c->path = NULL; /* not ours to unlink */
		goto fail;
	}
	if (!(bound = evhttp_accept_socket_with_handle(c->http, fd))) {
		close(fd);
		snprintf(err, errlen, "control: cannot accept on %s", path);
		goto fail;
	}
	c->gate = control_gate_new(base, c->http, bound, lim->max_connections, lim->fd_reserve,
				   lim->fault, lim->fault_arg, err, errlen);
	if (!c->gate)
		goto fail;
	evhttp_set_max_body_size(c->http, CONTROL_MAX_BODY);
	evhttp_set_max_headers_size(c->http, CONTROL_MAX_HEADERS);
	evhttp_set_timeout(c->http, CONTROL_TIMEOUT_S);
	/* Every method reaches handle_request, so even a wrong one gets a JSON error. */
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					      EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(c->http, handle_request, c);
	return c;
fail:
	control_free(c);
	return NULL;
}

void control_set_limits(struct control *c, const struct control_limits *lim)
{
	control_gate_limits(c->gate, lim->max_connections, lim->fd_reserve);
}

void control_free(struct control *c)
{
	if (!c)
		return;
	if (c->http)
		evhttp_free(c->http); /* closes the connections the gate counts */
	control_gate_free(c->gate);
	if (c->path)
		unlink(c->path);
	free(c->path);
	free(c);
}
