/*
 * tests/unit/alert_fixture.h — what test_alert and test_alert_sinks share:
 * an event base with a curl loop, a child runner and a ticking timer (that
 * records the longest gap between its ticks, to prove nothing blocked the
 * loop), HTTP receivers on free loopback ports that record what they were
 * sent, and stderr capture for checking log lines.
 */
#ifndef VIGIL_TESTS_UNIT_ALERT_FIXTURE_H
#define VIGIL_TESTS_UNIT_ALERT_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "actions/alert.h"

#define RX_MAX_REQS 16

struct receiver {
	struct evhttp *http;
	int port;
	int count;
	int script[RX_MAX_REQS]; /* status per request; 0 = 200; -1 = never answer */
	char *bodies[RX_MAX_REQS];
	char uri[256];
	char method[16];
	char content_type[64];
};

extern struct event_base *af_base;
extern struct curl_loop *curl;
extern struct child_runner *runner;
extern struct receiver rx;   /* started by af_setup */
extern uint64_t tick_max_gap_ms; /* longest gap between two 10 ms ticks */

/* The checked fixture: fresh base, loop, runner, ticker and rx per test. */
void af_setup(void);
void af_teardown(void);

void receiver_start(struct receiver *r);
void receiver_stop(struct receiver *r);
/* A loopback port nothing listens on. */
int free_port(void);
/* A loopback port that accepts connections (the kernel does) but never answers. */
int hanging_port(int *fd);

struct alerter *new_alerter(const struct conf_alert *alerts, size_t n);
/* Run the loop until nothing is pending (or ms pass); the elapsed ms. */
uint64_t drain(struct alerter *a, uint64_t ms);
void run_for(uint64_t ms);
/* Run until r has COUNT requests (or ms pass). */
void run_until_count(const struct receiver *r, int count, uint64_t ms);

/* Send stderr (the log) to a temp file until capture_end. */
FILE *capture_start(void);
void capture_end(void);
/* Lines of the capture that contain NEEDLE. */
int count_lines(FILE *f, const char *needle);

#endif
