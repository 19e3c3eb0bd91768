"""tests/integration/test_haproxy.py — vigil steers a real haproxy live.

Each test runs backends a and b (nginx, see helpers.Backend), an haproxy
2.6 in HTTP mode in front of them (master-worker, foreground) with a stats
socket and a server-state file, and vigil with one haproxy balancer in
socket mode.  haproxy's own config declares `server a` and `server b
backup` without health checks, so only vigil moves traffic: when a dies,
haproxy would keep sending requests to it until vigil sets it to drain.

What must hold: a failover moves traffic with no haproxy reload (the same
worker pid, its uptime still counting); a switchover under a request loop
loses no request; after haproxy reloads, the state vigil set is kept.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import _failed, binary, cfg_str
from helpers import (Backend, Proc, clean_env, free_port, http_get, port_open,
                     unix_request, wait_for)

HAPROXY = shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/haproxy"


def haproxy_cli(sock, cmd, timeout=3.0):
    """One Runtime API command: the answer text, or "" when the socket is not there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode("utf-8", "replace")
                out += chunk
    except OSError:
        return ""


class HAProxy:
    """haproxy -W -db in its own session; reload = SIGUSR2 to the master."""

    def __init__(self, d, port, servers):
        self.dir = d
        self.port = port
        self.sock = os.path.join(d, "haproxy.sock")
        self.state = os.path.join(d, "haproxy.state")
        self.cfg = os.path.join(d, "haproxy.cfg")
        self.proc = None
        lines = "".join(f"    server {name} {addr}{' backup' if backup else ''}\n"
                        for name, addr, backup in servers)
        with open(self.cfg, "w") as f:
            f.write(f"""\
global
    stats socket {self.sock} level admin
    server-state-file {self.state}
defaults
    mode http
    load-server-state-from-file global
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend web
backend web
{lines}""")

    def start(self):
        check = Proc([HAPROXY, "-c", "-f", self.cfg], os.path.join(self.dir, "haproxy-c.log"))
        assert check.wait(30) == 0, check.output()
        self.proc = Proc([HAPROXY, "-W", "-db", "-f", self.cfg],
                         os.path.join(self.dir, "haproxy.log"))
        wait_for(lambda: (port_open(self.port) and self.info("Pid")) or not self.proc.alive(),
                 10, what="haproxy to listen and answer on its stats socket")
        assert self.proc.alive(), self.proc.output()
        # A master still starting up can lose a SIGUSR2: wait until it handles one.
        wait_for(self._catches_usr2, 5, what="haproxy's master to handle SIGUSR2")
        return self

    def _catches_usr2(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) & (1 << (signal.SIGUSR2 - 1))
        return False

    def info(self, field):
        for line in haproxy_cli(self.sock, "show info").splitlines():
            if line.startswith(field + ": "):
                return int(line.split(": ", 1)[1])
        return None

    def servers(self):
        """{name: (admin_state, addr, port)} from `show servers state web`."""
        out = {}
        for line in haproxy_cli(self.sock, "show servers state web").splitlines():
            f = line.split()
            if len(f) > 18 and f[1] == "web":
                out[f[3]] = (int(f[6]), f[4], int(f[18]))
        return out

    def reload(self):
        old = self.info("Pid")
        self.proc.send(signal.SIGUSR2)
        wait_for(lambda: self.info("Pid") not in (None, old), 10,
                 what="haproxy's new worker after a reload")

    def get(self):
        return http_get(f"http://127.0.0.1:{self.port}/", timeout=3)

    def stop(self):
        if self.proc is not None:
            self.proc.stop(timeout=3.0)
            self.proc = None


class HxEnv:
    """Backends a, b; haproxy in front; vigil with a haproxy balancer (socket mode)."""

    def __init__(self, fence=False):
        self.dir = tempfile.mkdtemp(prefix="vigil-hx-it-")
        os.chmod(self.dir, 0o755)  # nginx workers run as nobody
        self.vsock = os.path.join(self.dir, "vigil.sock")
        self.fence = fence
        self.backends = {}
        self.hx = None
        self.vigil = None

    def start(self):
        for name in ("a", "b"):
            os.makedirs(os.path.join(self.dir, name))
            self.backends[name] = Backend(os.path.join(self.dir, name), name,
                                          free_port()).start()
        a, b = self.backends["a"], self.backends["b"]
        self.hx = HAProxy(self.dir, free_port(),
                          [("a", a.address, False), ("b", b.address, True)]).start()
        conf = os.path.join(self.dir, "vigil.conf")
        with open(conf, "w") as f:
            f.write(self.config_text())
        self.vigil = Proc([binary("vigil"), "-c", conf], os.path.join(self.dir, "vigil.log"),
                          env=clean_env())
        wait_for(self._healthy, 15, what="cluster web healthy with both nodes up")
        wait_for(lambda: os.path.exists(self.hx.state), 10,
                 what="vigil's first apply to write the haproxy state file")
        return self

    def config_text(self):
        a, b = self.backends["a"], self.backends["b"]
        hooks = ""
        if self.fence:
            # Fencing stops a's nginx at once: a request still on a would fail.
            cmd = f"kill -TERM $(cat {a.pidfile}) 2>/dev/null; true"
            hooks = f'hooks = {{ fence = ["/bin/sh", "-c", {cfg_str(cmd)}]; }};'
        return f"""\
state_dir = {cfg_str(os.path.join(self.dir, 'state'))};
control = {{ socket = {cfg_str(self.vsock)}; }};
clusters = ( {{
  name = "web";
  nodes = ( {{ name = "a"; address = {cfg_str(a.address)}; role = "primary"; }},
            {{ name = "b"; address = {cfg_str(b.address)}; role = "standby"; }} );
  probes = ( {{ type = "http"; url = "http://{{address}}/health"; expect_status = [200];
               interval = "200ms"; timeout = "150ms"; rise = 2; fall = 3; }} );
  balancers = ( {{ type = "haproxy"; backend = "web"; socket = {cfg_str(self.hx.sock)};
                  state_file = {cfg_str(self.hx.state)}; standby = "backup";
                  timeout = "2s"; }} );
  {hooks}
  drain_timeout = "10s";
}} );
"""

    def status(self):
        if not os.path.exists(self.vsock):
            return None
        try:
            code, doc, _ = unix_request(self.vsock, "GET", "/v1/status", timeout=2.0)
        except OSError:
            return None
        return doc["clusters"][0] if code == 200 else None

    def _healthy(self):
        c = self.status()
        return c and c["state"] == "healthy" and all(n["health"] == "up" for n in c["nodes"])

    def wait_traffic(self, body, timeout=10.0, samples=3):
        streak = [0]

        def ok():
            streak[0] = streak[0] + 1 if self.hx.get() == body else 0
            return streak[0] >= samples
        wait_for(ok, timeout, interval=0.05, what=f"traffic through haproxy to reach {body}")

    def vigilctl(self, *args, timeout=30.0):
        return subprocess.run([binary("vigilctl"), "-s", self.vsock, *args],
                              capture_output=True, text=True, timeout=timeout, env=clean_env())

    def close(self, dump=False):
        problems = []
        if dump:
            for name in ("vigil.log", "haproxy.log"):
                try:
                    with open(os.path.join(self.dir, name)) as f:
                        print(f"----- {name}:\n" + "\n".join(f.read().splitlines()[-120:]))
                except OSError:
                    pass
        if self.vigil is not None:
            rc = self.vigil.stop(timeout=10.0)
            if rc != 0:
                problems.append(f"vigil exited {rc} on SIGTERM")
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if marker in self.vigil.output():
                    problems.append(f"sanitizer report in vigil's log ({marker})")
        if self.hx is not None:
            self.hx.stop()
        for b in self.backends.values():
            b.stop()
        if os.environ.get("VIGIL_KEEP_TMP") == "1":
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


@pytest.fixture
def hx_env(request):
    """hx_env(**kw) -> started HxEnv; everything stopped at teardown."""
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip(f"{HAPROXY} not installed")
    envs = []

    def make(**kw):
        env = HxEnv(**kw)
        envs.append(env)
        return env.start()
    yield make
    problems = []
    for env in reversed(envs):
        problems += env.close(dump=_failed(request))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


class Clients:
    """Threads sending GET / through haproxy back to back."""

    def __init__(self, env, n=4):
        self.env = env
        self.stop = threading.Event()
        self.answers, self.failures = [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]

    def run(self):
        while not self.stop.is_set():
            body = self.env.hx.get()  # None: an error or not a 200
            with self.lock:
                (self.answers if body is not None else self.failures).append(
                    body if body is not None else time.time())

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_failover_moves_traffic_without_reloading_haproxy(hx_env):
    env = hx_env()
    env.wait_traffic("a")
    # b is haproxy's backup behind an active primary: vigil keeps it ready as the fallback.
    assert env.hx.servers()["b"][0] == 0, env.hx.servers()
    master, worker, uptime = env.hx.proc.pid, env.hx.info("Pid"), env.hx.info("Uptime_sec")

    env.backends["a"].kill()
    wait_for(lambda: (env.status() or {}).get("primary") == "b", 10, what="primary b")
    env.wait_traffic("b")
    servers = env.hx.servers()
    assert servers["a"][0] & 0x23 or servers["a"][0] & 0x18, servers  # a out: drain or maint
    assert servers["b"][0] == 0, servers
    # No reload, no restart: the same master and worker, uptime still counting.
    assert env.hx.proc.alive() and env.hx.proc.pid == master
    assert env.hx.info("Pid") == worker
    assert env.hx.info("Uptime_sec") >= uptime
    with open(env.hx.state) as f:
        state = f.read()
    assert state.startswith("1\n# be_id "), state


def test_switchover_loses_no_request_and_survives_a_reload(hx_env):
    env = hx_env(fence=True)
    env.wait_traffic("a")
    worker = env.hx.info("Pid")
    with Clients(env) as clients:
        wait_for(lambda: len(clients.answers) > 50, 10, what="traffic through haproxy")
        r = env.vigilctl("switchover", "web", "--to", "b", timeout=60)
        assert r.returncode == 0, f"switchover: rc {r.returncode}: {r.stderr}"
        assert "switchover of web done" in r.stdout, r.stdout
        n_at_switch = len(clients.answers)
        wait_for(lambda: len(clients.answers) > n_at_switch + 50, 10, what="traffic after")
    assert clients.failures == [], clients.failures[:5]
    assert "a" in clients.answers and clients.answers[-1] == "b", clients.answers[-5:]
    assert http_get(f"http://{env.backends['a'].address}/", timeout=2) is None, \
        "the fence hook should have stopped a"
    assert env.hx.info("Pid") == worker, "haproxy was reloaded by the switchover"
    # The drain ended with a in maintenance (forced maint, admin bit 0x1).
    assert env.hx.servers()["a"][0] & 0x1, env.hx.servers()

    env.hx.reload()
    assert env.hx.info("Pid") != worker
    env.wait_traffic("b", samples=10)
    servers = env.hx.servers()
    assert servers["a"][0] & 0x1 and servers["b"][0] == 0, servers
