"""tests/integration/test_flap.py — the anti-flap policy on real nginx.

A primary that keeps dying must not make vigil bounce traffic back and
forth: no automatic failover within `cooldown` of the last one (alerted
once as failover_suppressed), and once `max_failovers` happened within
`failover_window` the cluster pauses itself (failover_limit).  The tests
set rejoin_after so that a fenced old primary is readmitted once it is back.
"""

import json
import time
from datetime import datetime

from helpers import wait_for


def journal_times(env, event):
    """Wall-clock times (s) of the journal's records of one event kind."""
    with open(env.path("state", "journal.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return [datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
            for r in recs if r["event"] == event]


def test_no_failover_within_cooldown_then_one_after(make_env):
    env = make_env(extra='cooldown = "4s"; max_failovers = 5; rejoin_after = "100ms";')
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)

    # b dies at once: a is up, but the last failover was under 4 s ago.
    env.backends["b"].kill()
    ev = env.hook.wait_event("failover_suppressed", timeout=10)
    assert ev["old_primary"] == "b" and ev["new_primary"] == "a"
    assert env.cluster()["primary"] == "b"
    assert len(env.promote_calls()) == 1

    # After the cooldown the still-dead primary is failed over, once.
    env.wait_primary("a", timeout=15)
    env.wait_traffic("a", timeout=10)
    assert len(env.promote_calls()) == 2
    assert len(env.hook.of("failover_suppressed")) == 1
    assert len(env.hook.of("failover")) == 2
    first, second = journal_times(env, "failover_started")
    (suppressed,) = journal_times(env, "failover_suppressed")
    assert first < suppressed < first + 4.0
    assert second - first >= 4.0 - 0.01  # cooldown is on the monotonic clock


def test_max_failovers_pauses_the_cluster(make_env):
    env = make_env(extra='cooldown = "10ms"; max_failovers = 1; failover_window = "1h"; '
                         'rejoin_after = "100ms";')
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


def test_automatic_failback_after_the_preferred_node_is_back(make_env):
    env = make_env(extra='cooldown = "100ms"; failback_after = "1500ms"; rejoin_after = "100ms";')
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    (a_up,) = [e for e in env.hook.of("node_up") if e.get("node") == "a"][-1:]
    assert env.cluster()["primary"] == "b"  # not before failback_after

    env.wait_primary("a", timeout=10)
    env.wait_traffic("a", timeout=10)
    fb = env.hook.wait_event("failover", timeout=5, pred=lambda e: e["epoch"] == 2)
    assert fb["old_primary"] == "b" and fb["new_primary"] == "a"
    assert "failback" in fb["reason"]
    (started,) = [t for t in journal_times(env, "failover_started")][1:]
    up = datetime.strptime(a_up["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    assert started - up >= 1.5 - 0.05
    assert len(env.promote_calls()) == 2


def test_failback_is_off_by_default(env):
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    time.sleep(2.0)
    assert env.cluster()["primary"] == "b"
    assert len(env.promote_calls()) == 1


def test_flapping_primary_fails_over_at_most_once_per_cooldown(make_env):
    env = make_env(extra='cooldown = "3s"; max_failovers = 10; rejoin_after = "100ms";')
    end = time.time() + 9
    while time.time() < end:
        # Whoever is primary now dies for a second, then comes back.
        victim = env.backends[env.cluster()["primary"]]
        victim.kill()
        time.sleep(1.0)
        victim.start()
        time.sleep(1.0)
    starts = journal_times(env, "failover_started")
    assert 1 <= len(starts) <= 4, starts
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g >= 3.0 - 0.01 for g in gaps), gaps
    assert len(env.promote_calls()) == len(starts)
    # The cooldown really held a down primary back at least once.
    assert journal_times(env, "failover_suppressed"), "the flapping never met the cooldown"
