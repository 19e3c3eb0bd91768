"""tests/integration/test_switchover.py — a planned switchover loses no request.

`vigilctl switchover` drains the old primary on the balancer (new requests
go to the new node; nginx's old workers finish the requests in flight),
waits for that (the balancer's pid_file), then fences the old primary — here
the fence hook stops a's nginx at once, cutting anything still in flight —
promotes and reroutes.  Client threads send requests through nginx the
whole time, two of them slow 2 s downloads so that a's nginx always has one
in flight; not one may fail (a cut download is a failure: nginx cannot retry
it elsewhere once the answer has started).
"""

import json
import threading
import time

from helpers import Backend, http_get, wait_for


def start_with_fence(make_env):
    env = make_env(start_vigil=False, extra='drain_timeout = "10s";')
    a_pid = env.backends["a"].pidfile
    # Fencing stops a's nginx the hard way: a request still on a would fail.
    env.hooks_extra = f'fence = ["/bin/sh", "-c", "kill -TERM $(cat {a_pid}) 2>/dev/null; true"];'
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    return env


class Clients:
    """Threads sending GET / through the balancer back to back."""

    def __init__(self, env, n=4, slow=2):
        self.base = f"http://127.0.0.1:{env.lb.port}"
        self.stop = threading.Event()
        self.answers, self.failures, self.slow_done = [], [], 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]
        # These keep a 2 s download in flight on the primary at all times.
        self.threads += [threading.Thread(target=self.run_slow, daemon=True) for _ in range(slow)]

    def run(self):
        while not self.stop.is_set():
            body = http_get(self.base + "/", timeout=5)  # None: an error or not a 200
            with self.lock:
                (self.answers if body is not None else self.failures).append(
                    body if body is not None else time.time())

    def run_slow(self):
        while not self.stop.is_set():
            body = http_get(self.base + "/slow", timeout=10)
            with self.lock:
                if body is not None and len(body) == Backend.SLOW_BYTES:
                    self.slow_done += 1
                else:
                    self.failures.append(("slow", len(body) if body else None, time.time()))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def journal_events(env):
    with open(env.path("state", "journal.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_switchover_under_load_loses_no_request(make_env):
    env = start_with_fence(make_env)
    with Clients(env) as clients:
        wait_for(lambda: len(clients.answers) > 50 and clients.slow_done >= 2, 10,
                 what="traffic through nginx")
        r = env.vigilctl("switchover", "web", "--to", "b", timeout=60)
        assert r.returncode == 0, f"switchover: rc {r.returncode}: {r.stderr}"
        assert "switchover of web done" in r.stdout, r.stdout
        n_at_switch = len(clients.answers)
        wait_for(lambda: len(clients.answers) > n_at_switch + 50, 10, what="traffic after")
    assert clients.failures == [], clients.failures[:5]
    assert clients.slow_done >= 4, "slow downloads must have crossed the switchover"
    bodies = clients.answers
    assert "a" in bodies and bodies[-1] == "b", bodies[-5:]
    assert http_get(f"http://{env.backends['a'].address}/", timeout=2) is None, \
        "the fence hook should have stopped a"

    web = env.cluster()
    assert web["primary"] == "b" and web["epoch"] == 1
    assert web["last_failover"]["switchover"] is True
    assert env.node("a")["role"] == "fenced"
    assert env.backends["a"].address not in env.upstream_servers()
    events = [r["event"] for r in journal_events(env)]
    order = ["failover_started", "drained", "fenced", "promote_started", "promoted", "switchover"]
    assert [e for e in events if e in order] == order, events
    assert len(env.promote_calls()) == 1


def test_switchover_dry_run_and_refusals(make_env):
    env = start_with_fence(make_env)
    r = env.vigilctl("switchover", "web", "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = [ln.strip() for ln in r.stdout.splitlines()]
    assert lines[0] == "dry run: switchover of web a -> b would take epoch 1 and:", lines
    assert lines[1] == "1. [draining] journal failover_started"
    assert lines[2] == "2. [draining] route new requests to the new primary"
    assert lines[3] == "3. [draining] wait for the old primary's in-flight requests"
    assert lines[4].startswith("4. [fencing] fence on a:"), lines
    assert env.cluster()["epoch"] == 0 and env.promote_calls() == []

    r = env.vigilctl("pause", "web")
    assert r.returncode == 0, r.stderr
    r = env.vigilctl("switchover", "web")
    assert r.returncode == 1 and "paused" in r.stderr, r.stderr
    r = env.vigilctl("resume", "web")
    assert r.returncode == 0, r.stderr
    r = env.vigilctl("switchover", "web", "--to", "nosuch")
    assert r.returncode == 1 and "no node nosuch" in r.stderr, r.stderr
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)  # an automatic failover, fence included
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    r = env.vigilctl("switchover", "web", "--to", "a")
    assert r.returncode == 1 and "rejoin" in r.stderr, r.stderr
