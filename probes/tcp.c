/*
 * probes/tcp.c — a TCP probe: the node is up if it accepts a connection.
 *
 * Non-blocking connect, wait for writability, read SO_ERROR.  The socket is
 * closed with an RST (SO_LINGER 0): a prober making thousands of connects
 * a second would otherwise pile up TIME_WAIT sockets and run out of
 * ephemeral ports, and the peer loses nothing it wanted.
 */
#include "probes/probe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fdlimit.h"

struct tcp_probe {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct event_base *base;
	struct event *ev; /* writability of fd while connecting */
	int fd;
	struct probe *owner;
};

static void *tcp_new(const struct probe_env *env, const struct conf_probe *conf,
		     const struct conf_node *node, const struct conf_node *via,
		     const char *cluster, char *err, size_t errlen)
{
	struct tcp_probe *t;
	struct sockaddr_in *in4;
	struct sockaddr_in6 *in6;

	(void)conf;
	(void)cluster;
	/* conf/ rejects this too; a silent "from here" would be a wrong vote. */
	if (via != NULL) {
		snprintf(err, errlen, "tcp probe: 'via' is not supported (a tcp probe "
			 "always connects from vigil itself)");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "tcp probe: out of memory");
		return NULL;
	}
	t->fd = -1;
	t->base = env->base;
	in4 = (struct sockaddr_in *)&t->addr;
	in6 = (struct sockaddr_in6 *)&t->addr;
	if (inet_pton(AF_INET, node->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(node->port);
		t->addr_len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, node->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(node->port);
		t->addr_len = sizeof(*in6);
	} else {
		snprintf(err, errlen, "tcp probe: \"%s\" is not a numeric address", node->host);
		free(t);
		return NULL;
	}
	t->ev = event_new(env->base, -1, 0, NULL, NULL);
	if (t->ev == NULL) {
		snprintf(err, errlen, "tcp probe: cannot create event");
		free(t);
		return NULL;
	}
	return t;
}

static void tcp_close(struct tcp_probe *t)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (t->fd < 0)
		return;
	event_del(t->ev);
	/* Best effort: without it the close is merely a FIN. */
	(void)setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(t->fd);
	t->fd = -1;
}

/*
 * Close first: the report may free this probe.  A connect that failed for
 * lack of vigil's own resources (no local port, no buffer) is not the node's.
 */
static void tcp_finish(struct tcp_probe *t, int error)
{
	char detail[96], why[64];

	tcp_close(t);
	if (error == 0) {
		probe_report(t->owner, PROBE_OK, "connected");
		return;
	}
	if (fd_errno_is_local(error)) {
		snprintf(detail, sizeof(detail), "connect: %s", fd_errno_text(error, why, sizeof(why)));
		probe_report(t->owner, PROBE_ERR_LOCAL, detail);
		return;
	}
	snprintf(detail, sizeof(detail), "connect: %s", strerror(error));
	probe_report(t->owner, PROBE_ERR_CONNECT, detail);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_probe *t = arg;
	int error = 0;
	socklen_t len = sizeof(error);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	tcp_finish(t, error);
}

static int tcp_start(void *impl, struct probe *owner, char *err, size_t errlen)
{
	struct tcp_probe *t = impl;

	t->owner = owner;
	t->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		char why[64];

		snprintf(err, errlen, "socket: %s", fd_errno_text(errno, why, sizeof(why)));
		return -1;
	}
	if (connect(t->fd, (struct sockaddr *)&t->addr, t->addr_len) == 0) {
		tcp_finish(t, 0);
		return 0;
	}
	if (errno != EINPROGRESS) {
		tcp_finish(t, errno);
		return 0;
	}
	if (event_assign(t->ev, t->base, t->fd, EV_WRITE, on_writable, t) < 0 ||
	    event_add(t->ev, NULL) < 0) {
		tcp_close(t);
		snprintf(err, errlen, "tcp probe: cannot watch socket");
		return -1;
	}
	return 0;
}

static void tcp_cancel(void *impl)
{
	tcp_close(impl);
}

static void tcp_free(void *impl)
{
	struct tcp_probe *t = impl;

	if (t == NULL)
		return;
	tcp_close(t);
	event_free(t->ev);
	free(t);
}

const struct probe_ops probe_tcp_ops = {
	.name = "tcp",
	.new = tcp_new,
	.start = tcp_start,
	.cancel = tcp_cancel,
	.free = tcp_free,
};
