/* tests/unit/test_cluster.c — what a cluster hands decide(). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "monitor/cluster.h"
#include "monitor/decide.h"

static struct conf_node cnodes[3] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:8081", .role = CONF_ROLE_PRIMARY, .priority = 100 },
	{ .name = (char *)"b", .address = (char *)"127.0.0.1:8082", .role = CONF_ROLE_STANDBY, .priority = 100 },
	{ .name = (char *)"c", .address = (char *)"127.0.0.1:8083", .role = CONF_ROLE_STANDBY, .priority = 100 },
};
static struct conf_probe cprobes[1] = {
	{ .type = CONF_PROBE_HTTP, .rise = 2, .fall = 3, .via_node = -1 },
};
static struct conf_cluster ccl = {
	.name = (char *)"web", .nodes = cnodes, .n_nodes = 3, .probes = cprobes, .n_probes = 1,
	.max_failovers = 3, .cooldown_ms = 60000, .failover_window_ms = 3600000,
};
static struct mon_node mnodes[3];
static struct mon_observer mobs[3];
static struct mon_cluster cl;

static void setup(void)
{
	memset(&cl, 0, sizeof(cl));
	memset(mnodes, 0, sizeof(mnodes));
	memset(mobs, 0, sizeof(mobs));
	for (int i = 0; i < 3; i++) {
		mnodes[i].conf = &cnodes[i];
		mnodes[i].health = HEALTH_UP;
		mnodes[i].lag = DECIDE_NO_LAG;
		mobs[i].conf = &cprobes[0];
		health_init(&mobs[i].health, 2, 3);
		health_feed(&mobs[i].health, true);
		health_feed(&mobs[i].health, true);
	}
	cl.conf = &ccl;
	cl.nodes = mnodes;
	cl.obs = mobs;
	cl.n_obs = 3;
}

START_TEST(wavering_standby_is_not_a_candidate)
{
	struct decide_buf buf;
	struct decide_input in;
	struct decision d;

	/* a is down; b is still UP by rise/fall but its last probe failed. */
	mnodes[0].health = HEALTH_DOWN;
	health_feed(&mobs[1].health, false);
	ck_assert_int_eq(mobs[1].health.state, HEALTH_UP);
	cluster_decide_input(&cl, &buf, &in);
	ck_assert_int_eq(buf.health[1], HEALTH_UNKNOWN);
	ck_assert_int_eq(buf.health[2], HEALTH_UP);
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_ODOWN_ACT);
	ck_assert_uint_eq(d.target, 2);
	/* With c wavering too there is no candidate at all. */
	health_feed(&mobs[2].health, false);
	cluster_decide_input(&cl, &buf, &in);
	d = decide(&in);
	ck_assert_int_eq(d.event, EV_ODOWN);
	ck_assert_str_eq(d.hold, "no_candidate");
	/* One clean pass makes b a candidate again; a fenced b is not. */
	health_feed(&mobs[1].health, true);
	cluster_decide_input(&cl, &buf, &in);
	ck_assert_int_eq(decide(&in).target, 1);
	cl.out[1] = true;
	cluster_decide_input(&cl, &buf, &in);
	ck_assert_int_eq(decide(&in).event, EV_ODOWN);
}
END_TEST

START_TEST(cooldown_and_history_feed_the_decision)
{
	struct decide_buf h;
	struct decide_input in;

	cluster_decide_input(&cl, &h, &in);
	ck_assert(!in.cooling_down && !in.over_limit);
	cluster_note_failover(&cl, false);
	cluster_decide_input(&cl, &h, &in);
	ck_assert(in.cooling_down);
	ck_assert(!in.over_limit);
	cluster_note_failover(&cl, false);
	cluster_note_failover(&cl, true); /* the operator's do not count */
	cluster_decide_input(&cl, &h, &in);
	ck_assert(!in.over_limit);
	cluster_note_failover(&cl, false);
	cluster_decide_input(&cl, &h, &in);
	ck_assert(in.over_limit);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, wavering_standby_is_not_a_candidate);
	tcase_add_test(tc, cooldown_and_history_feed_the_decision);
	suite_add_tcase(s, tc);
	return s;
}
