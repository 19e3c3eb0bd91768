"""tests/integration/conftest.py — one real vigil deployment per test.

A VigilEnv is a temp dir holding two backend nginx servers ("a" and "b",
each answering its name on / and /health), an nginx load balancer whose
upstream file vigil owns, a webhook receiver, recording wrappers for the
balancer's check and reload commands and for the promote hook, and vigil
itself.  The `make_env` fixture builds them and always tears everything
down (SIGTERM, then SIGKILL of each process group), even when a test fails;
on failure it prints vigil's log and what the wrappers recorded first.

VIGIL_BUILD names the build dir holding vigil and vigilctl (default:
build/ at the top of the source tree).  VIGIL_KEEP_TMP=1 keeps the temp dirs.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import (Backend, Balancer, Proc, WebhookReceiver, clean_env, count_lines,  # noqa: E402
                     parse_upstream, read_jsonl, unix_request, wait_for, write_script)

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"


def build_dir():
    return os.path.abspath(os.environ.get("VIGIL_BUILD") or os.path.join(SRCDIR, "build"))


def binary(name):
    path = os.path.join(build_dir(), name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not built (set VIGIL_BUILD to the build dir)", pytrace=False)
    return path


def cfg_str(s):
    return json.dumps(s)  # a JSON string literal is a valid libconfig string here


def cfg_list(items):
    return "[" + ", ".join(cfg_str(x) for x in items) + "]"


def render_config(d, nodes, balancers, promote=None, alerts=(), interval="200ms",
                  timeout="150ms", rise=2, fall=3, extra="", probes=None, hooks_extra="",
                  top=""):
    """libconfig text for one cluster "web".

    nodes: [(name, address, role)]; balancers: [dict with file, check,
    reload, standby]; promote: argv list or None; alerts: webhook URLs;
    extra: more cluster-level settings, e.g. 'cooldown = "3s";';
    probes: the probes list's text, replacing the default http probe;
    hooks_extra: more settings inside the hooks group (e.g. a fence hook);
    top: more top-level settings (e.g. tilt_period).
    """
    node_txt = ",\n              ".join(
        f"{{ name = {cfg_str(n)}; address = {cfg_str(a)}; role = {cfg_str(r)}; }}"
        for n, a, r in nodes)
    bal_txt = ",\n                  ".join(
        f"{{ type = \"nginx\"; upstream = \"web_backend\"; file = {cfg_str(b['file'])};\n"
        f"                    check = {cfg_list(b['check'])};\n"
        f"                    reload = {cfg_list(b['reload'])}; standby = {cfg_str(b.get('standby', 'backup'))};\n"
        f"                    {('pid_file = ' + cfg_str(b['pid_file']) + ';') if b.get('pid_file') else ''} }}"
        for b in balancers)
    hooks = (f"hooks = {{ promote = {cfg_list(promote)}; {hooks_extra} }};"
             if promote or hooks_extra else "")
    alert_txt = ", ".join(f"{{ type = \"webhook\"; url = {cfg_str(u)}; }}" for u in alerts)
    if probes is None:
        probes = (f'{{ type = "http"; url = "http://{{address}}/health"; expect_status = [200];\n'
                  f'               interval = "{interval}"; timeout = "{timeout}"; rise = {rise}; '
                  f'fall = {fall}; }}')
    return f"""\
state_dir = {cfg_str(os.path.join(d, 'state'))};
{top}
control = {{ socket = {cfg_str(os.path.join(d, 'vigil.sock'))}; }};
clusters = ( {{
  name = "web";
  nodes = ( {node_txt} );
  probes = ( {probes} );
  balancers = ( {bal_txt} );
  {hooks}
  alerts = ( {alert_txt} );
  {extra}
}} );
"""


class VigilEnv:
    """A whole deployment in one temp dir; see the module comment."""

    def __init__(self, standby="backup", log_format=None, start_vigil=True, extra="",
                 probes=None, hooks_extra="", top=""):
        self.hooks_extra = hooks_extra
        self.top = top
        self.standby = standby
        self.extra = extra
        self.probes = probes
        self.log_format = log_format
        self.start_vigil = start_vigil
        self.dir = tempfile.mkdtemp(prefix="vigil-it-")
        # nginx workers run as nobody and must traverse the dir.
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "vigil.sock")
        self.conf = os.path.join(self.dir, "vigil.conf")
        self.backends = {}
        self.lb = None
        self.hook = None
        self.vigil = None
        self.vigil_rc = None
        self.vigil_log = os.path.join(self.dir, "vigil.log")
        self.closed = False

    # ---- set-up -------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self):
        for name in ("a", "b"):
            os.makedirs(self.path(name))
            self.backends[name] = _start_on_free_port(
                lambda port, name=name: Backend(self.path(name), name, port))
        self.hook = WebhookReceiver()
        os.makedirs(self.path("lb"))
        a, b = self.backends["a"], self.backends["b"]

        def balancer(port):
            lb = Balancer(self.path("lb"), port, "web_backend", self.path("lb", "upstream.conf"))
            lb.write_upstream([(a.address, ""), (b.address, "backup")])
            return lb
        self.lb = _start_on_free_port(balancer)
        self._write_wrappers()
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        if self.start_vigil:
            self.start_daemon()
        return self

    def _write_wrappers(self):
        """Check/reload wrappers that log each call; check fails once check.fail exists."""
        lb = self.lb
        write_script(self.path("check.sh"), f"""#!/bin/sh
echo "check $*" >> {self.path('check.calls')}
if [ -e {self.path('check.fail')} ]; then
    echo "check failed: forced by the test" >&2
    exit 1
fi
exec {' '.join(lb.check_argv())}
""")
        write_script(self.path("reload.sh"), f"""#!/bin/sh
echo "reload $*" >> {self.path('reload.calls')}
exec {' '.join(lb.reload_argv())}
""")
        write_script(self.path("promote.py"), f"""#!{PYTHON}
import json, os, sys
rec = {{"argv": sys.argv[1:],
        "env": {{k: v for k, v in os.environ.items() if k.startswith("VIGIL_")}}}}
with open({self.path('promote.calls')!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
""")

    def node_list(self):
        return [("a", self.backends["a"].address, "primary"),
                ("b", self.backends["b"].address, "standby")]

    def balancer_conf(self):
        return {"file": self.lb.upstream_file, "check": [self.path("check.sh")],
                "reload": [self.path("reload.sh")], "standby": self.standby,
                "pid_file": self.lb.pidfile}

    def config_text(self, **kw):
        return render_config(self.dir, self.node_list(), [self.balancer_conf()],
                             promote=[self.path("promote.py"), "{node}"],
                             alerts=[self.hook.url], extra=self.extra,
                             probes=self.probes(self) if self.probes else None,
                             hooks_extra=self.hooks_extra, top=self.top, **kw)

    def start_daemon(self, timeout=15.0, wrap=()):
        """Start vigil (wrap: a command that execs it, e.g. prlimit ... --)."""
        argv = list(wrap) + [binary("vigil"), "-c", self.conf]
        # A daemon started again after stop_vigil() is stopped at teardown too.
        self.vigil_rc = None
        if self.log_format:
            argv += ["--log-format", self.log_format]
        self.vigil = Proc(argv, self.vigil_log, env=clean_env())
        wait_for(lambda: self._status_or_none() is not None or not self.vigil.alive(),
                 timeout, what="vigil's control socket to answer /v1/status")
        assert self.vigil.alive(), f"vigil exited at start-up:\n{self.vigil.output()}"
        wait_for(self._healthy, timeout, what="cluster web healthy with both nodes up")
        wait_for(lambda: "written by the test harness" not in self.upstream_text(),
                 timeout, what="vigil to render the upstream file at start-up")

    def restart_daemon(self, timeout=15.0):
        """Start vigil again on the same config and state (after stop_vigil or a kill);
        wait only until it answers: a restarted cluster need not be healthy."""
        self.vigil_rc = None
        self.vigil = Proc([binary("vigil"), "-c", self.conf], self.vigil_log, env=clean_env())
        wait_for(lambda: self._status_or_none() is not None or not self.vigil.alive(), timeout,
                 what="the restarted vigil to answer")
        assert self.vigil.alive(), self.vigil.output()

    # ---- observing ----------------------------------------------------
    def _status_or_none(self):
        if not os.path.exists(self.sock):
            return None
        try:
            code, doc, _ = unix_request(self.sock, "GET", "/v1/status", timeout=2.0)
        except OSError:
            return None
        return doc if code == 200 else None

    def status(self):
        code, doc, raw = unix_request(self.sock, "GET", "/v1/status")
        assert code == 200, f"/v1/status answered {code}: {raw!r}"
        return doc

    def cluster(self, name="web"):
        for c in self.status()["clusters"]:
            if c["name"] == name:
                return c
        raise AssertionError(f"cluster {name} not in status")

    def node(self, name):
        for n in self.cluster()["nodes"]:
            if n["name"] == name:
                return n
        raise AssertionError(f"node {name} not in status")

    def _healthy(self):
        doc = self._status_or_none()
        if not doc:
            return False
        c = doc["clusters"][0]
        return c["state"] == "healthy" and all(n["health"] == "up" for n in c["nodes"])

    def wait_health(self, node, health, timeout=10.0):
        wait_for(lambda: self.node(node)["health"] == health, timeout,
                 what=f"node {node} health {health}")

    def wait_primary(self, node, timeout=10.0):
        wait_for(lambda: self.cluster()["primary"] == node, timeout,
                 what=f"primary {node}")

    def traffic(self):
        return self.lb.get("/")

    def wait_traffic(self, expect, timeout=10.0, samples=3):
        """Wait until `samples` requests in a row through the LB answer expect."""
        streak = [0]

        def ok():
            streak[0] = streak[0] + 1 if self.traffic() == expect else 0
            return streak[0] >= samples
        wait_for(ok, timeout, interval=0.1, what=f"traffic through the LB to reach {expect}")

    def upstream_text(self):
        try:
            with open(self.lb.upstream_file) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def upstream_bytes(self):
        with open(self.lb.upstream_file, "rb") as f:
            return f.read()

    def upstream_servers(self):
        return parse_upstream(self.upstream_text(), "web_backend")

    def promote_calls(self):
        return read_jsonl(self.path("promote.calls"))

    def reload_calls(self):
        return count_lines(self.path("reload.calls"))

    def check_calls(self):
        return count_lines(self.path("check.calls"))

    def log(self):
        return self.vigil.output() if self.vigil else ""

    def vigilctl(self, *args, env=None, timeout=30.0, socket=True):
        argv = [binary("vigilctl")] + (["-s", self.sock] if socket else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=clean_env(env))

    # ---- tear-down ----------------------------------------------------
    def stop_vigil(self, sig=signal.SIGTERM, timeout=10.0):
        if self.vigil is not None and self.vigil_rc is None:
            self.vigil_rc = self.vigil.stop(timeout=timeout, sig=sig)
        return self.vigil_rc

    def dump(self):
        print(f"===== vigil env {self.dir}")
        for label, fn in (("upstream file", self.upstream_text),
                          ("alerts", lambda: "\n".join(json.dumps(e) for e in self.hook.events)
                           if self.hook else ""),
                          ("promote calls", lambda: "\n".join(map(json.dumps, self.promote_calls()))),
                          ("check calls", lambda: _read(self.path("check.calls"))),
                          ("reload calls", lambda: _read(self.path("reload.calls"))),
                          ("vigil log (last 150 lines)",
                           lambda: "\n".join(self.log().splitlines()[-150:]))):
            try:
                print(f"----- {label}:\n{fn()}")
            except Exception as e:  # a dump must never mask the real failure
                print(f"----- {label}: <unavailable: {e}>")

    def close(self, dump=False):
        """Stop and remove everything; return the daemon's problems seen on the way.

        vigil must exit 0 on SIGTERM and its log must hold no sanitizer
        report (with VIGIL_BUILD pointing at an ASan build, that catches
        memory errors in real runs).
        """
        if self.closed:
            return []
        self.closed = True
        if dump:
            self.dump()
        problems = []
        if self.vigil is not None:
            rc = self.stop_vigil()
            if rc != 0:
                problems.append(f"vigil exited {rc} on SIGTERM")
            log = self.log()
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if marker in log:
                    at = log.index(marker)
                    problems.append(f"sanitizer report in vigil's log:\n{log[max(0, at - 200):at + 3000]}")
                    break
        if self.lb is not None:
            self.lb.stop()
        for b in self.backends.values():
            b.stop()
        if self.hook is not None:
            self.hook.close()
        if os.environ.get("VIGIL_KEEP_TMP") == "1":
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def _start_on_free_port(make, tries=3):
    """make(port).start() on a fresh free port, again if another process took it."""
    for attempt in range(tries):
        server = make(helpers.free_port())
        try:
            return server.start()
        except (RuntimeError, AssertionError):
            if attempt == tries - 1:
                raise


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return "<none>"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    return any(getattr(getattr(request.node, "rep_" + w, None), "failed", False)
               for w in ("setup", "call"))


def _build_processes():
    """(pid, exe) of processes running a binary of the build under test."""
    found = []
    build = build_dir() + os.sep
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith(build):
            found.append((int(pid), exe))
    return found


def kill_leaks(first, before):
    """Kill what outlived a test: Procs from STARTED[first:] whose group lives on, and
    processes of the build's binaries not in `before`.  Returns what was killed."""
    leaked = []
    for proc in helpers.STARTED[first:]:
        if proc.group_alive():
            leaked.append(" ".join(proc.argv))
            proc.kill_group(signal.SIGKILL)
            proc.wait(5.0)
    for pid, exe in _build_processes():
        if pid not in before:
            leaked.append(f"pid {pid}: {exe}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return leaked


@pytest.fixture(autouse=True)
def no_process_outlives_its_test():
    """Fail a test whose processes (by group, or by the build's binaries) outlive it."""
    first = len(helpers.STARTED)
    before = {pid for pid, _ in _build_processes()}
    yield
    leaked = kill_leaks(first, before)
    if leaked:
        pytest.fail("processes outlived the test:\n  " + "\n  ".join(leaked), pytrace=False)


@pytest.fixture
def make_env(request):
    """make_env(**kw) -> started VigilEnv; everything stopped at teardown."""
    envs = []

    def make(**kw):
        env = VigilEnv(**kw)
        envs.append(env)
        env.start()  # on failure, teardown below dumps and cleans up
        return env
    yield make
    problems = []
    for env in reversed(envs):
        problems += env.close(dump=_failed(request))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def env(make_env):
    return make_env()


@pytest.fixture
def tmpdir_clean():
    """A temp dir removed at teardown (for config-only tests)."""
    d = tempfile.mkdtemp(prefix="vigil-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
