"""tests/integration/test_flap.py — the anti-flap policy on real nginx.

A primary that keeps dying must not make vigil bounce traffic back and
forth: no automatic failover within `cooldown` of the last one (alerted
once as failover_suppressed), and once `max_failovers` happened within
`failover_window` the cluster pauses itself (failover_limit).
"""

import time

from helpers import wait_for


def test_no_failover_within_cooldown_then_one_after(make_env):
    env = make_env(extra='cooldown = "4s"; max_failovers = 5;')
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    t_first = time.monotonic()
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)

    # b dies at once: a is up, but the last failover was under 4 s ago.
    env.backends["b"].kill()
    ev = env.hook.wait_event("failover_suppressed", timeout=10)
    assert ev["old_primary"] == "b" and ev["new_primary"] == "a"
    assert time.monotonic() - t_first < 4.0
    assert env.cluster()["primary"] == "b"
    assert len(env.promote_calls()) == 1

    # After the cooldown the still-dead primary is failed over, once.
    env.wait_primary("a", timeout=10)
    assert time.monotonic() - t_first >= 4.0
    env.wait_traffic("a", timeout=10)
    assert len(env.promote_calls()) == 2
    assert len(env.hook.of("failover_suppressed")) == 1
    assert len(env.hook.of("failover")) == 2


def test_max_failovers_pauses_the_cluster(make_env):
    env = make_env(extra='cooldown = "10ms"; max_failovers = 1; failover_window = "1h";')
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)

    env.backends["b"].kill()
    ev = env.hook.wait_event("failover_limit", timeout=10)
    assert ev["old_primary"] == "b"
    wait_for(lambda: env.cluster()["state"] == "paused", 5, what="cluster paused")
    time.sleep(1.0)
    assert env.cluster()["primary"] == "b"
    assert len(env.promote_calls()) == 1

    r = env.vigilctl("failover", "web", "--to", "a")
    assert r.returncode == 1 and "paused" in r.stderr

    # The operator looks, then resumes: that acknowledges the history, and
    # vigil fails the still-dead primary over.
    r = env.vigilctl("resume", "web")
    assert r.returncode == 0, r.stderr
    env.wait_primary("a", timeout=10)
    env.wait_traffic("a", timeout=10)
    assert len(env.promote_calls()) == 2
