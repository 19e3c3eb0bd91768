"""tests/integration/test_standbys.py — several standbys: who is promoted, who follows.

Three backends a (primary), b and c.  Among equally healthy standbys the
higher `priority` wins (then config order); after the failover the follow
hook points every other standby at the new primary.
"""

import json
import os

import conftest
from helpers import Backend, wait_for


def start_three(make_env, b_priority, c_priority):
    env = make_env(start_vigil=False)
    os.makedirs(env.path("c"))
    env.backends["c"] = conftest._start_on_free_port(
        lambda port: Backend(env.path("c"), "c", port))
    prios = {"a": 100, "b": b_priority, "c": c_priority}
    base_nodes = env.node_list()
    env.node_list = lambda: base_nodes + [("c", env.backends["c"].address, "standby")]
    calls = env.path("follow.calls")
    env.hooks_extra = (f'follow = ["/bin/sh", "-c", "echo \\"$1 $VIGIL_NEW_PRIMARY $VIGIL_EVENT\\"'
                       f' >> {calls}", "follow", "{{node}}"];')
    text = env.config_text()
    for name, prio in prios.items():
        addr = env.backends[name].address
        text = text.replace(f'address = "{addr}";', f'address = "{addr}"; priority = {prio};')
    with open(env.conf, "w") as f:
        f.write(text)
    env.start_daemon()
    return env


def follow_calls(env):
    try:
        with open(env.path("follow.calls")) as f:
            return f.read().split("\n")[:-1]
    except FileNotFoundError:
        return []


def test_highest_priority_is_promoted_and_the_others_follow(make_env):
    env = start_three(make_env, b_priority=50, c_priority=150)
    env.backends["a"].kill()
    env.wait_primary("c", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    assert env.promote_calls()[0]["argv"] == ["c"]
    # b follows c; a is fenced, so it is left alone until it rejoins.
    wait_for(lambda: follow_calls(env) == ["b c follow"], 5, what="b to follow c")
    roles = {n["name"]: n["role"] for n in env.cluster()["nodes"]}
    assert roles == {"a": "fenced", "b": "standby", "c": "primary"}, roles


def test_equal_priority_goes_by_config_order_and_zero_never(make_env):
    env = start_three(make_env, b_priority=0, c_priority=100)
    env.backends["a"].kill()
    # b comes first in the config but has priority 0: never promoted automatically.
    env.wait_primary("c", timeout=10)
    with open(env.path("state", "journal.jsonl")) as f:
        started = [json.loads(line) for line in f if '"failover_started"' in line]
    assert [r["new_primary"] for r in started] == ["c"]
