"""tests/integration/test_quorum.py — observers vote; one broken path never fails over.

Three observers per node: http /health, tcp, and an exec probe standing in
for an independent vantage point whose path the test can break on its own
(its check fails while DIR/broken-NODE exists).  The default quorum is a
majority (2 of 3).
"""

import time


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
