"""tests/integration/test_journal.py — roles survive restarts; a crash never promotes twice.

vigil journals every event (STATE_DIR/journal.jsonl, fsynced before the
action it announces) and replays it at start-up.
"""

import json
import os
import signal
import time

from conftest import PYTHON
from helpers import wait_for, write_script


def journal(env):
    with open(env.path("state", "journal.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def restart_vigil(env, sig=signal.SIGTERM):
    """Stop vigil with sig and start it again on the same config and state."""
    if sig == signal.SIGKILL:
        env.vigil.send(signal.SIGKILL)
        assert env.vigil.wait(5.0) is not None
        env.vigil.stop()
    else:
        assert env.stop_vigil(sig=sig) == 0
    env.restart_daemon()


def test_restart_keeps_the_promoted_primary(env):
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)

    restart_vigil(env)
    # a is up but fenced, across the restart too: b has no standby to hand over to.
    wait_for(lambda: env.cluster()["state"] == "degraded", 10, what="degraded after restart")
    web = env.cluster()
    assert web["primary"] == "b", "a restart must not undo a failover"
    assert web["epoch"] == 1
    assert env.node("a")["role"] == "fenced"
    servers = env.upstream_servers()
    assert servers[env.backends["b"].address] == []
    assert env.backends["a"].address not in servers
    env.wait_traffic("b", timeout=10)
    assert len(env.promote_calls()) == 1

    events = [(r["event"], r["epoch"]) for r in journal(env) if r["cluster"] == "web"]
    assert ("failover_started", 1) in events and ("promoted", 1) in events
    assert events.index(("failover_started", 1)) < events.index(("promoted", 1))


def test_kill9_during_promote_hook_never_promotes_twice(env):
    # A promote hook that records its call and then takes its time.
    write_script(env.path("promote.py"), f"""#!{PYTHON}
import json, os, sys, time
rec = {{"argv": sys.argv[1:],
        "env": {{k: v for k, v in os.environ.items() if k.startswith("VIGIL_")}}}}
with open({env.path('promote.calls')!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
time.sleep(3)
""")
    env.backends["a"].kill()
    wait_for(lambda: len(env.promote_calls()) == 1, 10, what="the promote hook to start")
    restart_vigil(env, sig=signal.SIGKILL)

    # The restart rolls the failover forward from where the journal says it
    # stopped (promote_started): reroute, never a second promote.
    ev = env.hook.wait_event("failover_resumed", timeout=10)
    assert ev["new_primary"] == "b" and ev["epoch"] == 1
    done = env.hook.wait_event("failover", timeout=10)
    assert done["epoch"] == 1 and done["new_primary"] == "b"
    web = env.cluster()
    assert web["primary"] == "b" and web["epoch"] == 1
    assert web["last_failover"]["result"] == "ok"
    env.wait_traffic("b", timeout=10)
    time.sleep(3.5)  # the first hook finishes; a second run would show up by now
    calls = env.promote_calls()
    assert [c["env"]["VIGIL_EPOCH"] for c in calls] == ["1"], calls
    assert env.cluster()["epoch"] == 1
    events = [(r["event"], r["epoch"]) for r in journal(env) if r["cluster"] == "web"]
    assert events.count(("failover_started", 1)) == 1
    assert events.count(("promote_started", 1)) == 1
    assert ("failover_started", 2) not in events


def test_torn_journal_tail_is_reported_and_tolerated(env):
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    assert env.stop_vigil() == 0
    with open(env.path("state", "journal.jsonl"), "a") as f:
        f.write('{"cluster":"web","event":"failover_sta')
    env.restart_daemon()
    assert env.cluster()["primary"] == "b"
    assert "last record was torn" in env.log()


def test_journal_rotates_and_a_restart_recovers_from_the_checkpoint(make_env):
    env = make_env(start_vigil=False, top="journal_max_mb = 1;")
    os.makedirs(env.path("state"), mode=0o700)
    filler = json.dumps({"ts": "2026-11-25T04:00:00.000Z", "cluster": "other",
                         "event": "node_up", "node": "x", "reason": "padding" * 20})
    with open(env.path("state", "journal.jsonl"), "w") as f:
        for rec in ({"cluster": "web", "event": "failover_started", "epoch": 3,
                     "old_primary": "a", "new_primary": "b"},
                    {"cluster": "web", "event": "promoted", "epoch": 3,
                     "old_primary": "a", "new_primary": "b"},
                    {"cluster": "web", "event": "failover", "epoch": 3},
                    {"cluster": "web", "event": "rejoined", "node": "a", "epoch": 3}):
            f.write(json.dumps(rec) + "\n")
        n = 0
        while f.tell() < (1 << 20) + 4096:
            f.write(filler + "\n")
            n += 1
    env.start_daemon()
    wait_for(lambda: os.path.exists(env.path("state", "journal.jsonl.1")), 5,
             what="the journal to rotate")
    assert os.path.getsize(env.path("state", "journal.jsonl")) < 64 * 1024
    head = journal(env)
    assert head[0]["event"] == "journal_rotated" and head[0]["seq_base"] >= n + 4
    cp = [r for r in head if r["event"] == "checkpoint"]
    assert len(cp) == 1 and cp[0]["primary"] == "b" and cp[0]["epoch"] == 3, cp
    # vigilctl events numbers on across the rotation.
    r = env.vigilctl("events", "web", "--json", "-n", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["seq"] > n + 4

    restart_vigil(env)
    web = env.cluster()
    assert web["primary"] == "b" and web["epoch"] == 3, web
    assert env.node("a")["role"] == "standby"
