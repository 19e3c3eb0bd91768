"""tests/integration/test_balancers.py — balancers of several kinds in one cluster.

The same backends sit behind the harness's nginx and behind a haproxy steered
through its stats socket; both are vigil's balancers.  A failover moves both;
when one of them fails (nginx's check is made to fail) the failover ends
FAILED and says which balancer failed and which one did move.
"""

import os

import helpers
from helpers import wait_for
from test_haproxy import HAProxy


def start_both(make_env, extra=""):
    env = make_env(start_vigil=False, extra=extra)
    a, b = env.backends["a"], env.backends["b"]
    os.makedirs(env.path("ha"))
    ha = HAProxy(env.path("ha"), helpers.free_port(),
                 [("a", a.address, False), ("b", b.address, True)]).start()
    env.haproxy = ha
    text = env.config_text().replace(
        "balancers = ( ",
        f'balancers = ( {{ type = "haproxy"; backend = "web"; socket = "{ha.sock}";'
        f' state_file = "{ha.state}"; standby = "backup"; }},\n                  ', 1)
    with open(env.conf, "w") as f:
        f.write(text)
    try:
        env.start_daemon()
    except BaseException:
        ha.stop()
        raise
    return env


def test_one_failover_moves_both_kinds(make_env):
    env = start_both(make_env)
    try:
        pid = env.haproxy.info("Pid")
        env.backends["a"].kill()
        env.wait_primary("b", timeout=10)
        env.wait_traffic("b", timeout=10)
        wait_for(lambda: env.haproxy.get() == "b", 5, what="haproxy serving b")
        assert env.haproxy.info("Pid") == pid, "haproxy must not be reloaded"
        assert env.cluster()["last_failover"]["result"] == "ok"
    finally:
        env.haproxy.stop()


def test_one_failing_balancer_fails_the_failover_and_names_the_others(make_env):
    env = start_both(make_env, extra="retries = 0;")
    try:
        open(env.path("check.fail"), "w").close()
        env.backends["a"].kill()
        env.hook.wait_event("failover_failed", timeout=15)
        wait_for(lambda: env.cluster()["state"] == "failed", 5, what="state failed")
        err = env.cluster()["last_failover"]["error"]
        assert "nginx:web_backend: " in err and "check failed" in err, err
        assert "haproxy:web: ok" in err, err
        # haproxy did move; nginx kept its last good file.
        wait_for(lambda: env.haproxy.get() == "b", 5, what="haproxy serving b")
    finally:
        env.haproxy.stop()
