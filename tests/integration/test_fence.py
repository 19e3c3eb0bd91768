"""tests/integration/test_fence.py — the old primary is fenced before anyone is promoted.

The fence hook gets the old primary as {node}; its failure aborts the
failover (fence_required, the default) or is logged and passed over
(fence_required = false).
"""

import json
import os

from helpers import wait_for


def start_with_fence(make_env, required=True):
    env = make_env(start_vigil=False)
    calls, fail = env.path("fence.calls"), env.path("fence.fail")
    # No placeholder inside the shell text: {node} and {epoch} arrive as $1, $2.
    env.hooks_extra = (
        f'fence = ["/bin/sh", "-c", "echo \\"$1 $2 $VIGIL_EVENT\\" >> {calls}; test ! -e {fail}", '
        f'"fence", "{{node}}", "{{epoch}}"]; fence_required = {"true" if required else "false"};')
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    return env


def fence_calls(env):
    try:
        with open(env.path("fence.calls")) as f:
            return f.read().split("\n")[:-1]
    except FileNotFoundError:
        return []


def journal_events(env):
    with open(env.path("state", "journal.jsonl")) as f:
        return [json.loads(line)["event"] for line in f if line.strip()]


def test_fence_runs_on_old_primary_before_promote(make_env):
    env = start_with_fence(make_env)
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    assert fence_calls(env) == ["a 1 fence"]
    assert len(env.promote_calls()) == 1
    ev = journal_events(env)
    assert ev.index("failover_started") < ev.index("fenced") < ev.index("promoted")


def test_failed_fence_aborts_the_failover(make_env):
    env = start_with_fence(make_env)
    before = env.upstream_bytes()
    open(env.path("fence.fail"), "w").close()
    env.backends["a"].kill()
    ev = env.hook.wait_event("failover_failed", timeout=10)
    assert ev["old_primary"] == "a" and ev["new_primary"] == "b"
    wait_for(lambda: env.cluster()["state"] == "failed", 5, what="cluster failed")
    web = env.cluster()
    assert web["primary"] == "a"
    assert "fence hook failed" in web["last_failover"]["error"]
    assert env.promote_calls() == []
    assert env.upstream_bytes() == before
    assert "promoted" not in journal_events(env)

    # Fencing works again: the operator retries and it goes through.
    os.unlink(env.path("fence.fail"))
    r = env.vigilctl("failover", "web", "--to", "b")
    assert r.returncode == 0, r.stderr
    assert env.cluster()["primary"] == "b"


def test_fence_not_required_promotes_anyway(make_env):
    env = start_with_fence(make_env, required=False)
    open(env.path("fence.fail"), "w").close()
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    assert fence_calls(env) == ["a 1 fence"]
    assert len(env.promote_calls()) == 1
    assert "fence hook failed; fence_required = false" in env.log()
    assert "fenced" not in journal_events(env)
