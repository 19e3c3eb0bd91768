"""tests/integration/test_tilt.py — vigil suspects itself before it suspects everyone.

TILT (self-isolation guard): when every node of every cluster goes down at
once, or vigil's own loop stalls, vigil alerts and takes no action for
tilt_period, then resumes.
"""

import signal
import time

from helpers import wait_for


def test_all_nodes_vanishing_at_once_enters_tilt(make_env):
    env = make_env(top='tilt_period = "3s";')
    env.backends["a"].kill()
    env.backends["b"].kill()
    ev = env.hook.wait_event("tilt", timeout=10)
    assert "every node of every cluster went down at once" in ev["reason"]
    wait_for(lambda: env.cluster()["state"] == "tilt", 5, what="state tilt")
    assert env.vigilctl("failover", "web", "--to", "b").returncode == 1
    env.hook.wait_event("tilt_over", timeout=10)
    assert env.cluster()["state"] != "tilt"


def test_stalled_loop_enters_tilt_and_leaves_it(make_env):
    env = make_env(top='tilt_period = "4s"; tilt_stall = "1s";')
    env.vigil.send(signal.SIGSTOP)
    env.backends["a"].kill()  # dies while vigil is frozen
    time.sleep(2.0)
    env.vigil.send(signal.SIGCONT)
    ev = env.hook.wait_event("tilt", timeout=10)
    assert "event loop stalled" in ev["reason"]
    # The stall is noticed within a tick, long before a's fall count runs out:
    # a is seen down during TILT and not failed over.
    env.wait_health("a", "down", timeout=10)
    web = env.cluster()
    assert web["state"] == "tilt" and web["primary"] == "a"
    assert env.promote_calls() == []
    # After tilt_period vigil acts on what it sees.
    env.hook.wait_event("tilt_over", timeout=10)
    env.wait_primary("b", timeout=10)
    assert len(env.promote_calls()) == 1
