"""tests/integration/test_quorum.py — observers vote; one broken path never fails over.

Three observers per node: http /health, tcp, and an exec probe standing in
for an independent vantage point whose path the test can break on its own
(its check fails while DIR/broken-NODE exists).  The default quorum is a
majority (2 of 3).
"""

import os
import time

from helpers import wait_for


def three_observers(env):
    common = 'interval = "200ms"; timeout = "150ms"; rise = 2; fall = 3;'
    return f"""{{ type = "http"; url = "http://{{address}}/health"; {common} }},
             {{ type = "tcp"; {common} }},
             {{ type = "exec"; command = ["/usr/bin/test", "!", "-e", "{env.path('broken-')}{{node}}"]; {common} }}"""


def observer_health(env, node):
    return [o["health"] for o in env.node(node)["observers"]]


def test_one_broken_observer_path_does_not_fail_over(make_env):
    env = make_env(probes=three_observers)
    open(env.path("broken-a"), "w").close()
    time.sleep(1.5)  # well past fall x interval for the broken observer

    a = env.node("a")
    assert observer_health(env, "a") == ["up", "up", "down"], a
    assert a["sdown"] is True and a["health"] == "up"
    assert env.cluster()["primary"] == "a"
    assert env.cluster()["state"] == "primary_sdown"
    assert env.promote_calls() == []
    assert env.hook.of("failover_started") == []
    assert env.traffic() == "a"

    # Now the node itself dies: the other two observers agree, quorum reached.
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.wait_traffic("b", timeout=10)
    assert env.node("a")["health"] == "down"
    assert len(env.promote_calls()) == 1


def test_quorum_of_one_acts_on_any_observer(make_env):
    env = make_env(probes=three_observers, extra="quorum = 1;")
    open(env.path("broken-a"), "w").close()
    env.wait_primary("b", timeout=10)
    assert env.node("a")["observers"][2]["health"] == "down"


def via_observers(env):
    """http + tcp from vigil, and "can the via node (b) reach this node?" as an exec probe."""
    common = 'interval = "200ms"; timeout = "150ms"; rise = 2; fall = 3;'
    cut = env.path("cut-")
    return f"""{{ type = "http"; url = "http://{{address}}/health"; {common} }},
             {{ type = "tcp"; {common} }},
             {{ type = "exec"; via = "b"; {common}
                command = ["/usr/bin/test", "!", "-e", "{cut}{{via_node}}-{{node}}"]; }}"""


def test_via_observer_votes_only_while_its_vantage_node_is_up(make_env):
    env = make_env(probes=via_observers)
    # Healthy needs only 2 of 3 votes: let the third observer rise too.
    wait_for(lambda: env.node("a")["observers"][2]["vote"] == "up", 5, what="b's view of a up")
    a, b = env.node("a"), env.node("b")
    assert a["observers"][2]["via"] == "b", a
    # b is never observed via itself: that observer never votes.
    assert b["observers"][2]["vote"] == "unknown", b

    # The path b -> a breaks: one observer of a is down, not a quorum.
    open(env.path("cut-b-a"), "w").close()
    wait_for(lambda: observer_health(env, "a") == ["up", "up", "down"], 5,
             what="b's view of a down")
    assert env.cluster()["state"] == "primary_sdown"

    # b dies: its view of a no longer counts (abstains), a stays primary.
    env.backends["b"].kill()
    env.wait_health("b", "down", timeout=10)
    a = env.node("a")
    assert a["observers"][2]["vote"] == "unknown" and a["health"] == "up", a
    assert a["sdown"] is False
    assert env.cluster()["primary"] == "a" and env.promote_calls() == []


def lag_observers(env):
    common = 'interval = "200ms"; timeout = "150ms"; rise = 2; fall = 3;'
    lag = env.path("lag-")
    return f"""{{ type = "http"; url = "http://{{address}}/health"; {common} }},
             {{ type = "exec"; lag = true; command = ["/bin/cat", "{lag}{{node}}"]; {common} }}"""


def set_lag(env, node, lag):
    with open(env.path(f"lag-{node}") + ".tmp", "w") as f:
        f.write(f"{lag}\n")
    os.replace(env.path(f"lag-{node}") + ".tmp", env.path(f"lag-{node}"))


def start_with_lag(env, b_lag):
    """Start healthy (both lags 0), then let b fall behind."""
    set_lag(env, "a", 0)
    set_lag(env, "b", 0)
    env.start_daemon()
    set_lag(env, "b", b_lag)
    wait_for(lambda: env.node("b")["lag"] == b_lag, 5, what=f"b's lag {b_lag}")
    wait_for(lambda: env.cluster()["state"] == "degraded", 5, what="degraded: b lags")


def test_max_lag_refuses_a_lagging_standby_unless_forced(make_env):
    env = make_env(start_vigil=False, probes=lag_observers, extra="max_lag = 100; quorum = 1;")
    start_with_lag(env, b_lag=500)
    assert env.node("b")["lag"] == 500 and env.node("a")["lag"] == 0

    env.backends["a"].kill()
    ev = env.hook.wait_event("no_candidate", timeout=10)
    assert ev["old_primary"] == "a"
    assert env.cluster()["state"] == "failover_pending"
    r = env.vigilctl("failover", "web", "--to", "b")
    assert r.returncode == 1 and "lag 500 is over max_lag 100" in r.stderr, r.stderr
    assert env.promote_calls() == []

    r = env.vigilctl("failover", "web", "--to", "b", "--force")
    assert r.returncode == 0, r.stderr
    assert env.cluster()["primary"] == "b"
    assert len(env.promote_calls()) == 1


def test_a_lag_catching_up_unblocks_the_failover(make_env):
    env = make_env(start_vigil=False, probes=lag_observers, extra="max_lag = 100; quorum = 1;")
    start_with_lag(env, b_lag=500)
    env.backends["a"].kill()
    env.hook.wait_event("no_candidate", timeout=10)
    set_lag(env, "b", 20)
    env.wait_primary("b", timeout=10)
    assert len(env.promote_calls()) == 1
