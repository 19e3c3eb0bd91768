/*
 * tests/unit/s3_fixture.c — s3rver and the fault proxy for test_backup_s3
 * (see s3_fixture.h).
 *
 * Both are started with PR_SET_PDEATHSIG, so a test that dies on an
 * assertion takes its proxy with it; the proxy also exits when it sees
 * its parent change.  s3rver belongs to the test program's main process
 * and is stopped (and its data removed) at the end.
 */
#include "tests/unit/s3_fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit_util.h"

#define S3RVER_DEFAULT "/var/cache/vigil/npm/node_modules/.bin/s3rver"

static pid_t server_pid = -1;
static int server_port = -1;
static char root[64]; /* shared temp dir: s3rver's data, credentials, proxies */

unsigned long long s3f_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* fork + exec argv with stdout/stderr to log; it dies with its parent. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	/*
	 * s3rver 3.7 makes continuation tokens with DES, which Node 17+
	 * (OpenSSL 3) only offers through the legacy provider.
	 */
	setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execvp(argv[0], argv);
	_exit(127);
}

static void stop(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		pause_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

bool s3f_server_start(char *why, size_t whylen)
{
	const char *bin = getenv("VIGIL_S3RVER") ? getenv("VIGIL_S3RVER") : S3RVER_DEFAULT;
	char port[16], data[128], log[128];
	int status;

	if (access(bin, X_OK) != 0) {
		snprintf(why, whylen, "s3rver not found at %s (scripts/lib/deps.sh installs it)", bin);
		return false;
	}
	snprintf(root, sizeof(root), "/tmp/vigil-s3-XXXXXX");
	if (!mkdtemp(root)) {
		snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
		return false;
	}
	snprintf(data, sizeof(data), "%s/s3rver", root);
	snprintf(log, sizeof(log), "%s/s3rver.log", root);
	mkdir(data, 0700);
	server_port = free_port();
	snprintf(port, sizeof(port), "%d", server_port);
	/* Virtual-host requests go to BUCKET.s3.localhost (curl resolves *.localhost to loopback). */
	const char *argv[] = { bin, "-d", data, "-a", "127.0.0.1", "-p", port, "-s",
			       "--service-endpoint", "localhost", "--configure-bucket", S3F_BUCKET,
			       NULL };
	server_pid = spawn((char *const *)argv, log);
	for (int i = 0; i < 300 && !port_open(server_port); i++) {
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			snprintf(why, whylen, "s3rver exited at start (see %s)", log);
			return false;
		}
		pause_ms(50);
	}
	if (!port_open(server_port)) {
		snprintf(why, whylen, "s3rver did not listen within 15 s (see %s)", log);
		return false;
	}
	return true;
}

void s3f_server_stop(void)
{
	stop(server_pid);
	server_pid = -1;
	if (root[0])
		unit_rm_tree(root);
}

int s3f_server_port(void)
{
	return server_port;
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

void s3f_proxy_start(struct s3f_proxy *p, const char *const *extra)
{
	static int seq;
	char up[16], portfile[192], stats[192], log[192], buf[32] = "";
	const char *argv[40] = { "python3", SRCDIR "/tests/unit/s3_fault_proxy.py", "--upstream",
				 up, "--port-file", portfile, "--stats", stats, "--secret",
				 S3F_SECRET };
	int n = 10;

	snprintf(p->dir, sizeof(p->dir), "%s/proxy-%d-%d", root, (int)getpid(), seq++);
	ck_assert_int_eq(mkdir(p->dir, 0700), 0);
	snprintf(up, sizeof(up), "%d", server_port);
	snprintf(portfile, sizeof(portfile), "%s/port", p->dir);
	snprintf(stats, sizeof(stats), "%s/stats.json", p->dir);
	snprintf(log, sizeof(log), "%s/log", p->dir);
	for (int i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	p->pid = spawn((char *const *)argv, log);
	for (int i = 0; i < 200 && !buf[0]; i++) {
		pause_ms(25);
		read_file(portfile, buf, sizeof(buf));
	}
	ck_assert_msg(buf[0], "the fault proxy did not start (see %s)", log);
	p->port = atoi(buf);
	ck_assert_msg(port_open(p->port), "the fault proxy does not listen on %d", p->port);
}

void s3f_proxy_stop(struct s3f_proxy *p)
{
	stop(p->pid);
	p->pid = -1;
}

long s3f_proxy_stat(const struct s3f_proxy *p, const char *field)
{
	char path[192];
	json_t *j, *v;
	long n;

	snprintf(path, sizeof(path), "%s/stats.json", p->dir);
	j = json_load_file(path, 0, NULL);
	ck_assert_msg(j != NULL, "proxy stats %s unreadable", path);
	v = json_object_get(j, field);
	ck_assert_msg(json_is_integer(v), "proxy stats: no %s", field);
	n = (long)json_integer_value(v);
	json_decref(j);
	return n;
}

void s3f_assert_signed_right(const struct s3f_proxy *p)
{
	char path[192], *why;
	json_t *j;

	snprintf(path, sizeof(path), "%s/stats.json", p->dir);
	j = json_load_file(path, 0, NULL);
	ck_assert_msg(j != NULL, "proxy stats %s unreadable", path);
	why = json_dumps(json_object_get(j, "sig_bad_why"), 0);
	ck_assert_msg(json_integer_value(json_object_get(j, "sig_bad")) == 0,
		      "%lld requests signed wrong, the first: %s",
		      (long long)json_integer_value(json_object_get(j, "sig_bad")), why ? why : "?");
	free(why);
	json_decref(j);
}

void s3f_config(struct bk_s3_config *c, int port, const char *prefix, const char *key_id,
		const char *secret)
{
	static char endpoint[8][64], creds[8][160];
	static int slot, seq;
	int i = slot++ % 8;
	FILE *f;

	bk_s3_config_default(c);
	snprintf(endpoint[i], sizeof(endpoint[i]), "http://127.0.0.1:%d", port);
	c->endpoint = endpoint[i];
	c->bucket = S3F_BUCKET;
	c->prefix = prefix;
	c->path_style = true;
	c->backoff_ms = 10;
	c->backoff_max_ms = 100;
	c->low_speed_s = 2;
	if (!key_id)
		return;
	snprintf(creds[i], sizeof(creds[i]), "%s/creds-%d-%d", root[0] ? root : "/tmp",
		 (int)getpid(), seq++);
	f = fopen(creds[i], "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(chmod(creds[i], 0600), 0);
	fprintf(f, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", key_id, secret);
	ck_assert_int_eq(fclose(f), 0);
	c->credentials_file = creds[i];
}

struct bk_store *s3f_store(const struct bk_s3_config *c)
{
	char err[512] = "";
	struct bk_store *s = bk_store_s3_new(c, false, err, sizeof(err));

	ck_assert_msg(s != NULL, "s3 store: %s", err);
	return s;
}

const char *s3f_unique_prefix(const char *tag)
{
	static char buf[4][96];
	static int n;
	int i = n % 4;

	snprintf(buf[i], sizeof(buf[i]), "t-%s-%d-%d", tag, (int)getpid(), n++);
	return buf[i];
}
