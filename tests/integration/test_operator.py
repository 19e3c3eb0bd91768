"""tests/integration/test_operator.py — pause/resume and the event history.

A paused cluster keeps probing and reporting but never acts, not even on a
manual failover, and stays paused across a restart (the journal says so).
`vigilctl events` reads the journal through the control API.
"""

import json
import time

from test_journal import restart_vigil


def test_paused_cluster_never_acts_until_resumed(env):
    r = env.vigilctl("pause", "web", "--reason", "maintenance window")
    assert r.returncode == 0, r.stderr
    assert env.cluster()["state"] == "paused"

    env.backends["a"].kill()
    env.wait_health("a", "down", timeout=10)
    time.sleep(1.0)
    assert env.cluster()["primary"] == "a"
    assert env.promote_calls() == []
    assert env.hook.of("failover_started") == []

    r = env.vigilctl("failover", "web", "--to", "b")
    assert r.returncode == 1
    assert "paused" in r.stderr

    restart_vigil(env)
    env.wait_health("a", "down", timeout=10)
    time.sleep(0.5)
    web = env.cluster()
    assert web["state"] == "paused" and web["primary"] == "a"
    assert env.promote_calls() == []

    r = env.vigilctl("resume", "web")
    assert r.returncode == 0, r.stderr
    env.wait_primary("b", timeout=10)
    env.wait_traffic("b", timeout=10)
    assert len(env.promote_calls()) == 1


def test_events_show_the_failover_from_the_journal(env):
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)

    r = env.vigilctl("events", "web")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    started = [ln for ln in lines if " failover_started " in ln]
    assert started and "a->b" in started[0], r.stdout
    assert any(" promoted " in ln for ln in lines), r.stdout

    r = env.vigilctl("events", "web", "--json", "-n", "1000")
    recs = [json.loads(ln) for ln in r.stdout.splitlines()]
    kinds = [x["event"] for x in recs]
    assert kinds.index("failover_started") < kinds.index("promoted") < kinds.index("failover")
    seqs = [x["seq"] for x in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    fo = [x for x in recs if x["event"] == "failover"][0]
    assert fo["epoch"] == 1 and fo["old_primary"] == "a" and fo["new_primary"] == "b"

    r = env.vigilctl("events", "nope")
    assert r.returncode == 1 and "no cluster named 'nope'" in r.stderr


def test_events_api_validates_its_query(env):
    from helpers import unix_request
    for q in ("after=-1", "limit=0", "limit=5000", "bogus=1", "after=abc"):
        code, doc, raw = unix_request(env.sock, "GET", f"/v1/events?{q}")
        assert code == 400, (q, code, raw)
        assert "error" in doc
    code, doc, _ = unix_request(env.sock, "GET", "/v1/events?limit=1")
    assert code == 200 and len(doc["events"]) == 1 and doc["last"] >= 1


def test_failover_dry_run_prints_the_plan_and_changes_nothing(env):
    before = env.upstream_bytes()
    with open(env.path("state", "journal.jsonl")) as f:
        journal_before = f.read()

    r = env.vigilctl("failover", "web", "--to", "b", "--dry-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "a -> b would take epoch 1" in out, out
    lines = [ln.strip() for ln in out.splitlines()[1:]]
    assert lines == [
        "1. [fencing] journal failover_started",
        "2. [promoting] journal promote_started",
        f"3. [promoting] promote on b: {env.path('promote.py')} b",
        "4. [promoting] journal promoted",
        "5. [reconfiguring] reroute nginx:web_backend to b",
        "6. [restoring] journal failover",
    ], lines

    time.sleep(0.5)
    web = env.cluster()
    assert web["primary"] == "a" and web["epoch"] == 0 and web["last_failover"] is None
    assert env.promote_calls() == []
    assert env.upstream_bytes() == before
    with open(env.path("state", "journal.jsonl")) as f:
        assert f.read() == journal_before

    from helpers import unix_request
    code, doc, _ = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                body=json.dumps({"dry_run": "yes"}))
    assert code == 400 and "true or false" in doc["error"]
    # A plan for what would be refused is refused the same way.
    env.backends["b"].kill()
    env.wait_health("b", "down", timeout=10)
    r = env.vigilctl("failover", "web", "--to", "b", "--dry-run")
    assert r.returncode == 1 and "only an up node can be promoted" in r.stderr
