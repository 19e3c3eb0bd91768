"""tests/integration/test_failover.py — vigil moves real traffic.

Each test runs a real deployment (see conftest.py): backends a and b, an
nginx load balancer steered through the upstream file vigil owns, a webhook
receiver and recording check/reload/promote wrappers.

The balancer lists the standby as `backup`, so nginx alone already sends
requests to b once a dies; the tests therefore also read the upstream file
vigil rendered and the daemon's status, and the switch back to a (which
nginx would never do by itself while b is up) proves the reload path.
"""

import json
import time

from helpers import wait_for


def assert_primary_in_file(env, primary, standby):
    servers = env.upstream_servers()
    p, s = env.backends[primary].address, env.backends[standby].address
    assert p in servers and "backup" not in servers[p], f"{primary} not active in {servers}"
    assert servers.get(s) == ["backup"], f"{standby} not backup in {servers}"


def assert_fenced_out(env, primary, fenced):
    """After a failover the old primary stays out of the upstream until rejoined."""
    servers = env.upstream_servers()
    p, f = env.backends[primary].address, env.backends[fenced].address
    assert p in servers and "backup" not in servers[p], f"{primary} not active in {servers}"
    assert f not in servers, f"{fenced} should be fenced out of {servers}"


def fail_a_over(env):
    """Kill a; return the failover alert once traffic and status show b."""
    env.wait_traffic("a", timeout=5)
    env.backends["a"].kill()
    env.wait_traffic("b", timeout=10)
    ev = env.hook.wait_event("failover", timeout=10)
    env.wait_primary("b", timeout=5)
    return ev


def test_primary_death_fails_over_to_standby(env):
    assert_primary_in_file(env, "a", "b")
    ev = fail_a_over(env)

    assert ev["cluster"] == "web"
    assert ev["old_primary"] == "a" and ev["new_primary"] == "b"
    assert ev["epoch"] == 1
    assert ev.get("timestamp") and ev.get("severity")
    down = env.hook.wait_event("node_down", timeout=5, pred=lambda e: e.get("node") == "a")
    assert down["cluster"] == "web"

    st = env.vigilctl("status", "--json")
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    web = [c for c in doc["clusters"] if c["name"] == "web"][0]
    assert web["primary"] == "b"
    assert web["epoch"] == 1
    roles = {n["name"]: n["role"] for n in web["nodes"]}
    assert roles == {"a": "fenced", "b": "primary"}
    assert {n["name"]: n["health"] for n in web["nodes"]}["a"] == "down"
    lf = web["last_failover"]
    assert lf["from"] == "a" and lf["to"] == "b" and lf["result"] == "ok" and lf["epoch"] == 1

    assert_fenced_out(env, "b", "a")

    calls = wait_for(env.promote_calls, 5, what="the promote hook to run")
    time.sleep(0.5)  # a second, wrong run would show up here
    calls = env.promote_calls()
    assert len(calls) == 1, calls
    assert calls[0]["argv"] == ["b"]
    assert calls[0]["env"].get("VIGIL_CLUSTER") == "web"
    assert calls[0]["env"].get("VIGIL_NEW_PRIMARY") == "b"
    assert calls[0]["env"].get("VIGIL_OLD_PRIMARY") == "a"
    assert len(env.hook.of("failover")) == 1


def test_manual_failover_back_to_recovered_node(env):
    fail_a_over(env)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    env.hook.wait_event("node_up", timeout=5, pred=lambda e: e.get("node") == "a")
    # No automatic fail-back: b stays primary while it is healthy.
    assert env.cluster()["primary"] == "b"
    assert env.traffic() == "b"
    # Fenced: not a candidate until the operator readmits it.
    r = env.vigilctl("failover", "web", "--to", "a", timeout=30)
    assert r.returncode == 1 and "rejoin" in r.stderr, (r.returncode, r.stderr)
    r = env.vigilctl("rejoin", "web", "a", timeout=30)
    assert r.returncode == 0, f"vigilctl rejoin: rc {r.returncode}: {r.stderr}"
    wait_for(lambda: env.node("a")["role"] == "standby", 5, what="a readmitted as standby")
    wait_for(lambda: env.cluster()["last_render"]["result"] == "ok", 5, what="rejoin render")
    wait_for(lambda: env.backends["a"].address in env.upstream_servers(), 5,
             what="a back in the upstream as a backup")
    assert_primary_in_file(env, "b", "a")

    r = env.vigilctl("failover", "web", "--to", "a", timeout=30)
    assert r.returncode == 0, f"vigilctl failover: rc {r.returncode}: {r.stderr}"
    web = env.cluster()
    assert web["primary"] == "a"
    assert web["epoch"] == 2
    lf = web["last_failover"]
    assert (lf["from"], lf["to"], lf["result"], lf["epoch"]) == ("b", "a", "ok", 2)
    assert_fenced_out(env, "a", "b")
    env.wait_traffic("a", timeout=10)

    ev = env.hook.wait_event("failover", timeout=5, pred=lambda e: e.get("epoch") == 2)
    assert ev["old_primary"] == "b" and ev["new_primary"] == "a"
    calls = wait_for(lambda: len(env.promote_calls()) >= 2 and env.promote_calls(), 5,
                     what="the second promote hook run")
    assert calls[1]["argv"] == ["a"]
    assert calls[1]["env"].get("VIGIL_NEW_PRIMARY") == "a"


def test_failed_check_keeps_upstream_file_and_skips_reload(make_env):
    # No retries: the FAILED state then holds the cluster for the operator.
    env = make_env(extra="retries = 0;")
    # Start-up rendering ran check and (normally) reload; let it finish.
    try:
        wait_for(lambda: env.reload_calls() >= 1, 3, what="start-up reload")
    except AssertionError:
        pass  # a daemon may skip the start-up reload; the counts below still hold
    time.sleep(0.3)
    before = env.upstream_bytes()
    reloads, checks = env.reload_calls(), env.check_calls()

    open(env.path("check.fail"), "w").close()
    env.backends["a"].kill()

    ev = env.hook.wait_event("failover_failed", timeout=15)
    assert ev["cluster"] == "web"
    wait_for(lambda: (env.cluster().get("last_failover") or {}).get("result") == "failed", 5,
             what="status last_failover.result == failed")
    lf = env.cluster()["last_failover"]
    assert lf["from"] == "a" and lf["to"] == "b", lf
    assert lf.get("error"), f"a failed failover should say why: {lf}"

    assert env.check_calls() > checks, "the check command was never run"
    assert env.upstream_bytes() == before, "upstream file changed after a failed check"
    time.sleep(1.0)  # nothing may retry behind our back and clobber it
    assert env.upstream_bytes() == before
    assert env.reload_calls() == reloads, "reload ran although the check failed"
    assert env.hook.of("failover") == []


def test_both_down_no_candidate(env):
    env.backends["b"].kill()
    env.wait_health("b", "down", timeout=10)
    time.sleep(0.3)
    before = env.upstream_bytes()
    reloads = env.reload_calls()

    env.backends["a"].kill()
    ev = env.hook.wait_event("no_candidate", timeout=10)
    assert ev["cluster"] == "web"
    env.wait_health("a", "down", timeout=5)
    time.sleep(1.0)

    web = env.cluster()
    assert web["primary"] == "a"
    assert web["epoch"] == 0
    assert web["state"] == "failover_pending", web["state"]
    assert web["last_failover"] is None
    assert env.hook.of("failover") == []
    assert env.promote_calls() == []
    assert env.upstream_bytes() == before
    assert env.reload_calls() == reloads
