/* tests/unit/test_status.c — the status document and vigilctl's table. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "monitor/status.h"

static struct conf_node cnodes[2] = {
	{ .name = (char *)"a", .address = (char *)"127.0.0.1:8081", .role = CONF_ROLE_PRIMARY },
	{ .name = (char *)"b", .address = (char *)"127.0.0.1:8082", .role = CONF_ROLE_STANDBY },
};
static struct conf_cluster ccl = { .name = (char *)"web", .nodes = cnodes, .n_nodes = 2 };
static struct mon_node mnodes[2];
static struct mon_cluster cl;

static void setup(void)
{
	memset(&cl, 0, sizeof(cl));
	memset(mnodes, 0, sizeof(mnodes));
	for (int i = 0; i < 2; i++) {
		mnodes[i].conf = &cnodes[i];
		mnodes[i].health = HEALTH_UP;
		strcpy(mnodes[i].since, "2026-11-25T04:00:00.000Z");
	}
	mnodes[0].has_last = true;
	mnodes[0].last = (struct probe_result){ .ok = true, .status = PROBE_OK, .latency_ms = 1.25 };
	cl.conf = &ccl;
	cl.nodes = mnodes;
	cl.state = ST_HEALTHY;
	for (int i = 0; i < 2; i++)
		mnodes[i].lag = DECIDE_NO_LAG;
}

START_TEST(cluster_json_reports_roles_and_health)
{
	json_t *j = status_cluster_json(&cl), *nodes;

	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "healthy");
	ck_assert_str_eq(json_string_value(json_object_get(j, "primary")), "a");
	ck_assert(json_is_null(json_object_get(j, "last_failover")));
	nodes = json_object_get(j, "nodes");
	ck_assert_int_eq(json_array_size(nodes), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 1), "role")), "standby");
	ck_assert(json_is_null(json_object_get(json_array_get(nodes, 1), "last_probe")));
	ck_assert(json_real_value(json_object_get(json_object_get(json_array_get(nodes, 0),
					"last_probe"), "latency_ms")) == 1.25);
	json_decref(j);
}
END_TEST

START_TEST(cluster_state_follows_health_and_jobs)
{
	json_t *j, *b;

	cl.state = ST_FAILOVER_PENDING;
	ck_assert_str_eq(cluster_state_name(&cl), "failover_pending");
	cl.state = ST_PROMOTING;
	strcpy(cl.state_reason, "step done");
	cl.out[1] = true;
	mnodes[1].lag = 42;
	cl.fo = (struct mon_failover){ .result = FO_RUNNING, .epoch = 4, .from = 0, .to = 1 };
	cl.job = &cl.fo;
	ck_assert_str_eq(cluster_state_name(&cl), "promoting");
	j = status_cluster_json(&cl);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state_reason")), "step done");
	b = json_array_get(json_object_get(j, "nodes"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(b, "role")), "fenced");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "lag")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "last_failover"),
							   "result")), "running");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "last_failover"),
							    "epoch")), 4);
	json_decref(j);
}
END_TEST

START_TEST(table_lists_every_node)
{
	struct mon_cluster *list[1] = { &cl };
	json_t *doc = status_json(list, 1);
	char *buf = NULL, err[128];
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cl.primary = 1;
	json_decref(doc);
	doc = status_json(list, 1);
	ck_assert_int_eq(status_print_table(out, doc, err, sizeof(err)), 0);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(buf, "CLUSTER"));
	ck_assert_ptr_nonnull(strstr(buf, "web          a          standby  up       1.2ms"));
	ck_assert_ptr_nonnull(strstr(buf, "web          b          primary  up       -"));
	ck_assert_ptr_nonnull(strstr(buf, "state healthy, primary b, epoch 0"));
	free(buf);
	json_decref(doc);
}
END_TEST

START_TEST(observers_views_in_json_and_table)
{
	struct conf_probe probes[2] = { { .type = CONF_PROBE_HTTP }, { .type = CONF_PROBE_TCP } };
	struct conf_cluster c2 = ccl;
	struct mon_observer obs[4];
	struct mon_cluster *list[1] = { &cl };
	json_t *doc, *o;
	char *buf = NULL, err[128];
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	memset(obs, 0, sizeof(obs));
	c2.probes = probes;
	c2.n_probes = 2;
	for (int i = 0; i < 4; i++) {
		obs[i].conf = &probes[i % 2];
		obs[i].health.state = HEALTH_UP;
	}
	obs[1].health.state = HEALTH_DOWN; /* node a, tcp observer */
	mnodes[0].sdown = true;
	cl.conf = &c2;
	cl.obs = obs;
	cl.n_obs = 4;
	doc = status_json(list, 1);
	o = json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(doc, "clusters"), 0), "nodes"), 0), "observers");
	ck_assert_int_eq(json_array_size(o), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(o, 1), "health")), "down");
	ck_assert_int_eq(status_print_table(out, doc, err, sizeof(err)), 0);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(buf, "http:up tcp:down\n"));
	ck_assert_ptr_nonnull(strstr(buf, "http:up tcp:up\n"));
	free(buf);
	json_decref(doc);
}
END_TEST

START_TEST(table_rejects_other_documents)
{
	json_t *doc = json_pack("{s:s}", "error", "x");
	char err[128];

	ck_assert_int_eq(status_print_table(stdout, doc, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "status document has no clusters array");
	json_decref(doc);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, cluster_json_reports_roles_and_health);
	tcase_add_test(tc, cluster_state_follows_health_and_jobs);
	tcase_add_test(tc, table_lists_every_node);
	tcase_add_test(tc, observers_views_in_json_and_table);
	tcase_add_test(tc, table_rejects_other_documents);
	suite_add_tcase(s, tc);
	return s;
}
