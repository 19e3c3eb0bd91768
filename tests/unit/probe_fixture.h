/*
 * tests/unit/probe_fixture.h — what test_probes and test_probes_exec share:
 * an event base with a curl loop and a child runner, an HTTP server on a
 * free loopback port that records what it saw, and helpers that build
 * probes and run them once.
 */
#ifndef VIGIL_TESTS_UNIT_PROBE_FIXTURE_H
#define VIGIL_TESTS_UNIT_PROBE_FIXTURE_H

#include <check.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "probes/probe.h"

extern struct event_base *base;
extern struct probe_env env;

/* The test's HTTP server: "/ok" 200, "/fail" 503, "/hang" never answers. */
extern uint16_t http_port;
extern int hits;
extern uint16_t peer_ports[8];     /* client port of each of the first requests */
extern enum evhttp_cmd_type last_cmd;
extern char last_uri[256];

/* The checked fixture: fresh base, loop, runner and server per test. */
void setup(void);
void teardown(void);

struct done {
	int calls;
	struct probe_result res;
	uint64_t at_ms;
};

void on_probe(void *arg, const struct probe_result *res);
bool run_until(const int *count, int want, uint64_t ms);

/* A node named "a-node" at host:port; strings live in the caller's buffer. */
struct node_buf {
	struct conf_node node;
	char host[64];
	char address[80];
};

const struct conf_node *node_at(struct node_buf *nb, const char *host, uint16_t port);
struct conf_probe conf_of(enum conf_probe_type type, uint64_t timeout_ms);
/* probe_new that must succeed; make() looks from here, make_via() through via. */
struct probe *make(const struct conf_probe *c, const struct conf_node *n);
struct probe *make_via(const struct conf_probe *c, const struct conf_node *n,
		       const struct conf_node *via);
/* One run of p; asserts the callback never comes from inside probe_start. */
struct done run_once(struct probe *p, uint64_t ms);
/* The lowest free fd: unchanged across a run means nothing leaked. */
int next_fd(void);
/* A loopback socket (AF_INET or AF_INET6), listening or only bound; -1 if unavailable. */
int listener(int family, bool do_listen, uint16_t *port);

/* An http probe of the test server at path; status NULL = default (200). */
struct probe *http_probe(const char *path, const char *method, int *status,
			 size_t n_status, const char *body, uint64_t timeout_ms);
/* An exec probe of 127.0.0.1:5432 ("a-node" in cluster "web"). */
struct probe *exec_probe(char **argv, uint64_t timeout_ms);

/* The environment both probe test programs run in (their unit_setup). */
int probe_fixture_setup(void);

#endif
