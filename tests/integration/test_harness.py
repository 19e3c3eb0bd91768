"""tests/integration/test_harness.py — the fixtures themselves, without vigil.

If these fail, the machine (nginx, loopback, permissions) is at fault, not
the daemon: read them first when the failover tests go red.
"""

import json
import os
import subprocess
import urllib.request

from helpers import _direct, http_get, live_group_members, parse_upstream


def test_backends_and_balancer_route_by_upstream_file(make_env):
    env = make_env(start_vigil=False)
    a, b = env.backends["a"], env.backends["b"]
    assert http_get(f"http://{a.address}/health") == "a"
    assert http_get(f"http://{b.address}/") == "b"
    env.wait_traffic("a", timeout=5)

    # What vigil will do: rewrite the included file, check, reload by pid file.
    env.lb.write_upstream([(b.address, ""), (a.address, "backup")])
    assert subprocess.run([env.path("check.sh")]).returncode == 0
    assert subprocess.run([env.path("reload.sh")]).returncode == 0
    assert env.check_calls() == 1 and env.reload_calls() == 1
    env.wait_traffic("b", timeout=5)
    assert parse_upstream(env.upstream_text(), "web_backend") == {
        b.address: [], a.address: ["backup"]}


def test_check_wrapper_fails_on_demand(make_env):
    env = make_env(start_vigil=False)
    open(env.path("check.fail"), "w").close()
    r = subprocess.run([env.path("check.sh")], capture_output=True, text=True)
    assert r.returncode == 1 and "forced" in r.stderr


def test_killed_backend_frees_its_port_and_restarts(make_env):
    env = make_env(start_vigil=False)
    a = env.backends["a"]
    pid = a.master_pid()
    a.kill()
    assert http_get(f"http://{a.address}/health", timeout=1) is None
    assert live_group_members(pid) == []  # master and worker
    # nginx itself moves to the backup when the primary refuses connections.
    env.wait_traffic("b", timeout=5)
    a.start()
    assert http_get(f"http://{a.address}/health") == "a"


def test_webhook_receiver_and_promote_recorder(make_env):
    env = make_env(start_vigil=False)
    body = json.dumps({"event": "failover", "cluster": "web"}).encode()
    req = urllib.request.Request(env.hook.url, data=body,
                                 headers={"Content-Type": "application/json"})
    with _direct.open(req, timeout=3) as resp:
        assert resp.status == 200
    assert env.hook.wait_event("failover", timeout=2)["cluster"] == "web"

    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    r = subprocess.run([env.path("promote.py"), "b"],
                       env=dict(clean, VIGIL_CLUSTER="web", VIGIL_NEW_PRIMARY="b"))
    assert r.returncode == 0
    calls = env.promote_calls()
    assert calls == [{"argv": ["b"], "env": {"VIGIL_CLUSTER": "web", "VIGIL_NEW_PRIMARY": "b"}}]


def test_teardown_leaves_no_process(make_env):
    env = make_env(start_vigil=False)
    pgids = [env.lb.master_pid()] + [b.master_pid() for b in env.backends.values()]
    env.close()
    for pgid in pgids:
        assert live_group_members(pgid) == [], f"process group {pgid} survived teardown"
    assert not os.path.exists(env.dir)


def test_the_harness_catches_a_process_that_outlives_its_test(tmpdir_clean):
    """Regression: a test restarted vigil, and teardown never stopped the second daemon."""
    import conftest
    import helpers
    first = len(helpers.STARTED)
    # What ran before this test is another test's business (the autouse check's).
    before = {pid for pid, _ in conftest._build_processes()}
    p = helpers.Proc(["sleep", "30"], os.path.join(tmpdir_clean, "sleep.log"))
    leaked = conftest.kill_leaks(first, before)
    assert leaked == ["sleep 30"]
    assert p.wait(5.0) is not None and not p.group_alive()
    assert conftest.kill_leaks(first, before) == []
