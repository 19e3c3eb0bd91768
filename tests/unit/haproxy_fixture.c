/*
 * tests/unit/haproxy_fixture.c — see haproxy_fixture.h.  The haproxy
 * started here is a proc_fixture.h process: stopped by the test, or at
 * exit when an assertion ended the test first.
 */
#include "tests/unit/haproxy_fixture.h"

#include <check.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "tests/unit/proc_fixture.h"

/* ---- haproxy ---- */

static pid_t master;

bool th_have_haproxy(void)
{
	if (access(HAPROXY_BIN, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: %s not found\n", HAPROXY_BIN);
	return false;
}

int th_write_config(const char *dir, bool no_socket, const char *backend_text)
{
	char text[8192], path[512], sock[400];
	int port = pf_free_port();

	snprintf(sock, sizeof(sock), "    stats socket %s/admin.sock level admin\n", dir);
	snprintf(text, sizeof(text),
		 "global\n%s    server-state-file %s/state\n"
		 "defaults\n    mode http\n    load-server-state-from-file global\n"
		 "    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n"
		 "frontend fe\n    bind 127.0.0.1:%d\n    default_backend web\n%s",
		 no_socket ? "" : sock, dir, port, backend_text);
	snprintf(path, sizeof(path), "%s/haproxy.cfg", dir);
	pf_write(path, text, 0644);
	return port;
}

/*
 * The master handles SIGUSR2 (reload) only once its loop runs; a signal
 * sent before may be lost.  Ready when /proc says it catches SIGUSR2.
 */
static bool master_catches_usr2(void)
{
	char path[64], err[256], *text = NULL;
	const char *p;
	unsigned long long caught = 0;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)master);
	if (fs_read_all(path, 1 << 16, &text, &len, err, sizeof(err)) != 0)
		return false;
	p = strstr(text, "\nSigCgt:");
	if (p)
		caught = strtoull(p + 8, NULL, 16);
	free(text);
	return caught & (1ull << (SIGUSR2 - 1));
}

pid_t th_haproxy_start(struct event_base *base, const char *dir, const char *extra, int port)
{
	char cfg[512], log[512];
	char *argv[] = { (char *)HAPROXY_BIN, (char *)"-W", (char *)"-db", (char *)"-f", cfg,
			 (char *)"-f", (char *)extra, NULL };
	uint64_t end = clock_mono_ms() + 5000;

	ck_assert_int_eq(master, 0);
	if (!extra)
		argv[5] = NULL;
	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
	/* Its notices would drown the test's output. */
	snprintf(log, sizeof(log), "%s/haproxy.log", dir);
	master = pf_spawn(argv, log);
	pf_wait_port(base, master, port, NULL, "haproxy");
	while (clock_mono_ms() < end && !master_catches_usr2())
		usleep(10000);
	ck_assert_msg(master_catches_usr2(), "haproxy's master does not handle SIGUSR2");
	return master;
}

/*
 * A master still starting up may lose a SIGUSR2 (seen with 2.6 right after
 * "Loading success"), so the signal is sent again if nothing happened.
 */
void th_haproxy_reload(struct event_base *base, const char *dir)
{
	long old = th_info(dir, "Pid"), now = old;
	uint64_t end = clock_mono_ms() + 6000, resend = 0;

	ck_assert_int_gt(old, 0);
	while (clock_mono_ms() < end && (now == old || now < 0)) {
		if (clock_mono_ms() >= resend) {
			ck_assert_int_eq(kill(master, SIGUSR2), 0);
			resend = clock_mono_ms() + 2000;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(20000);
		now = th_info(dir, "Pid");
	}
	ck_assert_msg(now > 0 && now != old, "haproxy did not reload (worker %ld)", now);
}

void th_haproxy_stop(struct event_base *base)
{
	if (master <= 0)
		return;
	pf_stop(base, master, SIGTERM);
	master = 0;
}

char *th_cli(const char *dir, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[4096];
	ssize_t n;

	ck_assert_ptr_nonnull(mem);
	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/admin.sock", dir);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) == (ssize_t)strlen(cmd) &&
	    send(fd, "\n", 1, MSG_NOSIGNAL) == 1)
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			fwrite(buf, 1, (size_t)n, mem);
	close(fd);
	ck_assert_int_eq(fclose(mem), 0);
	return out;
}

long th_info(const char *dir, const char *field)
{
	char *info = th_cli(dir, "show info"), key[64];
	const char *p;
	long v = -1;

	snprintf(key, sizeof(key), "\n%s: ", field);
	p = strstr(info, key);
	if (p)
		v = strtol(p + strlen(key), NULL, 10);
	free(info);
	return v;
}

int th_admin_state(const char *dir, const char *name)
{
	char *st = th_cli(dir, "show servers state web"), pat[64];
	const char *p;
	int admin = -1;

	/* "<be_id> web <srv_id> NAME <addr> <op> <admin> ..." */
	snprintf(pat, sizeof(pat), " web ");
	for (p = strstr(st, pat); p; p = strstr(p + 1, pat)) {
		char srv[64];
		int op, adm;

		if (sscanf(p, " web %*d %63s %*s %d %d", srv, &op, &adm) == 3 &&
		    strcmp(srv, name) == 0) {
			admin = adm;
			break;
		}
	}
	free(st);
	return admin;
}
